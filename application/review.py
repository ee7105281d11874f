"""Review use cases (R-3): first and second review, rejection, questions to the customer, confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from application.ports import UnitOfWork
from application.services import EventHandlers, commit_change, confirm_and_number, dispatch_events
from domain.clock import Clock
from domain.errors import DomainError, IllegalTransition, OrderNotFound
from domain.orders.events import CustomerAnswered, CustomerAsked, OrderRejected
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, OrderStatus, Role
from domain.payment import PaymentSource, awaits_payment, check_paid, settle
from domain.review import (
    QUESTION_MAX,
    RECEIPT_MAX,
    REVIEW_STATUSES,
    AlreadyHandled,
    RejectReason,
    ReviewPolicy,
    SecondReviewReason,
    check_four_eyes,
    last_decision,
    second_review_reasons,
)
from domain.sla.clocks import SlaContext, sync_clocks
from domain.text import required_text, without_controls


@dataclass(frozen=True)
class ReviewSetup:
    """What the review use cases need besides the unit of work."""

    policy: ReviewPolicy
    clock: Clock
    timezone: str
    order_desk_chat_id: int | None
    sla: SlaContext | None = None
    handlers: EventHandlers = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review decision did: the order afterwards and whether it still waits for the head."""

    order: Order
    status: OrderStatus
    reasons: list[SecondReviewReason] = field(default_factory=list)


def _sync(order: Order, now: datetime, setup: ReviewSetup) -> None:
    """Keeps the SLA clocks in step with the status, when an SLA policy is wired."""
    if setup.sla is not None:
        sync_clocks(order, now, setup.sla)


async def _load_for_decision(uow: UnitOfWork, order_id: str, expected: OrderStatus | None) -> Order:
    """Loads an order and refuses with AlreadyHandled if it is no longer waiting for this decision."""
    order = await uow.orders.get(order_id)
    if order.status not in REVIEW_STATUSES or (expected is not None and order.status is not expected):
        raise AlreadyHandled(order, last_decision(order))
    return order


async def approve(
    uow: UnitOfWork,
    order_id: str,
    *,
    actor_id: int,
    roles: frozenset[Role],
    setup: ReviewSetup,
    expected: OrderStatus | None = None,
) -> ReviewOutcome:
    """Passes the review the order is waiting for; on the last approval confirms and tells the customer."""
    async with uow:
        order = await _load_for_decision(uow, order_id, expected)
        now = setup.clock.now()
        if order.status is OrderStatus.PENDING_SECOND_REVIEW:
            # A head's decision: who may decide is refused before whether this head may.
            require(roles, Action.APPROVE_SECOND)
            check_four_eyes(order, actor_id)
            order.apply(Action.APPROVE_SECOND, actor_id=actor_id, roles=roles, now=now)
            reasons: list[SecondReviewReason] = []
        else:
            # Payment first: an unpaid order waits in review until its payment lands.
            check_paid(order)
            reasons = second_review_reasons(order, setup.policy)
            action = Action.REFER_SECOND_REVIEW if reasons else Action.APPROVE
            note = ", ".join(reason.cause.value for reason in reasons)
            order.apply(action, actor_id=actor_id, roles=roles, now=now, note=note)
        _sync(order, now, setup)
        if order.status is OrderStatus.AWAITING_CONFIRMATION:
            await confirm_and_number(order, uow, now, setup.timezone)
            _sync(order, now, setup)
        await dispatch_events(order, uow, setup.handlers)
        await uow.commit()
    return ReviewOutcome(order, order.status, reasons)


async def reject(
    uow: UnitOfWork,
    order_id: str,
    *,
    actor_id: int,
    roles: frozenset[Role],
    reason: RejectReason,
    text: str,
    setup: ReviewSetup,
    expected: OrderStatus | None = None,
) -> ReviewOutcome:
    """Rejects the order under review and tells the customer why, with Fix and Cancel (R-3.1)."""
    text = without_controls(text).strip()[:QUESTION_MAX]
    if reason is RejectReason.OTHER and not text:
        raise DomainError("a rejection for another reason needs its text")
    async with uow:
        order = await _load_for_decision(uow, order_id, expected)
        now = setup.clock.now()
        note = f"{reason.value}: {text}" if text else reason.value
        order.apply(Action.REJECT, actor_id=actor_id, roles=roles, now=now, note=note)
        order.record(OrderRejected(order.event_id(), order.id, now, reason.value, text))
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return ReviewOutcome(order, order.status)


async def ask_customer(
    uow: UnitOfWork,
    order_id: str,
    *,
    actor_id: int,
    roles: frozenset[Role],
    question: str,
    card_chat_id: int | None,
    card_message_id: int | None,
    setup: ReviewSetup,
) -> int:
    """Relays a reviewer's question to the customer and records it; returns the question id."""
    question = required_text(question, QUESTION_MAX, "the question is empty")
    async with uow:
        order = await _load_for_decision(uow, order_id, None)
        role = require(roles, Duty.ASK_CUSTOMER)
        if order.customer.telegram_user_id is None:
            raise DomainError("the customer has no Telegram chat; call them instead")
        now = setup.clock.now()
        order.note(question, actor_id=actor_id, role=role, now=now, action="ask_customer")
        question_id = await uow.reviews.add_question(
            order.id, actor_id, question, now, card_chat_id=card_chat_id, card_message_id=card_message_id
        )
        order.record(CustomerAsked(order.event_id(), order.id, now, question_id, question))
        await dispatch_events(order, uow, setup.handlers)
        await uow.commit()
    return question_id


async def answer_question(
    uow: UnitOfWork, order_id: str, *, customer_id: int, answer: str, setup: ReviewSetup
) -> bool:
    """Relays the customer's answer into the review card's thread; False if nothing was asked."""
    answer = without_controls(answer).strip()[:QUESTION_MAX]
    async with uow:
        order = await uow.orders.get(order_id)
        order.require_customer(customer_id, "answer_question")
        question = await uow.reviews.open_question(order.id)
        if question is None or not answer:
            return False
        now = setup.clock.now()
        await uow.reviews.answer_question(question.id, answer, now)
        order.note(answer, actor_id=customer_id, role=Role.CUSTOMER, now=now, action="customer_answer")
        answered = CustomerAnswered(
            order.event_id(),
            order.id,
            now,
            question.id,
            answer,
            question.card_chat_id,
            question.card_message_id,
        )
        order.record(answered)
        await dispatch_events(order, uow, setup.handlers)
        await uow.commit()
    return True


async def record_payment_receipt(
    uow: UnitOfWork,
    order_reference: str,
    *,
    actor_id: int,
    roles: frozenset[Role],
    receipt: str,
    setup: ReviewSetup,
) -> Order:
    """Records an offline payment receipt (photo file id or reference) and marks the order paid (R-3.1)."""
    receipt = required_text(receipt, RECEIPT_MAX, "the receipt reference is empty")
    role = require(roles, Duty.RECORD_PAYMENT)
    async with uow:
        order = await uow.orders.find(order_reference)
        if order is None:
            raise OrderNotFound(order_reference)
        if order.paid or not awaits_payment(order):
            raise IllegalTransition(order.status, "record_payment_receipt")
        now = setup.clock.now()
        # The desk is told, and a "not paid" rejection goes back to review (issue 12).
        settle(order, source=PaymentSource.OFFLINE, actor_id=actor_id, role=role, now=now, note="/receipt")
        order.note(receipt, actor_id=actor_id, role=role, now=now, action="payment_receipt")
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return order


async def cancel_by_customer(
    uow: UnitOfWork, order_id: str, *, customer_id: int, setup: ReviewSetup
) -> Order:
    """Cancels a not yet confirmed order at its customer's request; nobody else's order (R-P)."""
    async with uow:
        order = await uow.orders.get(order_id)
        order.require_customer(customer_id, Action.CANCEL)
        if order.status is OrderStatus.CANCELLED:
            raise AlreadyHandled(order, last_decision(order))
        now = setup.clock.now()
        order.apply(Action.CANCEL, actor_id=customer_id, roles=frozenset({Role.CUSTOMER}), now=now)
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return order
