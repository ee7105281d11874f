"""Exception use cases (R-6, R-6.3, R-6.5): mark an exception, handle its case, close it, record it.

Each use case loads the order and its case, checks the actor's roles as the database holds them
(never a button's payload), changes the order through Order.apply and the case through its
methods, and commits both with the notices and clocks they cause in one transaction. Every case
change also writes an audit line on the order, so its version guards concurrent presses.
A delay's cause and its compensation are application/exception_delays.py; a customs hold, what
customs needs and the customer's documents are application/customs_holds.py. Both build on the
setup and the loaders here.

Signatures (uow: an ExceptionUnitOfWork; setup: ExceptionSetup):

- `raise_exception(uow, order_id, *, actor_id, kind, cause=None, note, setup, action) -> ExceptionCase`
  Any department marks an exception (kind in domain.exceptions.causes.MARKABLE, cause from the
  type's list or None while unknown). The order goes to EXCEPTION (Action.RAISE_EXCEPTION, or
  logistics' Action.HOLD_AT_CUSTOMS for customs_holds.hold_at_customs); the case opens;
  ExceptionRaised alerts the order desk and customer service (notification policy).
- `open_case(uow, order, action, *, actor_id, roles, kind, cause, note, now, setup) -> ExceptionCase`
  The order into EXCEPTION through the table and its case opened, in the caller's transaction
  (raise_exception, customs_holds.hold_at_customs, a claim's case in application/claims.py).
- `close_case(uow, case_id, *, actor_id, result, note, setup) -> ExceptionCase`
  Closes the case with its CaseResult: the order resumes (Action.RESOLVE_EXCEPTION) or, for a
  return or destruction, stays in exception for the order desk's company cancellation (issue 13's
  cancel_by_company, from the card the desk gets; or setup.company_cancellation when wired).
  ExceptionClosed asks the customer whether they are satisfied; leaving EXCEPTION emits
  exception_closed, which opens the order desk's 24-hour exception_record clock.
- `complete_record(uow, case_id, *, actor_id, text, setup) -> ExceptionCase`
  The order desk completes the record of a closed case (text None: the draft prefilled from the
  case's trail, domain.exceptions.case.prefilled_record); emits exception_recorded.
- `tell_customer(uow, case_id, *, actor_id, text, setup) -> ExceptionCase`
  Customer service sends the (edited) draft of a delay's notice, or for a customs hold the
  request for documents (customer_told closes delay_notice, R-6.3).
- `answer_satisfaction(uow, case_id, *, customer_id, satisfied, setup) -> bool`: the customer's
  one tap on a closed case; False if they answered already.
- `commit_case_step(uow, case, order, now, setup, ends)`: saves a case's new step and commits the
  order with it, the clocks the step ends (given setup.sla) and its notices.
- `load_case(uow, case_id) -> ExceptionCase` / `load_case_and_order(uow, case_id) -> (case, order)` /
  `load_open_case(uow, case_id, actor_id) -> (case, order, roles)`: the loaders the case use cases
  share, in the caller's transaction.
- `case_of_order(uow, order_id) -> ExceptionCase | None`: the order's open case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.exception_ports import ExceptionUnitOfWork
from application.services import EventHandlers, commit_change
from domain.clock import Clock
from domain.errors import DomainError, IllegalTransition
from domain.exceptions.case import (
    CANCELLING,
    NOTE_MAX,
    CaseClosed,
    CaseResult,
    ExceptionCase,
    StepKind,
    prefilled_record,
)
from domain.exceptions.causes import MARKABLE, CauseCatalog, cause_catalog
from domain.exceptions.events import CustomerToldOfException, ExceptionClosed, ExceptionRaised
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from domain.sla.clocks import SlaContext, apply_clock_events, sync_clocks
from domain.sla.policy import ClockEvent
from domain.text import required_text, without_controls

# The company cancels an order whose goods customs returns or destroys (issue 13's path), in the
# caller's transaction: (uow, order, actor_id, roles, reason, now).
CompanyCancellation = Callable[
    [ExceptionUnitOfWork, Order, int | None, frozenset[Role], str, datetime], Awaitable[None]
]


# Finance is owed an accepted compensation (fin's owe(), in the caller's transaction).
CompensationOwed = Callable[[ExceptionUnitOfWork, Order, ExceptionCase, datetime], Awaitable[None]]


@dataclass(frozen=True)
class ExceptionSettings:
    """The exception settings (bot/config.py EXCEPTION_DELAY_COMPENSATION_AFTER)."""

    # A delay longer than this leads to a compensation offer.
    compensate_after: timedelta = timedelta(hours=48)
    # The company's time zone: new expected times are typed and shown in it.
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class ExceptionSetup:
    """What the exception use cases share: the clock, the SLA context, the notifier and the settings."""

    clock: Clock
    sla: SlaContext | None = None
    handlers: EventHandlers = field(default_factory=dict)
    settings: ExceptionSettings = field(default_factory=ExceptionSettings)
    catalog: CauseCatalog = field(default_factory=cause_catalog)
    company_cancellation: CompanyCancellation | None = None
    compensation_owed: CompensationOwed | None = None


class CaseNotFound(DomainError):
    """No exception case with this id (or none open on the order)."""


class CaseOpenAlready(DomainError):
    """The order has an open exception case; it is handled before another is marked."""

    def __init__(self, case: ExceptionCase) -> None:
        self.case = case
        super().__init__(f"order {case.order_id} has open exception case {case.id}")


def clean_note(text: str) -> str:
    """A note as kept: no control characters, trimmed, at most NOTE_MAX characters."""
    return without_controls(text).strip()[:NOTE_MAX]


async def actor_roles(uow: ExceptionUnitOfWork, actor_id: int | None) -> frozenset[Role]:
    """The actor's roles as the database holds them now."""
    if actor_id is None:
        return frozenset({Role.SYSTEM})
    return await uow.staff.roles_of(actor_id)


async def open_case(
    uow: ExceptionUnitOfWork,
    order: Order,
    action: Action,
    *,
    actor_id: int | None,
    roles: frozenset[Role],
    kind: ExceptionType,
    cause: str | None,
    note: str,
    now: datetime,
    setup: ExceptionSetup,
) -> ExceptionCase:
    """Puts the order into EXCEPTION through the table and opens its case, in the caller's transaction."""
    known = await uow.exceptions.open_of(order.id)
    if known is not None:
        raise CaseOpenAlready(known)
    role = require(roles, action)
    order.apply(action, actor_id=actor_id, roles=roles, now=now, note=note, exception_type=kind)
    case = ExceptionCase(
        order_id=order.id,
        type=kind,
        cause=cause,
        note=note,
        department=setup.catalog.department_of(kind),
        opened_at=now,
        opened_by=actor_id,
    )
    case.add_step(StepKind.OPENED, at=now, actor_id=actor_id, role=role, note=note)
    case_id = await uow.exceptions.add(case)
    order.record(ExceptionRaised(order.event_id(), order.id, now, case_id, kind, cause, note))
    if setup.sla is not None:
        sync_clocks(order, now, setup.sla)
        if kind is ExceptionType.DELAY and cause is not None:
            # The one who marks the delay knows its cause: the 2-hour cause clock ends as it starts.
            apply_clock_events(order, [ClockEvent.DELAY_CAUSE_FOUND], now, setup.sla)
    return case


async def raise_exception(
    uow: ExceptionUnitOfWork,
    order_id: str,
    *,
    actor_id: int,
    kind: ExceptionType,
    cause: str | None = None,
    note: str,
    setup: ExceptionSetup,
    action: Action = Action.RAISE_EXCEPTION,
) -> ExceptionCase:
    """Marks an exception on the order (R-6): the order goes to EXCEPTION and its case opens."""
    if kind not in MARKABLE:
        raise DomainError(f"{kind.value} exceptions are not marked here")
    cause = setup.catalog.check(kind, cause)
    text = clean_note(note)
    async with uow:
        order = await uow.orders.get(order_id)
        roles = await actor_roles(uow, actor_id)
        now = setup.clock.now()
        if kind is ExceptionType.CUSTOMS_HOLD:
            order.shipment.hold_reason, order.shipment.held_at = text or None, now
        case = await open_case(
            uow,
            order,
            action,
            actor_id=actor_id,
            roles=roles,
            kind=kind,
            cause=cause,
            note=text,
            now=now,
            setup=setup,
        )
        await commit_change(order, uow, now, setup.handlers, None)
    return case


async def load_case(uow: ExceptionUnitOfWork, case_id: int) -> ExceptionCase:
    """A case by id, or CaseNotFound."""
    case = await uow.exceptions.get(case_id)
    if case is None:
        raise CaseNotFound(f"no exception case {case_id}")
    return case


async def load_case_and_order(uow: ExceptionUnitOfWork, case_id: int) -> tuple[ExceptionCase, Order]:
    """A case by id (or CaseNotFound) and its order."""
    case = await load_case(uow, case_id)
    return case, await uow.orders.get(case.order_id)


async def case_of_order(uow: ExceptionUnitOfWork, order_id: str) -> ExceptionCase | None:
    """The order's open case, if any."""
    async with uow:
        return await uow.exceptions.open_of(order_id)


async def close_case(
    uow: ExceptionUnitOfWork,
    case_id: int,
    *,
    actor_id: int,
    result: CaseResult,
    note: str = "",
    setup: ExceptionSetup,
) -> ExceptionCase:
    """Closes a case with its result (R-6.5): the order resumes, or the company cancels it."""
    text = clean_note(note)
    async with uow:
        case, order = await load_case_and_order(uow, case_id)
        roles = await actor_roles(uow, actor_id)
        now = setup.clock.now()
        role = require(roles, Action.RESOLVE_EXCEPTION)
        if order.status is not OrderStatus.EXCEPTION:
            raise IllegalTransition(order.status, Action.RESOLVE_EXCEPTION)
        case.close(result, at=now, actor_id=actor_id, role=role, note=text)
        if result in CANCELLING:
            # The order stays in exception until the order desk cancels it as the company (issue 13's
            # cancel_by_company, from the card ExceptionClosed sends the desk), unless wired here.
            order.note(
                text or result.value, actor_id=actor_id, role=role, now=now, action="exception_outcome"
            )
            if setup.company_cancellation is not None:
                await setup.company_cancellation(uow, order, actor_id, roles, text or result.value, now)
        else:
            order.apply(
                Action.RESOLVE_EXCEPTION, actor_id=actor_id, roles=roles, now=now, note=text or result.value
            )
            if result is CaseResult.RELEASED:
                order.shipment.hold_reason = None
        draft = prefilled_record(case)
        order.record(
            ExceptionClosed(order.event_id(), order.id, now, case_id, result.value, case.type, draft)
        )
        await uow.exceptions.save(case)
        if setup.sla is not None:
            sync_clocks(order, now, setup.sla)
        await commit_change(order, uow, now, setup.handlers, None)
    return case


async def complete_record(
    uow: ExceptionUnitOfWork, case_id: int, *, actor_id: int, text: str | None, setup: ExceptionSetup
) -> ExceptionCase:
    """The order desk completes a closed case's exception record (R-6.5); None keeps the prefilled draft."""
    async with uow:
        case, order = await load_case_and_order(uow, case_id)
        roles = await actor_roles(uow, actor_id)
        role = require(roles, Duty.RECORD_EXCEPTION)
        if order.status is OrderStatus.EXCEPTION:
            # Goods customs returned or destroyed: the company's cancellation comes first (its record clock).
            raise IllegalTransition(order.status, "complete_exception_record")
        now = setup.clock.now()
        body = without_controls(text).strip() if text is not None else prefilled_record(case)
        if not body:
            raise DomainError("the exception record is empty")
        case.complete_record(body, at=now, actor_id=actor_id, role=role)
        order.note(
            f"exception case {case_id}", actor_id=actor_id, role=role, now=now, action="exception_recorded"
        )
        await commit_case_step(uow, case, order, now, setup, [ClockEvent.EXCEPTION_RECORDED])
    return case


async def commit_case_step(
    uow: ExceptionUnitOfWork,
    case: ExceptionCase,
    order: Order,
    now: datetime,
    setup: ExceptionSetup,
    ends: Sequence[ClockEvent] = (),
) -> None:
    """Saves the case's new step and commits the order with it: the clocks the step ends, its notices."""
    await uow.exceptions.save(case)
    if ends and setup.sla is not None:
        apply_clock_events(order, ends, now, setup.sla)
    await commit_change(order, uow, now, setup.handlers, None)


async def load_open_case(
    uow: ExceptionUnitOfWork, case_id: int, actor_id: int | None
) -> tuple[ExceptionCase, Order, frozenset[Role]]:
    """Loads an open case, its order and the actor's roles."""
    case, order = await load_case_and_order(uow, case_id)
    if not case.open:
        raise CaseClosed(f"exception case {case_id} is closed")
    return case, order, await actor_roles(uow, actor_id)


async def tell_customer(
    uow: ExceptionUnitOfWork, case_id: int, *, actor_id: int, text: str, setup: ExceptionSetup
) -> ExceptionCase:
    """Customer service sends the customer the (edited) notice of a delay or customs hold (R-6.3).

    For a customs hold the customer is asked for the documents customs needs and may upload them
    in the chat. Emits customer_told, which ends the delay_notice clock.
    """
    body = required_text(text, NOTE_MAX, "the message to the customer is empty")
    async with uow:
        case, order, roles = await load_open_case(uow, case_id, actor_id)
        role = require(roles, Duty.TELL_CUSTOMER_OF_EXCEPTION)
        now = setup.clock.now()
        case.add_step(StepKind.CUSTOMER_TOLD, at=now, actor_id=actor_id, role=role, note=body)
        order.note(body, actor_id=actor_id, role=role, now=now, action="exception_customer_told")
        asks = case.type is ExceptionType.CUSTOMS_HOLD
        order.record(CustomerToldOfException(order.event_id(), order.id, now, case_id, body, asks))
        await commit_case_step(uow, case, order, now, setup, [ClockEvent.CUSTOMER_TOLD])
    return case


async def answer_satisfaction(
    uow: ExceptionUnitOfWork, case_id: int, *, customer_id: int, satisfied: bool, setup: ExceptionSetup
) -> bool:
    """The customer's one tap on a closed case (R-6.5); False if they answered already."""
    async with uow:
        case, order = await load_case_and_order(uow, case_id)
        order.require_customer(customer_id, "answer_exception")
        now = setup.clock.now()
        if not case.answer(satisfied, at=now, customer_id=customer_id):
            return False
        await uow.exceptions.save(case)
        await uow.commit()
    return True
