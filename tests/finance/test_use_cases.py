"""Refunds and payouts on the fake unit of work (issue 13, R-6.1, R-6.4): owe, clocks, paid once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application.finance import PAGE_SIZE, open_page, owe, record_paid
from application.notifications import Notice, NoticeKind, notices_for
from application.services import Actor, commit_change
from domain.clock import FixedClock
from domain.errors import NotPermitted
from domain.finance import (
    AlreadyPaid,
    MoneyKind,
    MoneyOwed,
    MoneyOwedPaid,
    MoneyOwedRecorded,
    OwedReason,
    OwedRefused,
    OwedStatus,
)
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role
from domain.payment import PaymentRecord, PaymentSource, PaymentStatus
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy import ClockEvent, Stage
from domain.sla.policy_file import shipped_policy
from tests.fakes import FakeDatabase
from tests.fixtures import store
from tests.payment.fakes import PaymentDatabase
from tests.sla.test_policy_walk import referenced
from tests.storage.factories import make_order

# Monday 2026-03-16 10:00 in Shanghai: 3 working days later is Thursday 10:00.
T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
SLA = SlaContext(shipped_policy(), BusinessCalendar())
FINANCE = Actor(4242, frozenset({Role.FINANCE}))


def paid_order(*, amount: str = "245.80") -> Order:
    """A paid, cancelled air-freight order."""
    order = make_order(status=OrderStatus.CANCELLED, created_at=T0 - timedelta(days=1))
    order.paid = True
    order.amount = Decimal(amount)
    return order


async def stored_paid_order(database: FakeDatabase, *, amount: str = "245.80") -> Order:
    """A paid, cancelled air-freight order, stored."""
    return await store(database.unit_of_work, paid_order(amount=amount))


async def mark_paid(
    database: FakeDatabase,
    record_id: int,
    clock: FixedClock,
    *,
    reference: str,
    actor: Actor = FINANCE,
    paid_at: datetime | None = None,
) -> MoneyOwed:
    """Records the money paid on the fake database, no event handlers listening."""
    return await record_paid(
        database.unit_of_work(),
        record_id,
        actor=actor,
        reference=reference,
        paid_at=paid_at,
        clock=clock,
        handlers={},
        sla=SLA,
    )


async def owe_refund(
    database: FakeDatabase,
    order: Order,
    amount: str = "245.80",
    *,
    at: datetime = T0,
    kind: MoneyKind = MoneyKind.REFUND,
    reason: OwedReason = OwedReason.CANCELLATION,
    currency: str = "eur",
) -> int:
    """Owes a refund on the order in a unit of work of its own, as a cancellation would; returns its id."""
    async with database.unit_of_work() as uow:
        loaded = await uow.orders.get(order.id)
        record = await owe(
            uow,
            loaded,
            kind=kind,
            amount=Decimal(amount),
            currency=currency,
            reason=reason,
            note="cancelled",
            now=at,
            sla=SLA,
        )
        events = list(loaded.events)
        await commit_change(loaded, uow, at, {}, SLA)
    assert record.id is not None
    assert [type(event) for event in events] == [MoneyOwedRecorded]
    return record.id


async def test_owing_a_refund_stores_it_due_in_three_working_days_with_its_own_clock(
    database: FakeDatabase,
) -> None:
    order = await stored_paid_order(database)

    record_id = await owe_refund(database, order)

    record = database.state.money_owed[record_id]
    due = datetime(2026, 3, 19, 2, tzinfo=UTC)
    assert (record.kind, record.reason, record.amount, record.currency) == (
        MoneyKind.REFUND,
        OwedReason.CANCELLATION,
        Decimal("245.80"),
        "EUR",
    )
    assert (record.method, record.status, record.due_at) == ("card", OwedStatus.OPEN, due)
    saved = database.state.orders[order.id]
    assert [(c.stage, c.due_at, c.running) for c in saved.clocks] == [("refund", due, True)]
    assert saved.audit[-1].action == "refund_owed"


async def test_a_telegram_charge_is_refunded_with_the_providers_charge_id() -> None:
    database = PaymentDatabase()
    order = await stored_paid_order(database)
    database.payments[1] = PaymentRecord(
        order.id,
        "card",
        PaymentSource.TELEGRAM,
        PaymentStatus.PAID,
        Decimal("245.80"),
        "EUR",
        T0 - timedelta(days=1),
        telegram_payment_charge_id="tg-1",
        provider_payment_charge_id="prov-77",
        id=1,
    )

    record_id = await owe_refund(database, order)

    record = database.state.money_owed[record_id]
    assert (record.payment_source, record.provider_payment_charge_id) == ("telegram", "prov-77")


@pytest.mark.parametrize(
    ("reason", "currency", "field"),
    [
        (OwedReason.DELAY_COMPENSATION, "EUR", "reason"),
        (OwedReason.CANCELLATION, "USD", "currency"),
        (OwedReason.CANCELLATION, "E1", "currency"),
    ],
)
async def test_a_refund_that_does_not_fit_is_refused_naming_the_field(
    reason: OwedReason, currency: str, field: str, database: FakeDatabase
) -> None:
    order = await stored_paid_order(database)

    with pytest.raises(OwedRefused) as refused:
        await owe_refund(database, order, reason=reason, currency=currency)

    assert refused.value.field == field
    assert database.state.money_owed == {}


async def test_refunds_never_exceed_what_the_order_cost_and_need_a_payment(database: FakeDatabase) -> None:
    order = await stored_paid_order(database, amount="100.00")
    await owe_refund(database, order, "60.00")

    with pytest.raises(OwedRefused, match=r"at most 40\.00 EUR"):
        await owe_refund(database, order, "40.01", reason=OwedReason.PRICE_DIFFERENCE)
    for amount in ("0", "-1", "1.001"):
        with pytest.raises(OwedRefused) as refused:
            await owe_refund(database, order, amount)
        assert refused.value.field == "amount"
    unpaid = make_order(status=OrderStatus.CANCELLED)
    await store(database.unit_of_work, unpaid)
    with pytest.raises(OwedRefused) as refused:
        await owe_refund(database, unpaid, "1.00")
    assert refused.value.field == "order"


async def test_each_record_closes_its_own_clock_when_paid(database: FakeDatabase) -> None:
    order = await stored_paid_order(database)
    refund = await owe_refund(database, order, "45.80", reason=OwedReason.PRICE_DIFFERENCE)
    later = T0 + timedelta(hours=1)
    payout = await owe_refund(
        database, order, "20.00", at=later, kind=MoneyKind.PAYOUT, reason=OwedReason.DELAY_COMPENSATION
    )
    second_refund = await owe_refund(database, order, "10.00", at=later + timedelta(hours=1))
    clock = FixedClock(T0 + timedelta(hours=3))

    await mark_paid(database, second_refund, clock, reference="BANK-2")

    clocks = database.state.orders[order.id].clocks
    running = {(c.stage, c.started_at) for c in clocks if c.running}
    assert running == {("refund", T0), ("compensation", later)}
    (closed,) = [c for c in clocks if not c.running]
    assert (closed.started_at, closed.met) == (later + timedelta(hours=1), True)
    assert database.state.money_owed[refund].is_open and database.state.money_owed[payout].is_open


async def test_paid_late_is_judged_at_the_time_paid_and_typed_times_are_checked(
    database: FakeDatabase,
) -> None:
    order = await stored_paid_order(database)
    record_id = await owe_refund(database, order)
    clock = FixedClock(datetime(2026, 3, 25, 2, tzinfo=UTC))

    for wrong, field in (
        (T0 - timedelta(minutes=1), "paid_at"),
        (clock.now() + timedelta(minutes=1), "paid_at"),
    ):
        with pytest.raises(OwedRefused) as refused:
            await mark_paid(database, record_id, clock, reference="WX-1", paid_at=wrong)
        assert refused.value.field == field
    with pytest.raises(OwedRefused) as refused:
        await mark_paid(database, record_id, clock, reference="  ")
    assert refused.value.field == "reference"
    paid_at = datetime(2026, 3, 20, 2, tzinfo=UTC)
    await mark_paid(database, record_id, clock, reference="WX-1", paid_at=paid_at)

    record = database.state.money_owed[record_id]
    assert (record.status, record.paid_at, record.recorded_at, record.paid_by) == (
        OwedStatus.PAID,
        paid_at,
        clock.now(),
        FINANCE.user_id,
    )
    (refund_clock,) = database.state.orders[order.id].clocks
    assert (refund_clock.finished_at, refund_clock.met) == (paid_at, False)


async def test_a_double_press_pays_once_and_the_loser_learns_who_and_when(database: FakeDatabase) -> None:
    order = await stored_paid_order(database)
    record_id = await owe_refund(database, order)
    clock = FixedClock(T0 + timedelta(hours=5))
    other = Actor(777, frozenset({Role.ADMIN}))

    async def press(actor: Actor, reference: str) -> object:
        try:
            return await mark_paid(database, record_id, clock, reference=reference, actor=actor)
        except AlreadyPaid as lost:
            return lost

    results = await asyncio.gather(press(FINANCE, "A-1"), press(other, "B-2"))

    (lost,) = [result for result in results if isinstance(result, AlreadyPaid)]
    record = database.state.money_owed[record_id]
    assert lost.record.paid_by == record.paid_by and lost.record.recorded_at == clock.now()
    assert [line.action for line in database.state.orders[order.id].audit].count("refund_paid") == 1


async def test_only_finance_and_admins_record_paid_and_others_cannot_see_the_list(
    database: FakeDatabase,
) -> None:
    order = await stored_paid_order(database)
    record_id = await owe_refund(database, order)

    with pytest.raises(NotPermitted):
        await mark_paid(
            database,
            record_id,
            FixedClock(T0),
            reference="X",
            actor=Actor(1, frozenset({Role.ORDER_DESK, Role.MANAGEMENT})),
        )
    with pytest.raises(NotPermitted):
        await open_page(database.unit_of_work(), roles=frozenset({Role.WAREHOUSE}))
    page = await open_page(database.unit_of_work(), roles=frozenset({Role.MANAGEMENT}))
    assert [entry.record.id for entry in page.entries] == [record_id]


async def test_the_list_is_oldest_due_first_in_pages(database: FakeDatabase) -> None:
    order = await stored_paid_order(database, amount="1000.00")
    ids = [
        await owe_refund(database, order, "1.00", at=T0 + timedelta(minutes=n)) for n in range(PAGE_SIZE + 2)
    ]

    first = await open_page(database.unit_of_work(), roles=frozenset({Role.FINANCE}))
    last = await open_page(database.unit_of_work(), roles=frozenset({Role.FINANCE}), offset=99)

    assert [entry.record.id for entry in first.entries] == ids[:PAGE_SIZE]
    assert (last.offset, [entry.record.id for entry in last.entries]) == (PAGE_SIZE, ids[PAGE_SIZE:])
    assert first.total == PAGE_SIZE + 2


def test_finance_gets_the_card_and_the_customer_hears_when_paid() -> None:
    order = paid_order()
    owed = MoneyOwedRecorded(
        "e1", order.id, T0, 1, MoneyKind.REFUND, OwedReason.CANCELLATION, Decimal(1), "EUR", "card", T0, None
    )
    paid = MoneyOwedPaid(
        "e2",
        order.id,
        T0,
        1,
        MoneyKind.REFUND,
        OwedReason.CANCELLATION,
        Decimal(1),
        "EUR",
        "card",
        "R",
        T0,
        1,
    )

    assert notices_for(owed, order) == [Notice(NoticeKind.OWED_CARD, Role.FINANCE)]
    assert notices_for(paid, order) == [Notice(NoticeKind.OWED_PAID)]


def test_owing_and_paying_emit_the_start_and_end_events_of_both_live_stages() -> None:
    emitted = {ClockEvent[name] for name in referenced(ClockEvent)}
    for stage in (Stage.REFUND, Stage.COMPENSATION):
        policy = shipped_policy().stage(stage)
        assert not policy.dormant
        assert policy.starts_on in emitted and set(policy.ends_on) <= emitted
