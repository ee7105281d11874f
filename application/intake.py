"""Intake use cases (R-1, R-2): place, resubmit and platform orders, each in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from application.ports import ApiOrderLink, PlatformUnitOfWork, UnitOfWork
from application.services import EventHandlers, commit_change
from domain.clock import Clock
from domain.errors import DomainError, NotPermitted
from domain.intake.drafts import (
    CUSTOMER,
    SUBMIT_ACTION,
    IdempotencyConflict,
    OrderDraft,
    _build_order,
    _pass_validation,
    _submission_note,
    check_draft,
    quote_for,
)
from domain.intake.entry import record_entry
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.goods import review_flags, trimmed
from domain.intake.history import changes
from domain.intake.pricing import Quote
from domain.orders.model import AuditEvent, Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, Channel, OrderStatus, Role, next_status
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import shipped_policy


@dataclass(frozen=True)
class PlacedOrder:
    """A stored order with its quote, its second-review flags and, for a late offline entry, by how much."""

    order: Order
    quote: Quote
    review_flags: tuple[FieldError, ...] = ()
    late_by: timedelta | None = None


@dataclass(frozen=True)
class PlatformOrder(PlacedOrder):
    """The answer to a platform order request: a placed order, and whether it was a retry."""

    replayed: bool = False


async def _submitter(uow: UnitOfWork, draft: OrderDraft, channel: Channel) -> tuple[int | None, Role]:
    """Says who submits the order and in which role; offline entry needs an order-desk role (R-1.3)."""
    if channel.offline:
        assert draft.entered_by is not None
        roles = await uow.staff.roles_of(draft.entered_by)
        return draft.entered_by, require(roles, Duty.ENTER_OFFLINE_ORDER)
    if channel is Channel.TELEGRAM:
        return draft.customer.telegram_user_id, Role.CUSTOMER
    # A platform orders on the customer's behalf; the audit note names the platform's key.
    return None, Role.CUSTOMER


def _checked_quote(draft: OrderDraft, now: datetime) -> Quote:
    """Checks the whole draft and prices it; raises InvalidInput listing every problem."""
    errors = check_draft(draft, now)
    if errors:
        raise InvalidInput(errors)
    return quote_for(draft)


async def _prepare(uow: UnitOfWork, draft: OrderDraft, now: datetime, sla: SlaContext | None) -> PlacedOrder:
    """Checks the draft and builds the submitted, validated order (not yet stored)."""
    order_quote = _checked_quote(draft, now)
    channel = Channel(draft.channel)
    actor = await _submitter(uow, draft, channel)
    order = _build_order(draft, channel, order_quote, now)
    actor_id, role = actor
    order.audit.append(
        AuditEvent(
            now, actor_id, role, SUBMIT_ACTION, None, OrderStatus.SUBMITTED, _submission_note(draft, channel)
        )
    )
    late_by = None
    if channel.offline:
        assert draft.received_at is not None
        late_by = record_entry(order, draft.received_at, sla.policy if sla else shipped_policy(), actor, now)
    flags = _pass_validation(order, draft, now, sla)
    return PlacedOrder(order, order_quote, flags, late_by)


async def place_order(
    uow: UnitOfWork,
    draft: OrderDraft,
    clock: Clock,
    *,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> PlacedOrder:
    """Checks a draft and stores it as a new order waiting for review (its review clock running, given sla).

    Raises InvalidInput, storing nothing, if the draft is invalid.
    """
    async with uow:
        now = clock.now()
        placed = await _prepare(uow, draft, now, sla)
        await uow.orders.add(placed.order)
        await commit_change(placed.order, uow, now, handlers or {}, None)
    return placed


async def resubmit_order(
    uow: UnitOfWork,
    order_id: str,
    draft: OrderDraft,
    clock: Clock,
    *,
    actor_id: int,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> PlacedOrder:
    """Replaces a rejected order's details with the corrected draft and sends it for review again (R-3.1).

    The order keeps its id and reference and is priced anew. Raises NotPermitted unless the actor is
    the order's own customer, IllegalTransition if the order is not waiting for a fix, InvalidInput
    if the draft is invalid, OrderNotFound if there is no such order; each before anything changes.
    """
    async with uow:
        order = await uow.orders.get(order_id)
        owner = order.customer.telegram_user_id
        if owner is None or owner != actor_id:
            raise NotPermitted(Action.RESUBMIT, CUSTOMER)
        next_status(order.status, Action.RESUBMIT, order.service, order.resume_status)
        now = clock.now()
        order_quote = _checked_quote(draft, now)
        corrected = _build_order(draft, order.channel, order_quote, now)
        changed = changes(order, corrected)
        note = ("corrected by the customer: " + "; ".join(changed)) if changed else "sent again unchanged"
        order.apply(Action.RESUBMIT, actor_id=actor_id, roles=CUSTOMER, now=now, note=note)
        order.revise(
            customer=replace(corrected.customer, telegram_user_id=owner),
            address=corrected.address,
            items=corrected.items,
            service=corrected.service,
            payment_method=corrected.payment_method,
            amount=corrected.amount,
            currency=corrected.currency,
            remarks=corrected.remarks,
            requirements=corrected.requirements,
        )
        flags = _pass_validation(order, draft, now, sla)
        await commit_change(order, uow, now, handlers or {}, None)
    return PlacedOrder(order, order_quote, flags)


async def place_platform_order(
    uow: PlatformUnitOfWork,
    draft: OrderDraft,
    clock: Clock,
    *,
    key_name: str,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> PlatformOrder:
    """Places an order sent by a platform (R-1.1); a retry with the same key and request gets the same order.

    fingerprint identifies the request body: the same Idempotency-Key with another fingerprint
    raises IdempotencyConflict.
    """
    draft = replace(draft, channel=Channel.PLATFORM_API, source=key_name)
    async with uow:
        if idempotency_key is not None:
            earlier = await _earlier(uow, draft, key_name, idempotency_key, fingerprint)
            if earlier is not None:
                return earlier
        now = clock.now()
        placed = await _prepare(uow, draft, now, sla)
        await uow.orders.add(placed.order)
        link = ApiOrderLink(
            key_name=key_name,
            order_id=placed.order.id,
            created_at=now,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            external_ref=trimmed(draft.external_ref) or None,
        )
        if not await uow.api.add(link):
            # Another request with the same key committed first: answer as its retry.
            await uow.rollback()
            assert idempotency_key is not None
            earlier = await _earlier(uow, draft, key_name, idempotency_key, fingerprint)
            if earlier is None:
                raise DomainError("the Idempotency-Key was taken but its order is gone")
            return earlier
        await commit_change(placed.order, uow, now, handlers or {}, None)
    return PlatformOrder(placed.order, placed.quote, placed.review_flags)


async def _earlier(
    uow: PlatformUnitOfWork, draft: OrderDraft, key_name: str, idempotency_key: str, fingerprint: str | None
) -> PlatformOrder | None:
    """Returns the order an earlier request with this Idempotency-Key made, or None if there was none."""
    link = await uow.api.by_idempotency_key(key_name, idempotency_key)
    if link is None:
        return None
    order = await uow.orders.get(link.order_id)
    if link.fingerprint != fingerprint:
        raise IdempotencyConflict(idempotency_key, order.reference)
    # Same request body, so the same quote (the tariff is data and changes only with a release).
    return PlatformOrder(
        order, quote_for(draft), replayed=True, review_flags=tuple(review_flags(draft.items))
    )


async def find_platform_order(
    uow: PlatformUnitOfWork, key_name: str, reference_or_number: str
) -> tuple[Order, ApiOrderLink] | None:
    """Finds an order the API key created, by reference or number; other keys' orders are not found."""
    async with uow:
        order = await uow.orders.find(reference_or_number)
        if order is None:
            return None
        link = await uow.api.by_order(order.id)
        if link is None or link.key_name != key_name:
            return None
        return order, link
