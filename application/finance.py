"""Finance's refunds and payouts (issue 13, R-6.1, R-6.4): money owed, its clock, recording it paid.

Other use cases (a cancellation, a recall, a service change, an exception's compensation) owe the
customer money inside THEIR open unit of work, and commit it with their own change:

    record = await owe(
        uow,                      # a FinanceUnitOfWork, already open (`async with uow:`)
        order,                    # the order aggregate loaded in that unit of work
        kind=MoneyKind.REFUND,    # or MoneyKind.PAYOUT
        amount=Decimal("120.00"),
        currency="CNY",
        reason=OwedReason.CANCELLATION,
        note="cancelled before outbound",  # free text for finance, may be ""
        now=now,                  # the time of the caller's change
        sla=sla,                  # SlaContext: policy and business calendar
        case_id=None,             # the exception case a payout settles, if any
        actor_id=None,            # who caused it (None: the system), for the order's trail
        role=Role.SYSTEM,         # the role they acted in
    )
    ...
    await commit_change(order, uow, now, handlers, sla)   # the caller commits: record, clock, card

`async def owe(uow: FinanceUnitOfWork, order: Order, *, kind: MoneyKind, amount: Decimal,
currency: str, reason: OwedReason, note: str, now: datetime, sla: SlaContext,
case_id: int | None = None, actor_id: int | None = None, role: Role = Role.SYSTEM) -> MoneyOwed`

owe() stores the record (with the method of the order's recorded payment, and for a Telegram
Payments charge its provider charge id), writes a line on the order's trail, opens the record's own
clock through the SLA policy (a refund emits cancellation_agreed, the `refund` stage; a payout
emits compensation_agreed, the `compensation` stage; 3 working days each) and records
MoneyOwedRecorded, which the notification policy turns into the card in finance's chat when the
caller's commit_change dispatches the order's events. Callers must not emit cancellation_agreed or
compensation_agreed themselves: owe() opens one clock per record, so an order owing a refund and
later a compensation runs two clocks, and each closes when its own record is paid.

It raises OwedRefused (with the field to fix) for a reason of the other kind, an amount that is
not positive or has more than two decimals, a refund of an unpaid order, in another currency than
the order's, or beyond what is left to refund of the order's amount.

record_paid() is finance's *Record as paid*: one effect however often it is pressed (the loser gets
AlreadyPaid with who recorded it and when); it closes that record's clock at the time paid and
records MoneyOwedPaid, which tells the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from application.ports import UnitOfWork
from application.services import Actor, EventHandlers, commit_change
from domain.clock import Clock
from domain.errors import DomainError
from domain.finance import (
    NOTE_MAX,
    AlreadyPaid,
    MoneyKind,
    MoneyOwed,
    MoneyOwedPaid,
    MoneyOwedRecorded,
    OwedReason,
    OwedRefused,
    OwedStatus,
    check_owed,
    check_paid,
    refundable_left,
)
from domain.orders.model import Order, StageClock
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Role
from domain.payment import PaymentRecord
from domain.sla.clocks import SlaContext, due_at
from domain.sla.policy import ClockEvent, Stage
from domain.text import without_controls

# The clock event a new record emits (its stage starts), and the one paying it emits (it ends).
OPENED_BY: Mapping[MoneyKind, ClockEvent] = {
    MoneyKind.REFUND: ClockEvent.CANCELLATION_AGREED,
    MoneyKind.PAYOUT: ClockEvent.COMPENSATION_AGREED,
}
PAID_BY: Mapping[MoneyKind, ClockEvent] = {
    MoneyKind.REFUND: ClockEvent.REFUND_PAID,
    MoneyKind.PAYOUT: ClockEvent.COMPENSATION_PAID,
}
# The stage whose limit sets a record's due time (3 working days each, domain/data/sla_policy.toml).
DUE_STAGE: Mapping[MoneyKind, Stage] = {MoneyKind.REFUND: Stage.REFUND, MoneyKind.PAYOUT: Stage.COMPENSATION}
PAGE_SIZE = 5


class FinanceRepository(Protocol):
    """Refund and payout records; paying one is a conditional update (one winner)."""

    async def add(self, record: MoneyOwed) -> int: ...

    async def get(self, record_id: int) -> MoneyOwed | None: ...

    async def for_order(self, order_id: str) -> list[MoneyOwed]: ...

    async def open_records(self, *, offset: int, limit: int) -> list[MoneyOwed]: ...

    async def count_open(self) -> int: ...

    async def mark_paid(
        self, record_id: int, *, reference: str, paid_at: datetime, by: int | None, at: datetime
    ) -> bool: ...

    async def paid_with(self, order_id: str) -> PaymentRecord | None: ...


class FinanceUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also knows the money owed to customers."""

    finance: FinanceRepository


class RecordNotFound(DomainError):
    """No refund or payout has this id."""


@dataclass(frozen=True)
class OwedEntry:
    """A record with its order, for finance's list and card."""

    record: MoneyOwed
    order: Order


@dataclass(frozen=True)
class OwedPage:
    """One page of the open records, oldest due first, and how many are open in all."""

    entries: list[OwedEntry]
    total: int
    offset: int


def _open_clocks(order: Order, record: MoneyOwed, now: datetime, sla: SlaContext) -> None:
    """Opens a clock of its own for the record in every stage its kind's event starts."""
    for stage in sla.policy.starting_on(OPENED_BY[record.kind]):
        if stage.dormant or not stage.applies_to(order.service):
            continue
        order.open_clock(
            stage.key.value, started_at=now, due_at=due_at(sla.policy, sla.calendar, stage.key, now)
        )


def _close_clocks(order: Order, record: MoneyOwed, paid_at: datetime, sla: SlaContext) -> None:
    """Closes the record's own clocks (those started with it) at the time it was paid."""
    for stage in sla.policy.ending_on(PAID_BY[record.kind]):
        # Records of one kind owed at the same instant share start and due time: either clock is theirs.
        order.close_clock(stage.key.value, now=paid_at, started_at=record.created_at)


async def load_record(uow: FinanceUnitOfWork, record_id: int) -> MoneyOwed:
    """A refund or payout record by id, or RecordNotFound."""
    record = await uow.finance.get(record_id)
    if record is None:
        raise RecordNotFound(str(record_id))
    return record


async def owe(
    uow: FinanceUnitOfWork,
    order: Order,
    *,
    kind: MoneyKind,
    amount: Decimal,
    currency: str,
    reason: OwedReason,
    note: str,
    now: datetime,
    sla: SlaContext,
    case_id: int | None = None,
    actor_id: int | None = None,
    role: Role = Role.SYSTEM,
) -> MoneyOwed:
    """Records money owed to the order's customer in the caller's unit of work (the caller commits)."""
    currency = currency.strip().upper()
    check_owed(kind, reason, amount, currency)
    if kind is MoneyKind.REFUND:
        if not order.paid:
            raise OwedRefused("order", f"order {order.display_id} is not paid; there is nothing to refund")
        if currency != order.currency.upper():
            raise OwedRefused("currency", f"a refund is paid in the order's currency, {order.currency}")
        left = refundable_left(order.amount, await uow.finance.for_order(order.id))
        if amount > left:
            raise OwedRefused("amount", f"at most {left} {order.currency} of this order is left to refund")
    payment = await uow.finance.paid_with(order.id)
    record = MoneyOwed(
        order_id=order.id,
        kind=kind,
        reason=reason,
        amount=amount,
        currency=currency,
        method=payment.method if payment is not None else order.payment_method,
        created_at=now,
        due_at=due_at(sla.policy, sla.calendar, DUE_STAGE[kind], now),
        note=without_controls(note).strip()[:NOTE_MAX],
        payment_source=payment.source.value if payment is not None else None,
        telegram_payment_charge_id=payment.telegram_payment_charge_id if payment is not None else None,
        provider_payment_charge_id=payment.provider_payment_charge_id if payment is not None else None,
        created_by=actor_id,
        case_id=case_id,
    )
    record = replace(record, id=await uow.finance.add(record))
    assert record.id is not None
    order.note(
        f"{reason.value}: {amount} {currency}",
        actor_id=actor_id,
        role=role,
        now=now,
        action=f"{kind.value}_owed",
    )
    _open_clocks(order, record, now, sla)
    order.record(
        MoneyOwedRecorded(
            order.event_id(),
            order.id,
            now,
            record.id,
            kind,
            reason,
            amount,
            currency,
            record.method,
            record.due_at,
            record.provider_payment_charge_id,
            record.note,
        )
    )
    return record


async def record_paid(
    uow: FinanceUnitOfWork,
    record_id: int,
    *,
    actor: Actor,
    reference: str,
    paid_at: datetime | None,
    clock: Clock,
    handlers: EventHandlers,
    sla: SlaContext,
) -> MoneyOwed:
    """Records a refund or payout paid once (reference, time paid); closes its clock; the customer is told.

    Raises AlreadyPaid (carrying who recorded it and when) on a double press or a stale button, and
    ConcurrentModification when another change of the same order committed first (press again).
    """
    role = require(actor.roles, Duty.RECORD_REFUND)
    reference = without_controls(reference).strip()
    async with uow:
        record = await load_record(uow, record_id)
        now = clock.now()
        when = paid_at or now
        check_paid(record, reference, when, now)
        order = await uow.orders.get(record.order_id)
        marked = await uow.finance.mark_paid(
            record_id, reference=reference, paid_at=when, by=actor.user_id, at=now
        )
        if not marked:
            # Someone recorded it between our read and our update: they won.
            raise AlreadyPaid(await uow.finance.get(record_id) or record)
        paid = replace(
            record,
            status=OwedStatus.PAID,
            paid_reference=reference,
            paid_at=when,
            paid_by=actor.user_id,
            recorded_at=now,
        )
        order.note(
            f"{record.reason.value}: {record.amount} {record.currency}, {reference}",
            actor_id=actor.user_id,
            role=role,
            now=now,
            action=f"{record.kind.value}_paid",
        )
        _close_clocks(order, paid, when, sla)
        order.record(
            MoneyOwedPaid(
                order.event_id(),
                order.id,
                now,
                record_id,
                record.kind,
                record.reason,
                record.amount,
                record.currency,
                record.method,
                reference,
                when,
                actor.user_id,
            )
        )
        await commit_change(order, uow, now, handlers, sla)
        return paid


async def open_page(uow: FinanceUnitOfWork, *, roles: frozenset[Role], offset: int = 0) -> OwedPage:
    """The open refunds and payouts, oldest due first, one page at offset (clamped to the last page)."""
    require(roles, Duty.SEE_REFUNDS)
    async with uow:
        total = await uow.finance.count_open()
        offset = max(0, min(offset, (total - 1) // PAGE_SIZE * PAGE_SIZE)) if total else 0
        records = await uow.finance.open_records(offset=offset, limit=PAGE_SIZE)
        entries = [OwedEntry(record, await uow.orders.get(record.order_id)) for record in records]
    return OwedPage(entries, total, offset)


async def owed_entry(uow: FinanceUnitOfWork, record_id: int) -> OwedEntry:
    """One record with its order (for the card and the paid dialog)."""
    async with uow:
        record = await load_record(uow, record_id)
        return OwedEntry(record, await uow.orders.get(record.order_id))


def record_clock(order: Order, record: MoneyOwed) -> StageClock:
    """The record's own clock on its order (for lateness); its due time alone if no clock was opened."""
    stage = DUE_STAGE[record.kind].value
    for clock in order.clocks:
        if clock.stage == stage and clock.started_at == record.created_at:
            return clock
    finished = record.paid_at if not record.is_open else None
    return StageClock(stage, record.created_at, record.due_at, finished_at=finished)
