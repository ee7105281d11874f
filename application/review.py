"""Review use cases (R-3): first and second review, rejection, questions to the customer, confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from application.ports import Document, OutboxMessage, Outgoing, UnitOfWork
from application.services import EventHandlers, dispatch_events
from domain.clock import Clock
from domain.errors import DomainError, IllegalTransition, NotPermitted, OrderNotFound
from domain.orders.events import Event, OrderStatusChanged
from domain.orders.model import Order
from domain.orders.numbering import business_day, format_order_number
from domain.orders.status import Action, OrderStatus, Role
from domain.review import (
    QUESTION_MAX,
    RECEIPT_MAX,
    REVIEW_STATUSES,
    SYSTEM,
    AlreadyHandled,
    RejectReason,
    ReviewPolicy,
    SecondReviewReason,
    check_four_eyes,
    last_decision,
    second_review_reasons,
)
from domain.sla.clocks import SlaContext, sync_clocks


class ReviewRenderers(Protocol):
    """Words and documents of the review messages, in the recipient's language."""

    def review_card(
        self, order: Order, reasons: list[SecondReviewReason], *, second: bool, language: str
    ) -> Outgoing: ...

    def confirmation(self, order: Order) -> Outgoing: ...

    def confirmation_document(self, order: Order) -> tuple[Document, Outgoing]: ...

    def rejection(self, order: Order, reason: RejectReason, text: str) -> Outgoing: ...

    def question(self, order: Order, question: str) -> Outgoing: ...

    def answer(self, order: Order, answer: str, *, language: str) -> Outgoing: ...


@dataclass(frozen=True)
class ReviewSetup:
    """What the review use cases need besides the unit of work."""

    policy: ReviewPolicy
    clock: Clock
    renderers: ReviewRenderers
    timezone: str
    order_desk_chat_id: int | None
    desk_language: str = "en"
    sla: SlaContext | None = None
    handlers: EventHandlers = field(default_factory=dict)


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review decision did: the order afterwards and whether it still waits for the head."""

    order: Order
    status: OrderStatus
    reasons: list[SecondReviewReason] = field(default_factory=list)


async def _enqueue(
    uow: UnitOfWork, chat_id: int | None, message: Outgoing, order: Order, now: datetime, key: str
) -> bool:
    """Queues a rendered message for a chat, once per dedup key; nothing if there is no chat."""
    if chat_id is None:
        return False
    params = {**message.params, "chat_id": chat_id}
    return await uow.outbox.enqueue(
        OutboxMessage(chat_id, message.method, params, now, order_id=order.id, dedup_key=key)
    )


def _sync(order: Order, now: datetime, setup: ReviewSetup) -> None:
    """Keeps the SLA clocks in step with the status, when an SLA policy is wired."""
    if setup.sla is not None:
        sync_clocks(order, now, setup.sla)


async def post_review_card(
    order: Order, uow: UnitOfWork, setup: ReviewSetup, *, second: bool = False
) -> bool:
    """Queues the review card for the order-desk chat (the head's card when second); once per stage."""
    reasons = second_review_reasons(order, setup.policy)
    card = setup.renderers.review_card(order, reasons, second=second, language=setup.desk_language)
    stage = "second" if second else "first"
    key = review_card_key(order.id, stage, order.version)
    return await _enqueue(uow, setup.order_desk_chat_id, card, order, setup.clock.now(), key)


def review_card_key(order_id: str, stage: str, version: int) -> str:
    """The outbox dedup key of a review card (the version tells resubmitted orders' cards apart)."""
    return f"review-card:{order_id}:{stage}:{version}"


def review_card_handler(setup: ReviewSetup) -> Any:
    """Returns an EventHandler posting the card when an order reaches PENDING_REVIEW."""

    async def handle(event: Event, order: Order, uow: UnitOfWork) -> None:
        """Posts the first-review card for an order that just passed validation."""
        if isinstance(event, OrderStatusChanged) and event.to_status is OrderStatus.PENDING_REVIEW:
            await post_review_card(order, uow, setup)

    return handle


async def _load_for_decision(uow: UnitOfWork, order_id: str, expected: OrderStatus | None) -> Order:
    """Loads an order and refuses with AlreadyHandled if it is no longer waiting for this decision."""
    order = await uow.orders.get(order_id)
    if order.status not in REVIEW_STATUSES or (expected is not None and order.status is not expected):
        raise AlreadyHandled(order, last_decision(order))
    return order


async def confirm_in_open_uow(order: Order, uow: UnitOfWork, now: datetime, timezone: str) -> str:
    """Confirms a reviewed order and gives it its formal number in the caller's transaction (R-3.3)."""
    order.apply(Action.CONFIRM, actor_id=None, roles=SYSTEM, now=now)
    day = business_day(now, timezone)
    number = format_order_number(day, await uow.numbers.next_serial(day))
    order.assign_number(number, now=now)
    return number


async def _confirm_and_tell(order: Order, uow: UnitOfWork, setup: ReviewSetup, now: datetime) -> None:
    """Numbers and confirms the order and queues the confirmation text and PDF for the customer."""
    await confirm_in_open_uow(order, uow, now, setup.timezone)
    _sync(order, now, setup)
    chat = order.customer.telegram_user_id
    renderers = setup.renderers
    await _enqueue(uow, chat, renderers.confirmation(order), order, now, f"confirmation:{order.id}")
    if chat is None:
        return
    document, message = renderers.confirmation_document(order)
    document_id = await uow.reviews.save_document(
        order.id, "confirmation", document.filename, document.content, now
    )
    params = {**message.params, "document_id": document_id}
    await _enqueue(uow, chat, Outgoing(message.method, params), order, now, f"confirmation-pdf:{order.id}")


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
            if not roles & {Role.ORDER_DESK_HEAD, Role.ADMIN}:
                raise NotPermitted(Action.APPROVE_SECOND, roles)
            check_four_eyes(order, actor_id)
            order.apply(Action.APPROVE_SECOND, actor_id=actor_id, roles=roles, now=now)
            reasons: list[SecondReviewReason] = []
        else:
            reasons = second_review_reasons(order, setup.policy)
            action = Action.REFER_SECOND_REVIEW if reasons else Action.APPROVE
            note = ", ".join(reason.cause.value for reason in reasons)
            order.apply(action, actor_id=actor_id, roles=roles, now=now, note=note)
        _sync(order, now, setup)
        if order.status is OrderStatus.PENDING_SECOND_REVIEW:
            await post_review_card(order, uow, setup, second=True)
        else:
            await _confirm_and_tell(order, uow, setup, now)
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
    text = text.strip()[:QUESTION_MAX]
    if reason is RejectReason.OTHER and not text:
        raise DomainError("a rejection for another reason needs its text")
    async with uow:
        order = await _load_for_decision(uow, order_id, expected)
        now = setup.clock.now()
        note = f"{reason.value}: {text}" if text else reason.value
        order.apply(Action.REJECT, actor_id=actor_id, roles=roles, now=now, note=note)
        _sync(order, now, setup)
        await dispatch_events(order, uow, setup.handlers)
        message = setup.renderers.rejection(order, reason, text)
        key = f"rejection:{order.id}:{order.version}"
        await _enqueue(uow, order.customer.telegram_user_id, message, order, now, key)
        await uow.commit()
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
    question = question.strip()[:QUESTION_MAX]
    if not question:
        raise DomainError("the question is empty")
    async with uow:
        order = await _load_for_decision(uow, order_id, None)
        if not roles & {Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN}:
            raise NotPermitted("ask_customer", roles)
        customer = order.customer.telegram_user_id
        if customer is None:
            raise DomainError("the customer has no Telegram chat; call them instead")
        now = setup.clock.now()
        role = sorted(roles & {Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN})[0]
        order.note(question, actor_id=actor_id, role=role, now=now, action="ask_customer")
        question_id = await uow.reviews.add_question(
            order.id, actor_id, question, now, card_chat_id=card_chat_id, card_message_id=card_message_id
        )
        message = setup.renderers.question(order, question)
        await _enqueue(uow, customer, message, order, now, f"question:{question_id}")
        await uow.commit()
    return question_id


async def answer_question(
    uow: UnitOfWork, order_id: str, *, customer_id: int, answer: str, setup: ReviewSetup
) -> bool:
    """Relays the customer's answer into the review card's thread; False if nothing was asked."""
    answer = answer.strip()[:QUESTION_MAX]
    async with uow:
        order = await uow.orders.get(order_id)
        if order.customer.telegram_user_id != customer_id:
            raise NotPermitted("answer_question", frozenset({Role.CUSTOMER}))
        question = await uow.reviews.open_question(order.id)
        if question is None or not answer:
            return False
        now = setup.clock.now()
        await uow.reviews.answer_question(question.id, answer, now)
        order.note(answer, actor_id=customer_id, role=Role.CUSTOMER, now=now, action="customer_answer")
        message = setup.renderers.answer(order, answer, language=setup.desk_language)
        params = dict(message.params)
        if question.card_message_id is not None and question.card_chat_id == setup.order_desk_chat_id:
            params["reply_parameters"] = {
                "message_id": question.card_message_id,
                "allow_sending_without_reply": True,
            }
        chat = question.card_chat_id if question.card_chat_id is not None else setup.order_desk_chat_id
        await _enqueue(uow, chat, Outgoing(message.method, params), order, now, f"answer:{question.id}")
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
    receipt = receipt.strip()[:RECEIPT_MAX]
    if not receipt:
        raise DomainError("the receipt reference is empty")
    allowed = {Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN}
    if not roles & allowed:
        raise NotPermitted("record_payment_receipt", roles)
    async with uow:
        order = await uow.orders.find(order_reference)
        if order is None:
            raise OrderNotFound(order_reference)
        if order.status not in (*REVIEW_STATUSES, OrderStatus.SUBMITTED):
            raise IllegalTransition(order.status, "record_payment_receipt")
        order.paid = True
        role = sorted(roles & allowed)[0]
        order.note(receipt, actor_id=actor_id, role=role, now=setup.clock.now(), action="payment_receipt")
        await uow.commit()
    return order


async def cancel_by_customer(
    uow: UnitOfWork, order_id: str, *, customer_id: int, setup: ReviewSetup
) -> Order:
    """Cancels a not yet confirmed order at its customer's request; nobody else's order (R-P)."""
    async with uow:
        order = await uow.orders.get(order_id)
        if order.customer.telegram_user_id != customer_id:
            raise NotPermitted(Action.CANCEL, frozenset({Role.CUSTOMER}))
        if order.status is OrderStatus.CANCELLED:
            raise AlreadyHandled(order, last_decision(order))
        now = setup.clock.now()
        order.apply(Action.CANCEL, actor_id=customer_id, roles=frozenset({Role.CUSTOMER}), now=now)
        _sync(order, now, setup)
        await dispatch_events(order, uow, setup.handlers)
        await uow.commit()
    return order
