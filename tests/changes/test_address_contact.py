"""Address and contact changes (issue 13, R-6.2): asked, checked, applied by the order desk in the hour."""

from __future__ import annotations

import pytest

from application.changes import apply_requested_change, ask_for_change
from application.review import ReviewSetup
from application.services import Actor, perform_action
from domain.errors import ConcurrentModification, NotPermitted
from domain.finance import OwedReason
from domain.intake.pricing import quote
from domain.orders.change_record import ChangeStatus, Consent
from domain.orders.changes import ChangeAlreadyDecided, ChangeRefused, NothingChanged
from domain.orders.model import StageClock
from domain.orders.requests import ChangeRefusal, OrderRequestKind
from domain.orders.status import Action, OrderStatus, Role, Service
from domain.payment import amount_due
from tests.changes.conftest import (
    CARE,
    CUSTOMER,
    CUSTOMER_ID,
    DESK,
    DESK_CHAT,
    OTHER_CUSTOMER_ID,
    SLA,
    WAREHOUSE_CHAT,
    WAREHOUSE_ID,
    Uows,
    make_order,
)
from tests.fakes import FakeDatabase
from tests.fixtures import load, store

PARIS = {"country": "FR", "city": "Paris", "street": "1 Rue de Rivoli", "postcode": "75001", "area": ""}
TOKYO = {"country": "JP", "city": "Tokyo", "street": "1-1 Marunouchi", "postcode": "100-0005", "area": ""}
WAREHOUSE = Actor(WAREHOUSE_ID, frozenset({Role.WAREHOUSE}))


def running(order_clocks: list[StageClock], stage: str) -> bool:
    """Whether a clock of the stage runs."""
    return any(clock.stage == stage and clock.running for clock in order_clocks)


async def test_an_address_change_waits_for_the_desk_and_is_applied_within_the_hour(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.PICKED))

    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )

    waiting = await load(new_uow, order.id)
    assert waiting.address.city == "Berlin" and record.status is ChangeStatus.PENDING
    assert running(waiting.clocks, "modification")
    card = [m for m in database.outbox_of(DESK_CHAT) if "Apply" in str(m.params.get("reply_markup"))]
    assert card and "Paris" in card[-1].params["text"]

    outcome = await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    applied = await load(new_uow, order.id)
    assert (applied.address.city, applied.address.country, applied.status) == (
        "Paris",
        "FR",
        OrderStatus.PICKED,
    )
    assert not running(applied.clocks, "modification")
    (clock,) = [clock for clock in applied.clocks if clock.stage == "modification"]
    assert clock.met is True
    (done,) = applied.changes
    assert (done.status, done.decided_by, done.old["city"], done.new["city"], done.consent) == (
        ChangeStatus.APPLIED,
        DESK.user_id,
        "Berlin",
        "Paris",
        Consent.IN_CHAT,
    )
    assert outcome.record.number == record.number
    # The trail: who asked and who applied, old and new values.
    trail = [
        (line.action, line.actor_id, line.note) for line in applied.audit if line.action.startswith("change_")
    ]
    berlin = "DE, Berlin, Unter den Linden 1, 10117"
    paris = "FR, Paris, 1 Rue de Rivoli, 75001"
    assert trail == [
        ("change_address_requested", CUSTOMER_ID, f"{berlin} → {paris}"),
        ("change_address_applied", DESK.user_id, f"{berlin} → {paris}"),
    ]
    # The warehouse has the updated card; the customer is told.
    warehouse = database.outbox_of(WAREHOUSE_CHAT)[-1].params
    assert "Paris" in warehouse["text"] and "reply_markup" in warehouse
    assert "Paris" in database.outbox_of(CUSTOMER_ID)[-1].params["text"]


async def test_a_new_zone_is_requoted_and_goes_back_through_first_review(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    europe = order.amount
    asia = quote(Service.AIR_FREIGHT, "JP", order.items).amount
    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, TOKYO, actor=CUSTOMER, setup=setup
    )

    await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    stored = await load(new_uow, order.id)
    assert (stored.status, stored.number, stored.amount) == (OrderStatus.PENDING_REVIEW, "20260316001", asia)
    assert (stored.changes[0].amount_before, stored.changes[0].amount_after) == (europe, asia)
    async with new_uow() as uow:
        (owed,) = await uow.finance.for_order(order.id)
    assert (owed.reason, owed.amount) == (OwedReason.PRICE_DIFFERENCE, europe - asia)
    review = database.outbox_of(DESK_CHAT)[-1].params["text"]
    assert "Changed by the customer" in review and "Tokyo" in review
    assert "back to review" in database.outbox_of(WAREHOUSE_CHAT)[-1].params["text"]
    assert not running(stored.clocks, "picking") and running(stored.clocks, "first_review")


async def test_a_zone_change_up_leaves_the_difference_to_pay(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED, country="JP"))
    order_tokyo = order.amount
    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )

    await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    stored = await load(new_uow, order.id)
    assert not stored.paid and amount_due(stored) == stored.amount - order_tokyo


async def test_a_contact_change_is_checked_and_applied(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    new = {"phone": "+33612345678", "email": "emma.b@example.org"}

    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.CONTACT, new, actor=CUSTOMER, setup=setup
    )
    await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    stored = await load(new_uow, order.id)
    assert (stored.customer.phone, stored.customer.email) == ("+33612345678", "emma.b@example.org")
    assert stored.changes[0].old == {"phone": "+4915112345678", "email": "emma@example.com"}
    assert stored.status is OrderStatus.CONFIRMED
    with pytest.raises(NothingChanged):
        await ask_for_change(new_uow(), order.id, OrderRequestKind.CONTACT, new, actor=CUSTOMER, setup=setup)


async def test_customer_service_files_a_change_for_a_caller_with_consent(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))

    record = await ask_for_change(
        new_uow(),
        order.id,
        OrderRequestKind.ADDRESS,
        PARIS,
        actor=CARE,
        setup=setup,
        consent_note="recorded by Chloe Care",
    )

    assert (record.consent, record.consent_note, record.requested_role) == (
        Consent.BY_PHONE,
        "recorded by Chloe Care",
        Role.CUSTOMER_SERVICE,
    )
    # The caller is told in their chat what was filed.
    assert "Customer service filed" in database.outbox_of(CUSTOMER_ID)[-1].params["text"]


async def test_another_customer_cannot_change_the_order(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    stranger = Actor(OTHER_CUSTOMER_ID, frozenset({Role.CUSTOMER}))

    with pytest.raises(NotPermitted):
        await ask_for_change(
            new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=stranger, setup=setup
        )
    with pytest.raises(NotPermitted):
        record = await ask_for_change(
            new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
        )
        await apply_requested_change(new_uow(), order.id, record.number, actor=CUSTOMER, setup=setup)


async def test_a_second_press_and_a_second_request_have_one_effect(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )

    with pytest.raises(ChangeRefused) as waiting:
        await ask_for_change(
            new_uow(), order.id, OrderRequestKind.ADDRESS, TOKYO, actor=CUSTOMER, setup=setup
        )
    await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)
    with pytest.raises(ChangeAlreadyDecided) as again:
        await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    assert waiting.value.reason is ChangeRefusal.ALREADY_WAITING
    assert (again.value.record.decided_by, again.value.record.status) == (DESK.user_id, ChangeStatus.APPLIED)
    stored = await load(new_uow, order.id)
    assert len(stored.changes) == 1
    assert sum(line.action == "change_address_applied" for line in stored.audit) == 1


async def test_a_change_the_outbound_scan_overtook_is_refused_with_who_and_when(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.PICKED))
    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )
    await perform_action(new_uow(), order.id, Action.OUTBOUND_SCAN, WAREHOUSE, setup.clock, sla=SLA)

    with pytest.raises(ChangeRefused) as late:
        await apply_requested_change(new_uow(), order.id, record.number, actor=DESK, setup=setup)

    assert late.value.reason is ChangeRefusal.LEFT_WAREHOUSE
    assert late.value.since is not None and late.value.since.actor_id == WAREHOUSE_ID
    stored = await load(new_uow, order.id)
    assert stored.address.city == "Berlin"
    assert (stored.changes[0].status, stored.changes[0].refusal) == (ChangeStatus.REFUSED, "left_warehouse")
    assert not running(stored.clocks, "modification")
    told = database.outbox_of(CUSTOMER_ID)[-1].params["text"]
    assert "too late" in told and "forward" in told


async def test_a_change_racing_the_outbound_scan_has_one_winner(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.PICKED))
    record = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )
    scan_uow, apply_uow = new_uow(), new_uow()
    async with scan_uow:
        scanned = await scan_uow.orders.get(order.id)
        scanned.apply(
            Action.OUTBOUND_SCAN, actor_id=WAREHOUSE_ID, roles=WAREHOUSE.roles, now=setup.clock.now()
        )
        # The desk's press commits while the scan is still open: the scan loses its race.
        await apply_requested_change(apply_uow, order.id, record.number, actor=DESK, setup=setup)
        with pytest.raises(ConcurrentModification):
            await scan_uow.commit()

    stored = await load(new_uow, order.id)
    assert (stored.status, stored.address.city) == (OrderStatus.PICKED, "Paris")


async def test_a_second_waiting_change_keeps_a_clock_after_the_first_is_applied(
    new_uow: Uows, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    address = await ask_for_change(
        new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup
    )
    contact = {"phone": "+33612345678", "email": "emma@example.com"}
    await ask_for_change(new_uow(), order.id, OrderRequestKind.CONTACT, contact, actor=CUSTOMER, setup=setup)

    await apply_requested_change(new_uow(), order.id, address.number, actor=DESK, setup=setup)

    stored = await load(new_uow, order.id)
    clocks = [clock for clock in stored.clocks if clock.stage == "modification"]
    assert [clock.running for clock in clocks] == [False, True]


async def test_cancelling_the_order_ends_the_clock_of_a_waiting_change(
    new_uow: Uows, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.PENDING_REVIEW))
    await ask_for_change(new_uow(), order.id, OrderRequestKind.ADDRESS, PARIS, actor=CUSTOMER, setup=setup)

    await perform_action(new_uow(), order.id, Action.CANCEL, CUSTOMER, setup.clock, sla=SLA)

    stored = await load(new_uow, order.id)
    assert stored.status is OrderStatus.CANCELLED
    assert not running(stored.clocks, "modification")
