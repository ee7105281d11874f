"""Changes to a placed order (issue 13, R-6.2): ask for one, the order desk applies it, a new service.

Who applies a change: the customer (or customer service for a hotline caller, with the caller's
consent recorded, R-1.4) enters it and it is checked at once with the intake rules; an address or
contact change then waits for the order desk, which applies it with one press within the hour (the
`modification` clock opens on the request and closes when it is applied or refused); the
warehouse is told and gets the updated card. A service change is applied at once, at the new quote
the customer agreed to, and the order goes back through first review: the desk's review is the
check. An address in another tariff zone is re-quoted the same way when the desk applies it.

Service change, for other flows (helper `cancel`: "another service at a new quote" after a company
cancellation) - two entry points:

    outcome = await change_service(
        uow,                       # a FinanceUnitOfWork (the SQL and fake units of work are)
        order_id,
        Service.SEA_FREIGHT,
        actor=Actor(user_id, roles),   # roles loaded from the database; a customer: {Role.CUSTOMER}
        setup=review_setup,        # application.review.ReviewSetup: clock, sla, handlers
        expected_amount=Decimal("180.00"),  # the new amount the customer agreed to, or None
        consent=Consent.IN_CHAT,   # or Consent.BY_PHONE with consent_note (who recorded it)
        consent_note="",
    ) -> ServiceChangeOutcome(order, record, price)

`change_service(...)` opens and commits its own unit of work (joining one the caller has open).
`service_change_in(uow, order, service, *, actor, now, sla, consent, consent_note, expected_amount)`
does the same inside the caller's open unit of work without committing (the caller then calls
commit_change). Both need the order in a status whose matrix row offers a service change
(domain/data/order_requests.toml): a flow that interrupted the order (an exception) moves it back
out of the interruption first, in the same unit of work. They raise ChangeRefused (reason and who
moved the order on, when), NothingChanged, QuoteChanged (the price is not expected_amount any
more), NotPermitted. A higher price leaves the difference to pay through the payment flow (the
order is unpaid for Order.outstanding: invoice or transfer receipt); a lower one records a refund
due with finance (application/finance.py owe, reason PRICE_DIFFERENCE), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from application.finance import FinanceUnitOfWork, owe
from application.review import ReviewSetup
from application.services import Actor, commit_change
from domain.errors import ConcurrentModification, NotPermitted
from domain.finance import MoneyKind, OwedReason
from domain.orders.change_record import ChangeRecord, ChangeStatus, Consent
from domain.orders.changes import (
    ChangeRefused,
    PriceChange,
    QuoteChanged,
    address_price,
    apply_change,
    change_of,
    request_change,
    service_price,
)
from domain.orders.changes import change_service as apply_service_change
from domain.orders.model import Order
from domain.orders.requests import OrderRequestKind, change_refusal
from domain.orders.responsibilities import Duty, may, require
from domain.orders.status import Role, Service
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, apply_clock_events
from domain.sla.policy import ClockEvent
from domain.sla.policy_file import shipped_policy

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceChangeOutcome:
    """What a service change did: the order afterwards, its change record and the re-quote."""

    order: Order
    record: ChangeRecord
    price: PriceChange


@dataclass(frozen=True)
class ApplyOutcome:
    """What the order desk's press did: the order afterwards and the change, applied."""

    order: Order
    record: ChangeRecord


def _check_actor(order: Order, actor: Actor) -> tuple[Role, Consent]:
    """The customer changes their own order; staff file one with the caller's consent (R-1.4)."""
    if actor.roles & {Role.CUSTOMER_SERVICE, Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN}:
        return require(actor.roles, Duty.FILE_CHANGE), Consent.BY_PHONE
    if actor.user_id is None or order.customer.telegram_user_id != actor.user_id:
        raise NotPermitted("change_order", actor.roles)
    return Role.CUSTOMER, Consent.IN_CHAT


async def _retrying(uow: FinanceUnitOfWork, attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs a unit of work again once after a lost race, so the answer is judged on what won."""
    try:
        return await attempt()
    except ConcurrentModification:
        # The winner's change is read afresh: a change racing an outbound scan is refused with who and when.
        async with uow:
            await uow.rollback()
        return await attempt()


async def ask_for_change(
    uow: FinanceUnitOfWork,
    order_id: str,
    kind: OrderRequestKind,
    new: Mapping[str, str],
    *,
    actor: Actor,
    setup: ReviewSetup,
    consent_note: str = "",
) -> ChangeRecord:
    """Records an address or contact change (checked already) for the order desk; opens its 1-hour clock."""

    async def attempt() -> ChangeRecord:
        async with uow:
            order = await uow.orders.get(order_id)
            role, consent = _check_actor(order, actor)
            now = setup.clock.now()
            record = request_change(
                order,
                kind,
                new,
                actor_id=actor.user_id,
                role=role,
                consent=consent,
                consent_note=consent_note,
                now=now,
            )
            if setup.sla is not None:
                apply_clock_events(order, [ClockEvent.MODIFICATION_REQUESTED], now, setup.sla)
            await commit_change(order, uow, now, setup.handlers, setup.sla)
            return record

    return await _retrying(uow, attempt)


async def apply_requested_change(
    uow: FinanceUnitOfWork, order_id: str, number: int, *, actor: Actor, setup: ReviewSetup
) -> ApplyOutcome:
    """The order desk's one press: applies the waiting change, or records why it came too late.

    Raises ChangeAlreadyDecided for a change decided already (with who and when) and ChangeRefused
    (committed: the customer is told the alternative) when the order moved on first.
    """

    async def attempt() -> ApplyOutcome:
        async with uow:
            order = await uow.orders.get(order_id)
            require(actor.roles, Duty.APPLY_CHANGE)
            record = change_of(order, number)
            now = setup.clock.now()
            kind = OrderRequestKind(record.kind)
            late = record.status is ChangeStatus.PENDING and change_refusal(kind, order.status) is not None
            price = None
            if not late and record.status is ChangeStatus.PENDING and kind is OrderRequestKind.ADDRESS:
                price = address_price(order, record.new["country"])
                if price is not None:
                    role = require(actor.roles, Duty.APPLY_CHANGE)
                    await _owe_difference(uow, order, price, actor.user_id, role, now, _sla(setup))
            try:
                applied = apply_change(
                    order, number, actor_id=actor.user_id or 0, roles=actor.roles, price=price, now=now
                )
            except ChangeRefused:
                await _close(order, uow, now, setup)
                raise
            await _close(order, uow, now, setup)
            return ApplyOutcome(order, applied)

    return await _retrying(uow, attempt)


async def _close(order: Order, uow: FinanceUnitOfWork, now: datetime, setup: ReviewSetup) -> None:
    """Ends the change's clock and commits the order with its notices."""
    if setup.sla is not None:
        apply_clock_events(order, [ClockEvent.MODIFICATION_DONE], now, setup.sla)
        if any(record.status is ChangeStatus.PENDING for record in order.changes):
            # Another change still waits (the other field): its hour runs on a clock of its own from now.
            apply_clock_events(order, [ClockEvent.MODIFICATION_REQUESTED], now, setup.sla)
    await commit_change(order, uow, now, setup.handlers, setup.sla)


def shipped_sla() -> SlaContext:
    """The shipped SLA policy on the default business calendar."""
    return SlaContext(shipped_policy(), BusinessCalendar())


def _sla(setup: ReviewSetup) -> SlaContext:
    """The SLA policy and calendar of the setup; the shipped ones when none is wired (a refund's due date)."""
    return setup.sla or SlaContext(shipped_policy(), BusinessCalendar(setup.timezone))


async def _owe_difference(
    uow: FinanceUnitOfWork,
    order: Order,
    price: PriceChange,
    actor_id: int | None,
    role: Role,
    now: datetime,
    sla: SlaContext,
) -> None:
    """Records the refund of a lower price with finance, before the order's amount changes."""
    if price.to_refund <= 0:
        return
    await owe(
        uow,
        order,
        kind=MoneyKind.REFUND,
        amount=price.to_refund,
        currency=order.currency,
        reason=OwedReason.PRICE_DIFFERENCE,
        note=f"{price.before} → {price.after} {order.currency}",
        now=now,
        sla=sla,
        actor_id=actor_id,
        role=role,
    )


async def service_change_in(
    uow: FinanceUnitOfWork,
    order: Order,
    service: Service,
    *,
    actor: Actor,
    now: datetime,
    sla: SlaContext | None,
    consent: Consent | None = None,
    consent_note: str = "",
    expected_amount: Decimal | None = None,
) -> ServiceChangeOutcome:
    """Changes the service of an order loaded in the caller's open unit of work (the caller commits)."""
    role, own_consent = _check_actor(order, actor)
    price = service_price(order, service)
    if expected_amount is not None and price.after != expected_amount:
        raise QuoteChanged(f"the new price of order {order.display_id} is {price.after} {order.currency}")
    await _owe_difference(uow, order, price, actor.user_id, role, now, sla or shipped_sla())
    roles = actor.roles if may(actor.roles, Duty.FILE_CHANGE) else frozenset({Role.CUSTOMER})
    record = apply_service_change(
        order,
        service,
        price,
        actor_id=actor.user_id,
        roles=roles,
        consent=consent or own_consent,
        consent_note=consent_note,
        now=now,
    )
    return ServiceChangeOutcome(order, record, price)


async def change_service(
    uow: FinanceUnitOfWork,
    order_id: str,
    service: Service,
    *,
    actor: Actor,
    setup: ReviewSetup,
    expected_amount: Decimal | None = None,
    consent: Consent | None = None,
    consent_note: str = "",
) -> ServiceChangeOutcome:
    """Changes the order's service at its new quote in one transaction; back through first review."""

    async def attempt() -> ServiceChangeOutcome:
        async with uow:
            order = await uow.orders.get(order_id)
            now = setup.clock.now()
            outcome = await service_change_in(
                uow,
                order,
                service,
                actor=actor,
                now=now,
                sla=setup.sla,
                consent=consent,
                consent_note=consent_note,
                expected_amount=expected_amount,
            )
            await commit_change(order, uow, now, setup.handlers, setup.sla)
            return outcome

    return await _retrying(uow, attempt)


async def quote_service(
    uow: FinanceUnitOfWork, order_id: str, service: Service, *, actor: Actor
) -> PriceChange:
    """The re-quote the customer is shown before agreeing to a service change (nothing is changed)."""
    async with uow:
        order = await uow.orders.get(order_id)
        _check_actor(order, actor)
        return service_price(order, service)
