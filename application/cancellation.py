"""Cancellation use cases (issue 13, R-6.1): by the customer (or customer service for them), by the company.

Every step loads the order and its latest cancellation in one unit of work, checks who acts (roles
from the database), changes the order only through Order.apply(), owes the refund through finance's
owe() and commits it all, notices included, at once. A step is taken from one cancellation state
only: a stale button or a second press finds the state moved on and gets StepTaken (who, when).

The paths (domain/cancellation.py):

- before confirmation: request_cancellation() cancels at once (refund if paid);
- confirmed, not yet outbound: request_cancellation() holds the order (cancellation requested,
  cancel_check and cancel_done clocks), check_cancellation() is customer service's check, and
  cancel_held() the order desk's cancellation with the refund;
- outbound already: request_cancellation() holds it, propose_recall() is customer service's terms
  (share of the freight, the tariff's default), answer_recall() the customer's accept (logistics'
  recall task) or decline (the order goes on), goods_back() logistics' record that the goods are
  back: cancelled and refunded less the agreed charge;
- by the company: cancel_by_company(), then offer_alternatives() by customer service and
  choose_alternative() by the customer.

For other features (the exceptions helper's goods customs returned or destroyed), the company's
cancellation is started with:

    cancellation = await cancel_by_company(
        uow,                 # a CancellationUnitOfWork (and FinanceUnitOfWork), NOT open: it opens it
        order_id,            # the order's id; under way (confirmed .. out for delivery) or in exception
        actor,               # application.services.Actor of the order desk (or customer service)
        reason,              # why the service cannot be provided, shown to customer service and customer
        setup,               # CancellationSetup (clock, handlers, sla)
        other_service=True,  # False when another service makes no sense (goods destroyed)
    )

`async def cancel_by_company(uow: CancellationUnitOfWork, order_id: str, actor: Actor, reason: str,
setup: CancellationSetup, *, other_service: bool = True) -> Cancellation`. It raises
CancellationError("not_cancellable") for an order in another status, ("open") when a cancellation
of the order is under way, ("reason.short") for an empty reason, NotPermitted for other roles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from application.finance import FinanceUnitOfWork, owe
from application.services import Actor, EventHandlers, commit_change
from domain.cancellation import (
    COMPANY_CANCELLABLE,
    Alternative,
    Cancellation,
    CancellationChanged,
    CancellationError,
    CancellationPath,
    CancellationState,
    CancellationStep,
    clean_reason,
    default_recall_share,
    path_for,
    recall_charge,
    refund_amount,
)
from domain.clock import Clock
from domain.errors import DomainError, NotPermitted
from domain.finance import MoneyKind, OwedReason
from domain.orders.model import Order
from domain.orders.responsibilities import require
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from domain.sla.clocks import SlaContext, apply_clock_events
from domain.sla.policy import ClockEvent

CUSTOMER = frozenset({Role.CUSTOMER})
# Who may file a cancellation for a customer who called (with their consent, R-1.4).
FILERS = frozenset({Role.CUSTOMER_SERVICE, Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN})
CONSENT_MAX = 200


class CancellationRepository(Protocol):
    """Cancellations of orders; a step is written only from the state it was taken in."""

    async def add(self, cancellation: Cancellation) -> int: ...

    async def latest_for(self, order_id: str) -> Cancellation | None: ...

    async def save(self, cancellation: Cancellation, *, was: CancellationState) -> bool: ...


class CancellationUnitOfWork(FinanceUnitOfWork, Protocol):
    """A unit of work that knows cancellations and the money owed."""

    cancellations: CancellationRepository


# The service-change use case of the change flow (issue 13, R-6.2), when it is wired in.
ServiceChange = Callable[[CancellationUnitOfWork, Order, Actor, datetime], Awaitable[None]]


@dataclass(frozen=True)
class CancellationSetup:
    """What the cancellation use cases need besides the unit of work."""

    clock: Clock
    handlers: EventHandlers = field(default_factory=dict)
    sla: SlaContext | None = None


class StepTaken(DomainError):
    """The cancellation has moved on: somebody took this step (or another) already."""

    def __init__(self, cancellation: Cancellation | None) -> None:
        self.cancellation = cancellation
        super().__init__("this cancellation step was taken already")


@dataclass(frozen=True)
class Outcome:
    """What a step did: the order and its cancellation as they stand now."""

    order: Order
    cancellation: Cancellation


def _role(actor: Actor, action: Action | None = None) -> Role:
    """The role the actor acts in (for the trail), checked against the action if one is named."""
    if action is not None:
        return require(actor.roles, action)
    return sorted(actor.roles)[0] if actor.roles else Role.SYSTEM


def _tell(order: Order, step: CancellationStep, cancellation: Cancellation, now: datetime) -> None:
    """Records the step for the notification policy (the event id is the trail line just written)."""
    order.record(CancellationChanged(order.event_id(), order.id, now, step, cancellation))


async def _owe_refund(
    uow: CancellationUnitOfWork,
    order: Order,
    cancellation: Cancellation,
    reason: OwedReason,
    actor: Actor,
    now: datetime,
    setup: CancellationSetup,
) -> None:
    """Owes the customer what they paid (less an agreed recall charge) through finance, if anything."""
    amount = refund_amount(order, cancellation.charge)
    cancellation.refund = amount
    if amount <= 0 or setup.sla is None:
        return
    note = cancellation.reason or cancellation.path.value
    if cancellation.charge:
        note = f"{note}; recall charge {cancellation.charge} {order.currency}"
    await owe(
        uow,
        order,
        kind=MoneyKind.REFUND,
        amount=amount,
        currency=order.currency,
        reason=reason,
        note=note,
        now=now,
        sla=setup.sla,
        actor_id=actor.user_id,
        role=_role(actor),
    )


async def _cancel_for_good(
    uow: CancellationUnitOfWork,
    order: Order,
    cancellation: Cancellation,
    reason: OwedReason,
    actor: Actor,
    now: datetime,
    setup: CancellationSetup,
    *,
    note: str = "",
) -> None:
    """Confirms the cancellation, owes back what was paid (less an agreed charge) and commits it, told."""
    order.apply(Action.CONFIRM_CANCELLATION, actor_id=actor.user_id, roles=actor.roles, now=now, note=note)
    await _owe_refund(uow, order, cancellation, reason, actor, now, setup)
    await _move_on(
        uow, order, cancellation, CancellationState.CANCELLED, CancellationStep.CANCELLED, actor, now, setup
    )


async def _move_on(
    uow: CancellationUnitOfWork,
    order: Order,
    cancellation: Cancellation,
    state: CancellationState,
    step: CancellationStep,
    actor: Actor,
    now: datetime,
    setup: CancellationSetup,
) -> None:
    """Moves the cancellation on to the state (saved only from the one it was in), tells the step, commits."""
    was = cancellation.state
    _decided(cancellation, state, actor, now)
    await _save(uow, cancellation, was)
    _tell(order, step, cancellation, now)
    await _commit(order, uow, now, setup)


async def _commit(order: Order, uow: CancellationUnitOfWork, now: datetime, setup: CancellationSetup) -> None:
    """Commits the order's change with its clocks and notices."""
    await commit_change(order, uow, now, setup.handlers, setup.sla)


async def _load(
    uow: CancellationUnitOfWork, order_id: str, expected: frozenset[CancellationState]
) -> tuple[Order, Cancellation]:
    """Loads the order and its latest cancellation, which must be in one of the expected states."""
    order = await uow.orders.get(order_id)
    cancellation = await uow.cancellations.latest_for(order_id)
    if cancellation is None or cancellation.state not in expected:
        raise StepTaken(cancellation)
    return order, cancellation


async def _save(uow: CancellationUnitOfWork, cancellation: Cancellation, was: CancellationState) -> None:
    """Writes the step; a racing step that won first makes this one StepTaken."""
    if not await uow.cancellations.save(cancellation, was=was):
        raise StepTaken(await uow.cancellations.latest_for(cancellation.order_id))


def _decided(cancellation: Cancellation, state: CancellationState, actor: Actor, now: datetime) -> None:
    """Moves the cancellation to a state, recording who and when."""
    cancellation.state, cancellation.decided_by, cancellation.decided_at = state, actor.user_id, now


def _reviewed(order: Order, now: datetime, setup: CancellationSetup) -> None:
    """Customer service has checked the cancellation: its 1-hour check clock closes (R-6.1)."""
    if setup.sla is not None:
        apply_clock_events(order, [ClockEvent.CANCELLATION_REVIEWED], now, setup.sla)


async def request_cancellation(
    uow: CancellationUnitOfWork,
    order_id: str,
    actor: Actor,
    setup: CancellationSetup,
    *,
    consent: str = "",
) -> Outcome:
    """A customer's cancellation of their own order, or staff's for them with their consent (R-6.1, R-1.4)."""
    consent = " ".join(consent.split())[:CONSENT_MAX]
    async with uow:
        order = await uow.orders.get(order_id)
        if Role.CUSTOMER in actor.roles and not actor.roles & FILERS:
            if order.customer.telegram_user_id != actor.user_id:
                raise NotPermitted(Action.REQUEST_CANCELLATION, actor.roles)
            consent = ""
        elif not actor.roles & FILERS:
            raise NotPermitted(Action.REQUEST_CANCELLATION, actor.roles)
        elif not consent:
            raise CancellationError("consent.missing", order)
        latest = await uow.cancellations.latest_for(order_id)
        if latest is not None and not latest.state.closed:
            raise StepTaken(latest)
        try:
            path = path_for(order.status)
        except CancellationError as error:
            raise CancellationError(error.code, order) from None
        now = setup.clock.now()
        note = f"consent: {consent}" if consent else ""
        cancellation = Cancellation(
            order_id,
            path,
            CancellationState.REQUESTED,
            now,
            actor.user_id,
            consent=consent,
            currency=order.currency,
        )
        if path is CancellationPath.AT_ONCE:
            order.apply(Action.CANCEL, actor_id=actor.user_id, roles=actor.roles, now=now, note=note)
            _decided(cancellation, CancellationState.CANCELLED, actor, now)
            await _owe_refund(uow, order, cancellation, OwedReason.CANCELLATION, actor, now, setup)
            cancellation.id = await uow.cancellations.add(cancellation)
        else:
            order.apply(
                Action.REQUEST_CANCELLATION, actor_id=actor.user_id, roles=actor.roles, now=now, note=note
            )
            cancellation.id = await uow.cancellations.add(cancellation)
            _tell(order, CancellationStep.FILED, cancellation, now)
        await _commit(order, uow, now, setup)
    return Outcome(order, cancellation)


async def check_cancellation(
    uow: CancellationUnitOfWork, order_id: str, actor: Actor, setup: CancellationSetup
) -> Outcome:
    """Customer service has checked a held order's cancellation and passes it to the order desk (R-6.1)."""
    role = _role(actor, Action.DECLINE_CANCELLATION)
    if role is Role.CUSTOMER:
        raise NotPermitted(Action.DECLINE_CANCELLATION, actor.roles)
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.REQUESTED}))
        if cancellation.path is not CancellationPath.HOLD:
            raise StepTaken(cancellation)
        now = setup.clock.now()
        order.note("", actor_id=actor.user_id, role=role, now=now, action="cancellation_checked")
        _reviewed(order, now, setup)
        await _move_on(
            uow, order, cancellation, CancellationState.CHECKED, CancellationStep.CHECKED, actor, now, setup
        )
    return Outcome(order, cancellation)


async def cancel_held(
    uow: CancellationUnitOfWork, order_id: str, actor: Actor, setup: CancellationSetup
) -> Outcome:
    """The order desk cancels a held order (within 2 h of the request) and what was paid is owed back."""
    if Role.CUSTOMER in actor.roles and not actor.roles & FILERS:
        raise NotPermitted(Action.CONFIRM_CANCELLATION, actor.roles)
    async with uow:
        states = frozenset({CancellationState.REQUESTED, CancellationState.CHECKED})
        order, cancellation = await _load(uow, order_id, states)
        if cancellation.path is not CancellationPath.HOLD:
            raise StepTaken(cancellation)
        now = setup.clock.now()
        await _cancel_for_good(uow, order, cancellation, OwedReason.CANCELLATION, actor, now, setup)
    return Outcome(order, cancellation)


async def propose_recall(
    uow: CancellationUnitOfWork,
    order_id: str,
    actor: Actor,
    setup: CancellationSetup,
    *,
    share_percent: Decimal | None = None,
) -> Outcome:
    """Customer service proposes the recall terms: the share of the freight the customer bears (R-6.1)."""
    role = _role(actor, Action.DECLINE_CANCELLATION)
    if role is Role.CUSTOMER:
        raise NotPermitted(Action.DECLINE_CANCELLATION, actor.roles)
    share = default_recall_share() if share_percent is None else share_percent
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.REQUESTED}))
        if cancellation.path is not CancellationPath.RECALL:
            raise StepTaken(cancellation)
        now = setup.clock.now()
        cancellation.share_percent, cancellation.charge = share, recall_charge(order, share)
        terms = f"{share}% = {cancellation.charge} {order.currency}"
        order.note(terms, actor_id=actor.user_id, role=role, now=now, action="recall_terms")
        _reviewed(order, now, setup)
        await _move_on(
            uow,
            order,
            cancellation,
            CancellationState.TERMS_PROPOSED,
            CancellationStep.TERMS,
            actor,
            now,
            setup,
        )
    return Outcome(order, cancellation)


async def answer_recall(
    uow: CancellationUnitOfWork, order_id: str, customer_id: int, accept: bool, setup: CancellationSetup
) -> Outcome:
    """The customer accepts the recall terms (logistics brings the goods back) or declines (it goes on)."""
    actor = Actor(customer_id, CUSTOMER)
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.TERMS_PROPOSED}))
        order.require_customer(customer_id, Action.START_RECALL)
        now = setup.clock.now()
        if accept:
            order.apply(Action.START_RECALL, actor_id=customer_id, roles=CUSTOMER, now=now)
            state, step = CancellationState.RECALLING, CancellationStep.ACCEPTED
        else:
            order.apply(Action.DECLINE_CANCELLATION, actor_id=customer_id, roles=CUSTOMER, now=now)
            state, step = CancellationState.DECLINED, CancellationStep.DECLINED
        await _move_on(uow, order, cancellation, state, step, actor, now, setup)
    return Outcome(order, cancellation)


async def goods_back(
    uow: CancellationUnitOfWork, order_id: str, actor: Actor, setup: CancellationSetup
) -> Outcome:
    """Logistics records the recalled goods back: cancelled, refunded less the agreed charge (R-6.1)."""
    if not actor.roles & frozenset({Role.LOGISTICS, Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN}):
        raise NotPermitted(Action.CONFIRM_CANCELLATION, actor.roles)
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.RECALLING}))
        now = setup.clock.now()
        await _cancel_for_good(
            uow, order, cancellation, OwedReason.RECALL, actor, now, setup, note="goods back"
        )
    return Outcome(order, cancellation)


async def cancel_by_company(
    uow: CancellationUnitOfWork,
    order_id: str,
    actor: Actor,
    reason: str,
    setup: CancellationSetup,
    *,
    other_service: bool = True,
) -> Cancellation:
    """The order desk marks "service cannot be provided" with a reason; customer service is told (R-6.1)."""
    text = clean_reason(reason)
    if not actor.roles & FILERS:
        raise NotPermitted(Action.RAISE_EXCEPTION, actor.roles)
    async with uow:
        order = await uow.orders.get(order_id)
        if order.status not in COMPANY_CANCELLABLE:
            raise CancellationError("not_cancellable", order)
        latest = await uow.cancellations.latest_for(order_id)
        if latest is not None and not latest.state.closed:
            raise CancellationError("open", order)
        now = setup.clock.now()
        if order.status is OrderStatus.EXCEPTION:
            # Goods customs returned or destroyed: the exception becomes the company's cancellation.
            order.apply(
                Action.REQUEST_CANCELLATION, actor_id=actor.user_id, roles=actor.roles, now=now, note=text
            )
        else:
            order.apply(
                Action.RAISE_EXCEPTION,
                actor_id=actor.user_id,
                roles=actor.roles,
                now=now,
                note=text,
                exception_type=ExceptionType.COMPANY_CANCELLATION,
            )
        cancellation = Cancellation(
            order_id,
            CancellationPath.COMPANY,
            CancellationState.REQUESTED,
            now,
            actor.user_id,
            reason=text,
            currency=order.currency,
            other_service_offered=other_service,
        )
        cancellation.id = await uow.cancellations.add(cancellation)
        _tell(order, CancellationStep.CANNOT_SERVE, cancellation, now)
        await _commit(order, uow, now, setup)
    return cancellation


async def offer_alternatives(
    uow: CancellationUnitOfWork, order_id: str, actor: Actor, setup: CancellationSetup
) -> Outcome:
    """Customer service tells the customer and offers the alternatives (within 1 h, R-6.1)."""
    if not actor.roles & FILERS:
        raise NotPermitted(Action.RESOLVE_EXCEPTION, actor.roles)
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.REQUESTED}))
        if not cancellation.by_company:
            raise StepTaken(cancellation)
        now = setup.clock.now()
        order.note("", actor_id=actor.user_id, role=_role(actor), now=now, action="alternatives_offered")
        _reviewed(order, now, setup)
        await _move_on(
            uow, order, cancellation, CancellationState.OFFERED, CancellationStep.OFFERED, actor, now, setup
        )
    return Outcome(order, cancellation)


async def choose_alternative(
    uow: CancellationUnitOfWork,
    order_id: str,
    customer_id: int,
    choice: Alternative,
    setup: CancellationSetup,
    *,
    change_service: ServiceChange | None = None,
) -> Outcome:
    """The customer chooses: the cancellation (full refund) or another service at a new quote (R-6.1)."""
    actor = Actor(customer_id, CUSTOMER)
    async with uow:
        order, cancellation = await _load(uow, order_id, frozenset({CancellationState.OFFERED}))
        order.require_customer(customer_id, Action.CONFIRM_CANCELLATION)
        if choice is Alternative.OTHER_SERVICE and not cancellation.other_service_offered:
            raise CancellationError("other_service.not_offered", order)
        now = setup.clock.now()
        was = CancellationState.OFFERED
        if choice is Alternative.CANCEL:
            await _cancel_for_good(uow, order, cancellation, OwedReason.CANCELLATION, actor, now, setup)
            return Outcome(order, cancellation)
        back = (
            Action.RESOLVE_EXCEPTION if order.status is OrderStatus.EXCEPTION else Action.DECLINE_CANCELLATION
        )
        order.apply(back, actor_id=customer_id, roles=CUSTOMER, now=now, note="another service")
        _decided(cancellation, CancellationState.OTHER_SERVICE, actor, now)
        await _save(uow, cancellation, was)
        if change_service is not None:
            await change_service(uow, order, actor, now)
        _tell(order, CancellationStep.OTHER_SERVICE, cancellation, now)
        await _commit(order, uow, now, setup)
    return Outcome(order, cancellation)
