"""Every cancellation path on the fake unit of work (issue 13, R-6.1): states, clocks, refunds, one winner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application.cancellation import (
    CancellationSetup,
    StepTaken,
    answer_recall,
    cancel_by_company,
    cancel_held,
    check_cancellation,
    choose_alternative,
    goods_back,
    offer_alternatives,
    propose_recall,
    request_cancellation,
)
from application.execution import ExecutionSetup, pick
from application.services import Actor
from domain.cancellation import (
    Alternative,
    CancellationError,
    CancellationPath,
    CancellationState,
    default_recall_share,
    parse_share,
)
from domain.clock import FixedClock
from domain.errors import ConcurrentModification, NotPermitted
from domain.execution import AlreadyDone
from domain.finance import OwedReason
from domain.orders.model import Order
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, sync_clocks
from domain.sla.policy_file import shipped_policy
from tests.fakes import FakeDatabase
from tests.storage.factories import CUSTOMER_ID, make_order

T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
SLA = SlaContext(shipped_policy(), BusinessCalendar())
SERVICE = Actor(501, frozenset({Role.CUSTOMER_SERVICE}))
DESK = Actor(301, frozenset({Role.ORDER_DESK}))
LOGISTICS = Actor(401, frozenset({Role.LOGISTICS}))
WAREHOUSE = Actor(201, frozenset({Role.WAREHOUSE}))
CUSTOMER = Actor(CUSTOMER_ID, frozenset({Role.CUSTOMER}))
STRANGER = Actor(999, frozenset({Role.CUSTOMER}))


@pytest.fixture
def setup() -> CancellationSetup:
    """The use cases' setup with the shipped SLA policy at T0."""
    return CancellationSetup(FixedClock(T0), {}, SLA)


async def stored(database: FakeDatabase, status: OrderStatus, *, paid: bool = True) -> Order:
    """A stored order in the status, paid by default."""
    order = make_order(status=status, created_at=T0 - timedelta(days=1))
    order.paid = paid
    if status is not OrderStatus.SUBMITTED:
        order.number = "20260316001"
    async with database.unit_of_work() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def load(database: FakeDatabase, order: Order) -> Order:
    """The order as stored now."""
    async with database.unit_of_work() as uow:
        return await uow.orders.get(order.id)


def running(order: Order) -> set[str]:
    """The stages whose clocks run (not paused)."""
    return {clock.stage for clock in order.clocks if clock.running and clock.paused_at is None}


def refunds(database: FakeDatabase) -> list[tuple[Decimal, OwedReason]]:
    """The refunds owed, as (amount, reason)."""
    return [(record.amount, record.reason) for record in database.state.money_owed.values()]


async def test_before_confirmation_a_customer_cancels_at_once(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.PENDING_REVIEW, paid=False)

    outcome = await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)

    assert outcome.cancellation.path is CancellationPath.AT_ONCE
    assert outcome.cancellation.state is CancellationState.CANCELLED
    assert (await load(database, order)).status is OrderStatus.CANCELLED
    assert refunds(database) == []


async def test_a_paid_order_cancelled_before_confirmation_is_refunded_in_full(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.AWAITING_CONFIRMATION)

    await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)

    assert refunds(database) == [(Decimal("245.80"), OwedReason.CANCELLATION)]


async def test_someone_elses_order_cannot_be_cancelled(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)

    with pytest.raises(NotPermitted):
        await request_cancellation(database.unit_of_work(), order.id, STRANGER, setup)
    assert (await load(database, order)).status is OrderStatus.CONFIRMED


async def test_before_outbound_the_order_is_held_checked_and_cancelled_by_the_desk(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.PICKED)

    held = await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)
    assert held.cancellation.path is CancellationPath.HOLD
    assert held.order.status is OrderStatus.CANCELLATION_REQUESTED
    assert {"cancel_check", "cancel_done"} <= running(await load(database, order))

    await check_cancellation(database.unit_of_work(), order.id, SERVICE, setup)
    checked = await load(database, order)
    assert "cancel_check" not in running(checked) and "cancel_done" in running(checked)
    assert [c.met for c in checked.clocks if c.stage == "cancel_check"] == [True]

    done = await cancel_held(database.unit_of_work(), order.id, DESK, setup)
    assert done.order.status is OrderStatus.CANCELLED
    final = await load(database, order)
    assert "cancel_done" not in running(final) and "refund" in running(final)
    assert refunds(database) == [(Decimal("245.80"), OwedReason.CANCELLATION)]


async def test_customer_service_files_a_cancellation_only_with_the_customers_consent(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)

    with pytest.raises(CancellationError) as refused:
        await request_cancellation(database.unit_of_work(), order.id, SERVICE, setup)
    assert refused.value.code == "consent.missing"

    outcome = await request_cancellation(
        database.unit_of_work(), order.id, SERVICE, setup, consent="customer agreed by phone"
    )
    assert outcome.cancellation.consent == "customer agreed by phone"
    trail = (await load(database, order)).audit[-1]
    assert trail.note == "consent: customer agreed by phone" and trail.actor_role is Role.CUSTOMER_SERVICE


async def test_after_outbound_recall_accepted_brings_goods_back_and_refunds_less_the_charge(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.IN_TRANSIT)

    requested = await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)
    assert requested.cancellation.path is CancellationPath.RECALL
    terms = await propose_recall(database.unit_of_work(), order.id, SERVICE, setup, share_percent=Decimal(30))
    assert terms.cancellation.charge == Decimal("73.74")

    accepted = await answer_recall(database.unit_of_work(), order.id, CUSTOMER_ID, True, setup)
    assert accepted.order.status is OrderStatus.RECALL_IN_PROGRESS

    back = await goods_back(database.unit_of_work(), order.id, LOGISTICS, setup)
    assert back.order.status is OrderStatus.CANCELLED
    assert refunds(database) == [(Decimal("172.06"), OwedReason.RECALL)]


async def test_after_outbound_recall_declined_lets_the_order_go_on(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.BOOKED)

    await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)
    terms = await propose_recall(database.unit_of_work(), order.id, SERVICE, setup)
    assert terms.cancellation.share_percent == default_recall_share() == Decimal(50)

    declined = await answer_recall(database.unit_of_work(), order.id, CUSTOMER_ID, False, setup)

    assert declined.order.status is OrderStatus.BOOKED
    assert declined.cancellation.state is CancellationState.DECLINED
    assert refunds(database) == []
    # The customer may ask again later: a new cancellation starts.
    again = await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)
    assert again.cancellation.state is CancellationState.REQUESTED


async def test_company_cancellation_then_the_customer_chooses_cancellation(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)

    cancellation = await cancel_by_company(
        database.unit_of_work(), order.id, DESK, "no flights to the destination", setup
    )
    held = await load(database, order)
    assert held.status is OrderStatus.EXCEPTION
    assert held.exception_type is ExceptionType.COMPANY_CANCELLATION
    assert cancellation.reason == "no flights to the destination"
    assert "cancel_check" in running(held)

    await offer_alternatives(database.unit_of_work(), order.id, SERVICE, setup)
    assert "cancel_check" not in running(await load(database, order))
    chosen = await choose_alternative(
        database.unit_of_work(), order.id, CUSTOMER_ID, Alternative.CANCEL, setup
    )

    assert chosen.order.status is OrderStatus.CANCELLED
    assert refunds(database) == [(Decimal("245.80"), OwedReason.CANCELLATION)]


async def test_company_cancellation_then_the_customer_chooses_another_service(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.PICKED)
    await cancel_by_company(database.unit_of_work(), order.id, DESK, "carrier suspended the lane", setup)
    await offer_alternatives(database.unit_of_work(), order.id, SERVICE, setup)

    chosen = await choose_alternative(
        database.unit_of_work(), order.id, CUSTOMER_ID, Alternative.OTHER_SERVICE, setup
    )

    assert chosen.order.status is OrderStatus.PICKED
    assert chosen.cancellation.state is CancellationState.OTHER_SERVICE
    assert refunds(database) == []


async def test_company_cancellation_of_an_order_in_exception_offers_only_the_cancellation(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.ARRIVED)
    async with database.unit_of_work() as uow:
        loaded = await uow.orders.get(order.id)
        loaded.apply(
            Action.HOLD_AT_CUSTOMS,
            actor_id=LOGISTICS.user_id,
            roles=LOGISTICS.roles,
            now=T0,
        )
        sync_clocks(loaded, T0, SLA)
        loaded.pull_events()
        await uow.commit()

    await cancel_by_company(
        database.unit_of_work(), order.id, DESK, "customs destroyed the goods", setup, other_service=False
    )
    await offer_alternatives(database.unit_of_work(), order.id, SERVICE, setup)
    with pytest.raises(CancellationError):
        await choose_alternative(
            database.unit_of_work(), order.id, CUSTOMER_ID, Alternative.OTHER_SERVICE, setup
        )
    chosen = await choose_alternative(
        database.unit_of_work(), order.id, CUSTOMER_ID, Alternative.CANCEL, setup
    )
    assert chosen.order.status is OrderStatus.CANCELLED


async def test_a_second_press_of_a_step_changes_nothing_and_names_who_took_it(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)
    await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)
    await check_cancellation(database.unit_of_work(), order.id, SERVICE, setup)
    await cancel_held(database.unit_of_work(), order.id, DESK, setup)

    with pytest.raises(StepTaken) as taken:
        await cancel_held(database.unit_of_work(), order.id, Actor(302, frozenset({Role.ORDER_DESK})), setup)
    assert taken.value.cancellation is not None and taken.value.cancellation.decided_by == DESK.user_id
    with pytest.raises(StepTaken):
        await check_cancellation(database.unit_of_work(), order.id, SERVICE, setup)
    assert len(refunds(database)) == 1


async def test_two_desk_members_cancelling_at_once_give_one_cancellation_and_one_refund(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)
    await request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup)

    results = await asyncio.gather(
        cancel_held(database.unit_of_work(), order.id, DESK, setup),
        cancel_held(database.unit_of_work(), order.id, Actor(302, frozenset({Role.ORDER_DESK})), setup),
        return_exceptions=True,
    )

    assert sum(not isinstance(result, BaseException) for result in results) == 1
    assert all(
        isinstance(r, (StepTaken, ConcurrentModification)) for r in results if isinstance(r, BaseException)
    )
    assert len(refunds(database)) == 1


async def test_a_cancellation_racing_a_picking_scan_has_one_winner(
    setup: CancellationSetup, database: FakeDatabase
) -> None:
    order = await stored(database, OrderStatus.CONFIRMED)
    execution = ExecutionSetup(FixedClock(T0), "Asia/Shanghai", notes=None, sla=SLA)  # type: ignore[arg-type]
    counted = {"TEA-01": 2, "Silk scarf": 5}

    results = await asyncio.gather(
        request_cancellation(database.unit_of_work(), order.id, CUSTOMER, setup),
        pick(database.unit_of_work(), order.id, WAREHOUSE, counted, execution, fragile_confirmed=True),
        return_exceptions=True,
    )

    winners = [result for result in results if not isinstance(result, BaseException)]
    assert len(winners) == 1
    final = await load(database, order)
    assert final.status in (OrderStatus.CANCELLATION_REQUESTED, OrderStatus.PICKED)
    if final.status is OrderStatus.CANCELLATION_REQUESTED:
        # The warehouse's next press is told who took the order off its step, and when.
        with pytest.raises(AlreadyDone) as done:
            await pick(
                database.unit_of_work(), order.id, WAREHOUSE, counted, execution, fragile_confirmed=True
            )
        assert done.value.event is not None and done.value.event.actor_role is Role.CUSTOMER


def test_a_share_of_the_freight_is_a_percentage_from_0_to_100() -> None:
    assert parse_share("30%") == Decimal(30)
    assert parse_share(" 12,5 ") == Decimal("12.5")
    for wrong in ("", "abc", "-1", "101", "nan"):
        with pytest.raises(CancellationError):
            parse_share(wrong)
