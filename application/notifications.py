"""The notification policy: who is told what, in which chat, on which event (R-3, R-4, R-5.2).

Every message the workflow sends because something happened to an order is decided here, in
`notices_for`, and nowhere else. The use cases only record domain events; `build_notifier` turns
each event into outbox rows in the same transaction, rendered through the NoticeRenderer port (the
words and buttons live in presentation/). Each row's dedup key is the notice kind and the event id,
so a change is never told twice, also when the same status is reached again later.

| event                                  | who is told                                                 |
|----------------------------------------|-------------------------------------------------------------|
| reached first or second review         | order desk: the review card                                 |
| rejected (with the reason)             | customer: why, with Fix and Cancel                          |
| reviewer asked / customer answered     | customer: the question / the card's thread: the answer      |
| confirmed                              | customer: confirmation and its PDF; warehouse: the card     |
| picked                                 | customer: update; warehouse: the card (outbound scan next)  |
| outbound                               | customer: update; logistics: the outbound note and the card |
| booked ... out for delivery, delivered | customer: update; logistics: the card while it must act     |
| held by customs                        | customer: update; order desk: the hold and its reason       |
| other changes the customer sees        | customer: update                                            |
| payment received (issue 12)            | customer: thanks; order desk: the card again, now approvable |
| transfer receipt sent / refused        | order desk: the receipt to check / customer: why, how to pay |
| order desk asks for the payment        | customer: how to pay, with Pay now or Send receipt           |
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from application.ports import Document, OutboxMessage, Outgoing, UnitOfWork
from application.services import EventHandlers
from domain.orders.events import (
    CustomerAnswered,
    CustomerAsked,
    Event,
    OrderRejected,
    OrderStatusChanged,
)
from domain.orders.model import Order
from domain.orders.responsibilities import EXECUTION_TEAMS, NEXT_TEAM
from domain.orders.status import BEFORE_CONFIRMATION, ExceptionType, OrderStatus, Role
from domain.payment import PaymentReceived, PaymentRequested, ReceiptRefused, ReceiptSubmitted
from domain.review import REVIEW_STATUSES


class NoticeKind(StrEnum):
    """What a notice is; the value starts the outbox dedup key."""

    REVIEW_CARD = "review-card"
    REJECTION = "rejection"
    QUESTION = "question"
    ANSWER = "answer"
    CONFIRMATION = "confirmation"
    CONFIRMATION_PDF = "confirmation-pdf"
    CUSTOMER_UPDATE = "customer"
    TEAM_CARD = "card"
    OUTBOUND_NOTE = "note"
    CUSTOMS_HOLD = "hold"
    PAYMENT_RECEIVED = "paid"
    PAID_CARD = "paid-card"
    RECEIPT = "receipt"
    RECEIPT_REFUSED = "receipt-refused"
    PAYMENT_REQUEST = "pay-request"


# How generated documents are filed (StoredDocument.kind), by the notice that sends them.
DOCUMENT_KINDS = {NoticeKind.CONFIRMATION_PDF: "confirmation"}
# The customer's own chat, rather than a team's.
CUSTOMER = None
# The chat of the review card the event names (the order desk's when it names none).
CARD_THREAD = "card-thread"


@dataclass(frozen=True)
class Notice:
    """One message to send: what kind, and to the customer, a team or the review card's thread."""

    kind: NoticeKind
    to: Role | str | None = CUSTOMER


def notices_for(event: Event, order: Order) -> list[Notice]:
    """Decides who is told what about one event."""
    match event:
        case OrderRejected():
            return [Notice(NoticeKind.REJECTION)]
        case CustomerAsked():
            return [Notice(NoticeKind.QUESTION)]
        case CustomerAnswered():
            return [Notice(NoticeKind.ANSWER, CARD_THREAD)]
        case PaymentReceived():
            # A reopened order gets its review card from the status change; a waiting one gets it again.
            desk = [] if event.reopened or order.status not in REVIEW_STATUSES else [
                Notice(NoticeKind.PAID_CARD, Role.ORDER_DESK)
            ]
            return [Notice(NoticeKind.PAYMENT_RECEIVED), *desk]
        case ReceiptSubmitted():
            return [Notice(NoticeKind.RECEIPT, Role.ORDER_DESK)]
        case ReceiptRefused():
            return [Notice(NoticeKind.RECEIPT_REFUSED)]
        case PaymentRequested():
            return [Notice(NoticeKind.PAYMENT_REQUEST)]
        case OrderStatusChanged(to_status=OrderStatus.PENDING_REVIEW | OrderStatus.PENDING_SECOND_REVIEW):
            return [Notice(NoticeKind.REVIEW_CARD, Role.ORDER_DESK)]
        case OrderStatusChanged(to_status=OrderStatus.CONFIRMED):
            return [
                Notice(NoticeKind.CONFIRMATION),
                Notice(NoticeKind.CONFIRMATION_PDF),
                Notice(NoticeKind.TEAM_CARD, Role.WAREHOUSE),
            ]
        case OrderStatusChanged(to_status=OrderStatus.OUTBOUND):
            return [
                Notice(NoticeKind.CUSTOMER_UPDATE),
                Notice(NoticeKind.OUTBOUND_NOTE, Role.LOGISTICS),
                Notice(NoticeKind.TEAM_CARD, Role.LOGISTICS),
            ]
        case OrderStatusChanged(to_status=OrderStatus.EXCEPTION) if (
            order.exception_type is ExceptionType.CUSTOMS_HOLD
        ):
            return [Notice(NoticeKind.CUSTOMER_UPDATE), Notice(NoticeKind.CUSTOMS_HOLD, Role.ORDER_DESK)]
        case OrderStatusChanged(to_status=status) if NEXT_TEAM.get(status) in EXECUTION_TEAMS:
            told = [Notice(NoticeKind.CUSTOMER_UPDATE)] if _customer_sees(event) else []
            return [*told, Notice(NoticeKind.TEAM_CARD, NEXT_TEAM[status])]
        case OrderStatusChanged() if _customer_sees(event):
            return [Notice(NoticeKind.CUSTOMER_UPDATE)]
    return []


# Changes the customer hears of through another notice (review, confirmation) or not at all.
_TOLD_ELSEWHERE = frozenset({*BEFORE_CONFIRMATION, OrderStatus.CONFIRMED, OrderStatus.ARCHIVED})


def _customer_sees(event: OrderStatusChanged) -> bool:
    """Whether a status change is news for the customer: progress, an exception and its end."""
    if OrderStatus.EXCEPTION in (event.from_status, event.to_status):
        return True
    if event.to_status is OrderStatus.CANCELLED:
        # Before confirmation the customer cancelled it themselves, or was told why it was rejected.
        return event.from_status not in BEFORE_CONFIRMATION
    if event.from_status is OrderStatus.CANCELLED:
        # Completing a closed cancellation is bookkeeping: no "thank you, it is complete".
        return False
    return event.to_status not in _TOLD_ELSEWHERE


@dataclass(frozen=True)
class Rendered:
    """A rendered notice: the Bot API call, and the generated file it carries, if any."""

    message: Outgoing
    document: Document | None = None


@dataclass(frozen=True)
class Audience:
    """Where a notice goes: the chat, its language, and the message to reply to (a card's thread)."""

    chat_id: int
    language: str
    reply_to: int | None = None


class NoticeRenderer(Protocol):
    """Words, buttons and documents of every notice, in the recipient's language."""

    def render(self, notice: Notice, event: Event, order: Order, audience: Audience) -> Rendered | None: ...


# Looks up a department's chat id in the caller's transaction (it follows supergroup migrations).
TeamChatLookup = Callable[[UnitOfWork, str], Awaitable[int | None]]


def build_notifier(
    renderer: NoticeRenderer, team_chat: TeamChatLookup, *, team_language: str = "en"
) -> EventHandlers:
    """Returns the event handlers that queue every notice of the policy in the event's transaction."""

    async def audience(notice: Notice, event: Event, order: Order, uow: UnitOfWork) -> Audience | None:
        """Finds the chat and language of a notice; None when the recipient has no chat."""
        if notice.to is CUSTOMER:
            chat_id = order.customer.telegram_user_id
            if chat_id is None:
                return None
            language = await uow.users.language_of(chat_id) or order.customer.language
            return Audience(chat_id, language)
        if notice.to == CARD_THREAD and isinstance(event, CustomerAnswered):
            desk = await team_chat(uow, Role.ORDER_DESK.value)
            chat_id = event.card_chat_id if event.card_chat_id is not None else desk
            if chat_id is None:
                return None
            in_desk_card = event.card_message_id is not None and event.card_chat_id == desk
            return Audience(chat_id, team_language, event.card_message_id if in_desk_card else None)
        team = notice.to if isinstance(notice.to, Role) else Role.ORDER_DESK
        # The order desk watches every order: a team without a chat is told there.
        chat_id = await team_chat(uow, team.value)
        if chat_id is None and team is not Role.ORDER_DESK:
            chat_id = await team_chat(uow, Role.ORDER_DESK.value)
        return None if chat_id is None else Audience(chat_id, team_language)

    async def notify(event: Event, order: Order, uow: UnitOfWork) -> None:
        """Queues every notice the policy decides for the event."""
        for notice in notices_for(event, order):
            where = await audience(notice, event, order, uow)
            if where is None:
                continue
            rendered = renderer.render(notice, event, order, where)
            if rendered is None:
                continue
            params: dict[str, Any] = {**rendered.message.params, "chat_id": where.chat_id}
            if rendered.document is not None:
                document = rendered.document
                params["document_id"] = await uow.reviews.save_document(
                    order.id, DOCUMENT_KINDS[notice.kind], document.filename, document.content, event.at
                )
            await uow.outbox.enqueue(
                OutboxMessage(
                    where.chat_id,
                    rendered.message.method,
                    params,
                    event.at,
                    order_id=order.id,
                    dedup_key=f"{notice.kind.value}:{event.id}",
                )
            )

    return {
        OrderStatusChanged: [notify],
        OrderRejected: [notify],
        CustomerAsked: [notify],
        CustomerAnswered: [notify],
        PaymentReceived: [notify],
        ReceiptSubmitted: [notify],
        ReceiptRefused: [notify],
        PaymentRequested: [notify],
    }
