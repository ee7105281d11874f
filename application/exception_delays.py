"""A delay's cause and compensation (R-6.3): logistics finds the cause, customer service offers, finance pays.

A delay case (application/exceptions.py opens and closes it) gets its cause and new expected time
from logistics; customer service sends the drafted notice (exceptions.tell_customer) and, for a
delay longer than ExceptionSettings.compensate_after, offers compensation within its role's limit.
The customer accepts with a button; finance is owed the payout and, once it is paid, the case
records the compensation applied.

Signatures (uow: an ExceptionUnitOfWork; setup: application.exceptions.ExceptionSetup):

- `record_delay_cause(uow, case_id, *, actor_id, cause, new_eta, setup) -> ExceptionCase`
  Logistics gives a delay's cause and new expected time (delay_cause_found); customer service
  gets the drafted notice (DelayCauseRecorded, compensable when the delay is long).
- `parse_amount(text) -> Decimal`: an amount as typed, or DomainError.
- `offer_compensation(uow, case_id, *, actor_id, kind, amount, setup) -> ExceptionCase` /
  `accept_compensation(uow, case_id, *, customer_id, setup) -> bool`: a long delay's offer within
  the role's limit, accepted by the customer with a button; accepting owes it to finance as a
  payout (setup.compensation_owed, else owe_compensation through application/finance.py owe()).
- `follow_up_compensation(handlers) -> EventHandlers`: adds the handler that records a case's
  compensation applied when finance records its payout paid (bot/app.py composes it).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from application.exception_ports import ExceptionUnitOfWork
from application.exceptions import ExceptionSetup, commit_case_step, load_case_and_order, load_open_case
from application.finance import FinanceUnitOfWork, owe
from application.ports import UnitOfWork
from application.services import EventHandlers, commit_change
from domain.errors import DomainError
from domain.exceptions.case import (
    Compensation,
    CompensationKind,
    ExceptionCase,
    StepKind,
    check_offer,
    delay_length,
)
from domain.exceptions.events import CompensationOffered, DelayCauseRecorded
from domain.finance import MoneyKind, MoneyOwedPaid, OwedReason
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import ExceptionType, Role
from domain.sla.clocks import SlaContext
from domain.sla.policy import ClockEvent


async def record_delay_cause(
    uow: ExceptionUnitOfWork,
    case_id: int,
    *,
    actor_id: int,
    cause: str,
    new_eta: datetime,
    setup: ExceptionSetup,
) -> ExceptionCase:
    """Logistics records a delay's cause and the new expected time (R-6.3): the notice is drafted."""
    async with uow:
        case, order, roles = await load_open_case(uow, case_id, actor_id)
        role = require(roles, Duty.FIND_DELAY_CAUSE)
        if case.type is not ExceptionType.DELAY:
            raise DomainError(f"exception case {case_id} is not a delay")
        checked = setup.catalog.check(case.type, cause)
        now = setup.clock.now()
        if new_eta <= now:
            raise DomainError("the new expected time must be in the future")
        case.record_cause(checked or cause, at=now, actor_id=actor_id, role=role, new_eta=new_eta)
        order.note(
            f"{cause}, {new_eta.isoformat(timespec='minutes')}",
            actor_id=actor_id,
            role=role,
            now=now,
            action="delay_cause_recorded",
        )
        length = delay_length(case, order.shipment.eta)
        limit = setup.settings.compensate_after.total_seconds() / 3600
        compensable = length is not None and length > limit
        order.record(
            DelayCauseRecorded(order.event_id(), order.id, now, case_id, cause, new_eta, compensable)
        )
        await commit_case_step(uow, case, order, now, setup, [ClockEvent.DELAY_CAUSE_FOUND])
    return case


# What finance records for an accepted offer (a payout record, its 3-working-day clock, issue 13).
OWED_REASONS = {
    CompensationKind.FREIGHT_DISCOUNT: OwedReason.DISCOUNT,
    CompensationKind.COUPON: OwedReason.DELAY_COMPENSATION,
    CompensationKind.PAYOUT: OwedReason.DELAY_COMPENSATION,
}


async def owe_compensation(
    uow: ExceptionUnitOfWork, order: Order, case: ExceptionCase, now: datetime, sla: SlaContext
) -> None:
    """Hands an accepted compensation to finance through owe() (the compensation clock is finance's)."""
    offer = case.compensation
    if offer is None or not hasattr(uow, "finance"):
        return
    finance: FinanceUnitOfWork = uow  # type: ignore[assignment]
    await owe(
        finance,
        order,
        kind=MoneyKind.PAYOUT,
        amount=offer.amount,
        currency=offer.currency,
        reason=OWED_REASONS[offer.kind],
        note=f"exception case {case.id}: {offer.kind.value}",
        now=now,
        sla=sla,
        case_id=case.id,
        actor_id=None,
        role=Role.SYSTEM,
    )


def parse_amount(text: str) -> Decimal:
    """An amount as typed (a dot or comma decimal); raises DomainError when it is not one."""
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise DomainError("the amount is not a number") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise DomainError("the amount has more than two decimals")
    return amount


async def offer_compensation(
    uow: ExceptionUnitOfWork,
    case_id: int,
    *,
    actor_id: int,
    kind: CompensationKind,
    amount: Decimal,
    setup: ExceptionSetup,
) -> ExceptionCase:
    """Customer service offers compensation within its role's limit (R-6.3); the customer accepts it."""
    async with uow:
        case, order, roles = await load_open_case(uow, case_id, actor_id)
        require(roles, Duty.TELL_CUSTOMER_OF_EXCEPTION)
        role = require(roles, Duty.TELL_CUSTOMER_OF_EXCEPTION)
        check_offer(amount, order.amount, setup.catalog.limit_percent(roles))
        now = setup.clock.now()
        case.compensation = Compensation(kind, amount, order.currency, now, actor_id)
        case.add_step(
            StepKind.COMPENSATION_OFFERED, at=now, actor_id=actor_id, role=role, note=f"{kind.value} {amount}"
        )
        order.note(
            f"{kind.value} {amount} {order.currency}",
            actor_id=actor_id,
            role=role,
            now=now,
            action="compensation_offered",
        )
        order.record(
            CompensationOffered(order.event_id(), order.id, now, case_id, kind.value, amount, order.currency)
        )
        await commit_case_step(uow, case, order, now, setup)
    return case


async def accept_compensation(
    uow: ExceptionUnitOfWork, case_id: int, *, customer_id: int, setup: ExceptionSetup
) -> bool:
    """The customer accepts the offer with a button, followed up until applied; False if done already."""
    async with uow:
        case, order = await load_case_and_order(uow, case_id)
        order.require_customer(customer_id, "accept_compensation")
        offer = case.compensation
        if offer is None or offer.accepted_at is not None:
            return False
        now = setup.clock.now()
        case.compensation = replace(offer, accepted_at=now)
        case.add_step(StepKind.COMPENSATION_ACCEPTED, at=now, actor_id=customer_id, role=Role.CUSTOMER)
        await uow.exceptions.save(case)
        order.note(
            f"{offer.kind.value} {offer.amount} {offer.currency}",
            actor_id=customer_id,
            role=Role.CUSTOMER,
            now=now,
            action="compensation_accepted",
        )
        if setup.compensation_owed is not None:
            await setup.compensation_owed(uow, order, case, now)
        elif setup.sla is not None:
            await owe_compensation(uow, order, case, now, setup.sla)
        await commit_change(order, uow, now, setup.handlers, None)
    return True


async def mark_compensation_applied(event: Event, order: Order, uow: UnitOfWork) -> None:
    """Finance paid a case's compensation: the case records it applied (the follow-up ends, R-6.3)."""
    if not isinstance(event, MoneyOwedPaid) or not hasattr(uow, "exceptions") or not hasattr(uow, "finance"):
        return
    cases: ExceptionUnitOfWork = uow  # type: ignore[assignment]
    finance: FinanceUnitOfWork = uow  # type: ignore[assignment]
    record = await finance.finance.get(event.record_id)
    if record is None or record.case_id is None:
        return
    case = await cases.exceptions.get(record.case_id)
    if case is None or case.compensation is None or case.compensation.applied_at is not None:
        return
    case.compensation = replace(case.compensation, applied_at=event.at)
    case.add_step(StepKind.COMPENSATION_APPLIED, at=event.at, actor_id=None, role=Role.FINANCE)
    await cases.exceptions.save(case)


def follow_up_compensation(handlers: EventHandlers) -> EventHandlers:
    """The event handlers with the case's follow-up of a paid compensation added (composition root)."""
    return {**handlers, MoneyOwedPaid: [*handlers.get(MoneyOwedPaid, ()), mark_compensation_applied]}
