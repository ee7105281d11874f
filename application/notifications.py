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

Which channel "the customer" is, is decided by routing here too (issue 12, R-5.2), for every
customer notice alike: the bound Telegram chat if the order has one (or the customer agreed that
orders with this phone or email go to their chat, application/binding.py), otherwise email when
there is an address; the confirmation goes by email to everyone with an address as well. A
notice with no email wording of its own is mailed as its Telegram text, so a notice added later
reaches email customers without more work. A platform's order also causes a signed webhook for
every status change (API_WEBHOOKS). Every customer notice opens the 1-hour "customer told" clock
(R-5.2, stage customer_notice); its delivery on some channel closes it (record_delivery), and a
customer nobody could reach becomes a breach alert to customer service.
| survey sent / reminded (R-7.2)         | customer: the survey (Telegram, or email without a chat)    |
| survey complaint (R-7.2)               | customer service: the complaint card                        |
| problem reported on delivery (R-7.1)   | customer service: the problem card                          |
| payment received (issue 12)            | customer: thanks; order desk: the card again, now approvable |
| transfer receipt sent / refused        | order desk: the receipt to check / customer: why, how to pay |
| order desk asks for the payment        | customer: how to pay, with Pay now or Send receipt           |
| damaged / wrong / lost marked (R-6.4)  | logistics (the customer, if they reported it): evidence card |
| claim evidence, contact, answer        | customer service: the claim card with its next buttons       |
| claim offer / answer / reshipped       | customer: the offer with Accept and Decline / the outcome    |
| claim reship accepted                  | warehouse: the reship task with Reshipped                    |
| refund or payout owed (issue 13)       | finance: the card with Record as paid                        |
| refund or payout paid                  | customer: how much was paid back or out, and the reference   |
| change asked for (address, contact)    | order desk: the card with Apply; customer: if staff filed it |
| change applied (R-6.2)                 | customer: the change, new price; warehouse: the updated card |
| waiting change came too late           | customer: why, and the alternative (forwarding at a quote)   |
| exception marked (R-6, issue 14)       | order desk and customer service: the case alert; a delay:    |
|                                        | logistics too; a customs hold: customer service and logistics |
|                                        | (the desk has the hold notice)                               |
| delay cause recorded (R-6.3)           | customer service: the drafted notice to send or edit         |
| customer told / asked for documents    | customer: the notice (with Upload documents for customs)     |
| compensation offered (R-6.3)           | customer: the offer with Accept                              |
| customer's document for a case         | logistics: the document with the case                        |
| exception closed (R-6.5)               | customer: were you satisfied? (one tap); order desk: the     |
|                                        | record to complete, prefilled from the case's trail          |
| cancellation filed (R-6.1, issue 13)   | customer service: check it / propose recall terms; the team  |
|                                        | holding the goods: on hold                                   |
| cancellation checked / terms / recall  | order desk: cancel it / customer: accept or keep / logistics: |
|                                        | the recall task; cancelled: the team: put the goods back     |
| service cannot be provided (R-6.1)     | customer service: offer the alternatives / customer: choose  |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from application.binding import BindingsOf, telegram_link, token_for
from application.ports import ApiOrderLink, Document, OutboxMessage, Outgoing, UnitOfWork
from application.services import EventHandlers
from domain.aftersales.events import ComplaintRaised, ProblemReported, SurveySent
from domain.cancellation import CancellationChanged, CancellationPath, CancellationStep
from domain.claims.claim import CLAIM_TYPES, ClaimStep, Resolution, claim_of
from domain.claims.events import ClaimChanged
from domain.errors import ConcurrentModification, OrderNotFound
from domain.exceptions.events import (
    CaseDocumentReceived,
    CompensationOffered,
    CustomerToldOfException,
    CustomsNeedsRecorded,
    DelayCauseRecorded,
    ExceptionClosed,
    ExceptionRaised,
)
from domain.finance import MoneyOwedPaid, MoneyOwedRecorded
from domain.orders.changes import ChangeApplied, ChangeRefusedLate, ChangeRequested
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
from domain.sla.clocks import SlaContext, apply_clock_events, running_clock
from domain.sla.policy import ClockEvent, Stage


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
    SURVEY = "survey"
    COMPLAINT_CARD = "complaint"
    PROBLEM_CARD = "problem"
    PAYMENT_RECEIVED = "paid"
    PAID_CARD = "paid-card"
    RECEIPT = "receipt"
    RECEIPT_REFUSED = "receipt-refused"
    PAYMENT_REQUEST = "pay-request"
    CLAIM_EVIDENCE = "claim-evidence"
    CLAIM_CARD = "claim"
    CLAIM_CUSTOMER = "claim-customer"
    CLAIM_RESHIP = "claim-reship"
    OWED_CARD = "owed-card"
    OWED_PAID = "owed-paid"
    CHANGE_CARD = "change-card"
    CHANGE_RECEIVED = "change-received"
    CHANGE_DONE = "change-done"
    CHANGE_WAREHOUSE = "change-warehouse"
    CHANGE_REFUSED = "change-refused"
    # One kind per team: a notice's dedup key is its kind and the event (issue 14).
    EXCEPTION_ALERT = "exc-alert"
    EXCEPTION_ALERT_SERVICE = "exc-alert-cs"
    EXCEPTION_ALERT_LOGISTICS = "exc-alert-lg"
    DELAY_DRAFT = "exc-draft"
    EXCEPTION_TOLD = "exc-told"
    COMPENSATION_OFFER = "exc-offer"
    CASE_DOCUMENT = "exc-doc"
    EXCEPTION_SATISFACTION = "exc-satisfied"
    EXCEPTION_RECORD = "exc-record"
    EXCEPTION_CANCEL_CARD = "exc-cancel"
    CANCEL_SERVICE_CARD = "cx-service"
    CANCEL_DESK_CARD = "cx-desk"
    CANCEL_TEAM_NOTE = "cx-team"
    CANCEL_CUSTOMER = "cx-customer"


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
        case SurveySent():
            return [Notice(NoticeKind.SURVEY)]
        case ComplaintRaised():
            return [Notice(NoticeKind.COMPLAINT_CARD, Role.CUSTOMER_SERVICE)]
        case ProblemReported():
            return [Notice(NoticeKind.PROBLEM_CARD, Role.CUSTOMER_SERVICE)]
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
        case ClaimChanged():
            return _claim_notices(event, order)
        case OrderStatusChanged(to_status=OrderStatus.EXCEPTION) if order.exception_type in CLAIM_TYPES:
            # Whoever reported the damage, wrong shipment or loss attaches the evidence.
            reporter = order.customer.telegram_user_id
            by_customer = reporter is not None and event.actor_id == reporter
            return [
                Notice(NoticeKind.CUSTOMER_UPDATE),
                Notice(NoticeKind.CLAIM_EVIDENCE, CUSTOMER if by_customer else Role.LOGISTICS),
            ]
        case MoneyOwedRecorded():
            return [Notice(NoticeKind.OWED_CARD, Role.FINANCE)]
        case MoneyOwedPaid():
            return [Notice(NoticeKind.OWED_PAID)]
        case ChangeRequested():
            # The customer who asked in the chat is answered there; a hotline caller is told here.
            filed_by_staff = any(
                record.number == event.number and record.requested_role is not Role.CUSTOMER
                for record in order.changes
            )
            told = [Notice(NoticeKind.CHANGE_RECEIVED)] if filed_by_staff else []
            return [Notice(NoticeKind.CHANGE_CARD, Role.ORDER_DESK), *told]
        case ChangeApplied():
            had_it = event.from_status in (OrderStatus.CONFIRMED, OrderStatus.PICKED)
            warehouse = [Notice(NoticeKind.CHANGE_WAREHOUSE, Role.WAREHOUSE)] if had_it else []
            return [Notice(NoticeKind.CHANGE_DONE), *warehouse]
        case ChangeRefusedLate():
            return [Notice(NoticeKind.CHANGE_REFUSED)]
        case ExceptionRaised(kind=ExceptionType.CUSTOMS_HOLD):
            # The desk has the hold notice; logistics records what customs needs and the outcome.
            return [
                Notice(NoticeKind.EXCEPTION_ALERT_SERVICE, Role.CUSTOMER_SERVICE),
                Notice(NoticeKind.EXCEPTION_ALERT_LOGISTICS, Role.LOGISTICS),
            ]
        case ExceptionRaised(kind=ExceptionType.DELAY):
            # Logistics finds the cause and the new expected time.
            return [
                Notice(NoticeKind.EXCEPTION_ALERT, Role.ORDER_DESK),
                Notice(NoticeKind.EXCEPTION_ALERT_SERVICE, Role.CUSTOMER_SERVICE),
                Notice(NoticeKind.EXCEPTION_ALERT_LOGISTICS, Role.LOGISTICS),
            ]
        case ExceptionRaised():
            return [
                Notice(NoticeKind.EXCEPTION_ALERT, Role.ORDER_DESK),
                Notice(NoticeKind.EXCEPTION_ALERT_SERVICE, Role.CUSTOMER_SERVICE),
            ]
        case DelayCauseRecorded() | CustomsNeedsRecorded():
            return [Notice(NoticeKind.DELAY_DRAFT, Role.CUSTOMER_SERVICE)]
        case CustomerToldOfException():
            return [Notice(NoticeKind.EXCEPTION_TOLD)]
        case CompensationOffered():
            return [Notice(NoticeKind.COMPENSATION_OFFER)]
        case CaseDocumentReceived():
            return [Notice(NoticeKind.CASE_DOCUMENT, Role.LOGISTICS)]
        case ExceptionClosed(result="returned" | "destroyed"):
            # The desk cancels as the company first; the record follows (handlers/exceptions.py).
            return [
                Notice(NoticeKind.EXCEPTION_SATISFACTION),
                Notice(NoticeKind.EXCEPTION_CANCEL_CARD, Role.ORDER_DESK),
            ]
        case ExceptionClosed():
            return [
                Notice(NoticeKind.EXCEPTION_SATISFACTION),
                Notice(NoticeKind.EXCEPTION_RECORD, Role.ORDER_DESK),
            ]
        case CancellationChanged():
            return _cancellation_notices(event)
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


def _claim_notices(event: ClaimChanged, order: Order) -> list[Notice]:
    """Who is told of a claim step: customer service always, the customer of offers and outcomes."""
    card = Notice(NoticeKind.CLAIM_CARD, Role.CUSTOMER_SERVICE)
    if event.step in (ClaimStep.EVIDENCE, ClaimStep.CONTACTED, ClaimStep.DECLINED):
        return [card]
    told = [Notice(NoticeKind.CLAIM_CUSTOMER), card]
    claim = claim_of(order)
    reship = claim is not None and claim.offer is not None and claim.offer.resolution is Resolution.RESHIP
    if event.step is ClaimStep.ACCEPTED and reship:
        told.append(Notice(NoticeKind.CLAIM_RESHIP, Role.WAREHOUSE))
    return told
def _cancellation_notices(event: CancellationChanged) -> list[Notice]:
    """Who is told of a cancellation's step (R-6.1): the team that acts next, the customer to choose."""
    step, path = event.step, event.cancellation.path
    # The team holding the goods: the warehouse before outbound, logistics after.
    holder = Role.WAREHOUSE if path is CancellationPath.HOLD else Role.LOGISTICS
    match step:
        case CancellationStep.FILED:
            return [
                Notice(NoticeKind.CANCEL_SERVICE_CARD, Role.CUSTOMER_SERVICE),
                Notice(NoticeKind.CANCEL_TEAM_NOTE, holder),
            ]
        case CancellationStep.CANNOT_SERVE | CancellationStep.DECLINED:
            return [Notice(NoticeKind.CANCEL_SERVICE_CARD, Role.CUSTOMER_SERVICE)]
        case CancellationStep.CHECKED:
            return [Notice(NoticeKind.CANCEL_DESK_CARD, Role.ORDER_DESK)]
        case CancellationStep.TERMS | CancellationStep.OFFERED:
            return [Notice(NoticeKind.CANCEL_CUSTOMER)]
        case CancellationStep.ACCEPTED:
            return [Notice(NoticeKind.CANCEL_TEAM_NOTE, Role.LOGISTICS)]
        case CancellationStep.OTHER_SERVICE:
            # The customer is answered in their chat with the change flow's Change service button.
            return [Notice(NoticeKind.CANCEL_DESK_CARD, Role.ORDER_DESK)]
        case CancellationStep.CANCELLED if path in (CancellationPath.HOLD, CancellationPath.RECALL):
            return [Notice(NoticeKind.CANCEL_TEAM_NOTE, holder)]
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
    # The names staff of the order's trail last acted under, for team chats (people by name, issue 18).
    names: Mapping[int, str] = field(default_factory=dict)


class NoticeRenderer(Protocol):
    """Words, buttons and documents of every notice, in the recipient's language."""

    def render(self, notice: Notice, event: Event, order: Order, audience: Audience) -> Rendered | None: ...


# Looks up a department's chat id in the caller's transaction (it follows supergroup migrations).
TeamChatLookup = Callable[[UnitOfWork, str], Awaitable[int | None]]
# Looks up the language a team chat chose with /lang (None: the team language default), issue 18.
ChatLanguageLookup = Callable[[UnitOfWork, int], Awaitable[str | None]]


# Outbox methods of the channels that are not Telegram (scheduler/channels.py delivers them).
EMAIL_METHOD = "email"
WEBHOOK_METHOD = "webhook"
CHANNEL_METHODS = frozenset({EMAIL_METHOD, WEBHOOK_METHOD})
# Telegram chat ids fit in 52 bits; the channels' recipients get ids below -2**53, one per recipient,
# so the outbox keeps each recipient's messages in order and one recipient's retries hold up no other.
_CHANNEL_CHAT_BASE = 2**53
# Notices every customer with an address also gets by email, whatever their chat.
EMAIL_COPY = frozenset({NoticeKind.CONFIRMATION})


def channel_chat_id(method: str, recipient: str) -> int:
    """The outbox chat id of one email address or platform: never a Telegram chat's."""
    digest = hashlib.sha256(f"{method}:{recipient.casefold()}".encode()).digest()
    return -(_CHANNEL_CHAT_BASE + int.from_bytes(digest[:7], "big"))


@dataclass(frozen=True)
class Email:
    """A rendered email: subject, plain text and HTML, the document attached, the link its QR code shows."""

    subject: str
    text: str
    html: str
    attachment: Document | None = None
    qr_link: str | None = None


# Renders the notice as Telegram would show it, on demand (only notices without email wording need it).
TelegramRendering = Callable[[], "Rendered | None"]


class EmailRenderer(Protocol):
    """Words of the customer's emails; `telegram` gives the notice as Telegram shows it, for the rest."""

    def render_email(
        self,
        notice: Notice,
        event: Event,
        order: Order,
        language: str,
        telegram: TelegramRendering,
        link: str | None,
    ) -> Email | None: ...


# Which platform API key created an order, if one did (in the caller's transaction).
PlatformLookup = Callable[[UnitOfWork, str], Awaitable[ApiOrderLink | None]]


@dataclass(frozen=True)
class CustomerChannels:
    """What routing needs beyond Telegram: email, chat bindings, platform webhooks, the told clock."""

    email: EmailRenderer | None = None
    bindings_of: BindingsOf | None = None
    bot_username: str | None = None
    platform_of: PlatformLookup | None = None
    # Names of the API keys (platforms) that have a webhook URL (API_WEBHOOKS).
    webhooks: frozenset[str] = frozenset()
    sla: SlaContext | None = None


@dataclass(frozen=True)
class CustomerRoute:
    """Where the customer of an order is told: their chat, their email address, and the language."""

    chat_id: int | None
    email: str | None
    language: str


def webhook_body(event: OrderStatusChanged, order: Order, link: ApiOrderLink) -> dict[str, Any]:
    """The JSON document a platform receives about one status change of its order (fixed once queued)."""
    shipment = order.shipment
    tracking = {
        key: value
        for key, value in (
            ("carrier", shipment.carrier),
            ("waybill", shipment.waybill),
            ("eta", shipment.eta.isoformat() if shipment.eta else None),
        )
        if value is not None
    }
    return {
        "id": event.id,
        "type": f"order.{event.to_status.value}",
        "created_at": event.at.isoformat(),
        "order": {
            "reference": order.reference,
            "number": order.number,
            "status": event.to_status.value,
            "previous_status": event.from_status.value,
            "external_ref": link.external_ref,
            "service": order.service.value,
            "amount": f"{order.amount:.2f}",
            "currency": order.currency,
            "paid": order.paid,
            "tracking": tracking,
        },
    }


def build_notifier(
    renderer: NoticeRenderer,
    team_chat: TeamChatLookup,
    *,
    team_language: str = "en",
    channels: CustomerChannels | None = None,
    chat_language: ChatLanguageLookup | None = None,
) -> EventHandlers:
    """Returns the event handlers that queue every notice of the policy in the event's transaction."""
    routes = channels or CustomerChannels()

    async def customer_route(order: Order, uow: UnitOfWork) -> CustomerRoute:
        """Finds the customer's chat (bound, or by their consent for this phone or email) and address."""
        customer = order.customer
        if customer.telegram_user_id is None and routes.bindings_of is not None:
            agreed = await routes.bindings_of(uow).chat_for(customer.phone, customer.email)
            if agreed is not None:
                # The customer agreed that their later orders go to this chat (application/binding.py).
                customer.telegram_user_id = agreed
        chat_id = customer.telegram_user_id
        language = customer.language
        if chat_id is not None:
            language = await uow.users.language_of(chat_id) or language
        email = customer.email if routes.email is not None else None
        return CustomerRoute(chat_id, email, language)

    async def language_of(uow: UnitOfWork, chat_id: int) -> str:
        """The language of a team chat: its own choice, else the team default."""
        chosen = await chat_language(uow, chat_id) if chat_language is not None else None
        return chosen or team_language

    async def audience(notice: Notice, event: Event, order: Order, uow: UnitOfWork) -> Audience | None:
        """Finds the chat and language of a team's notice; None when the team has no chat."""
        if notice.to == CARD_THREAD and isinstance(event, CustomerAnswered):
            desk = await team_chat(uow, Role.ORDER_DESK.value)
            chat_id = event.card_chat_id if event.card_chat_id is not None else desk
            if chat_id is None:
                return None
            in_desk_card = event.card_message_id is not None and event.card_chat_id == desk
            return Audience(
                chat_id, await language_of(uow, chat_id), event.card_message_id if in_desk_card else None
            )
        team = notice.to if isinstance(notice.to, Role) else Role.ORDER_DESK
        # The order desk watches every order: a team without a chat is told there.
        chat_id = await team_chat(uow, team.value)
        if chat_id is None and team is not Role.ORDER_DESK:
            chat_id = await team_chat(uow, Role.ORDER_DESK.value)
        if chat_id is None:
            return None
        return Audience(chat_id, await language_of(uow, chat_id), names=await staff_names(uow, order))

    async def queue(notice: Notice, event: Event, order: Order, uow: UnitOfWork, where: Audience) -> None:
        """Renders a notice for a Telegram chat and queues it."""
        rendered = renderer.render(notice, event, order, where)
        if rendered is None:
            return
        params: dict[str, Any] = {**rendered.message.params, "chat_id": where.chat_id}
        if rendered.document is not None:
            params["document_id"] = await save(notice, order, uow, rendered.document, event.at)
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

    async def save(notice: Notice, order: Order, uow: UnitOfWork, document: Document, at: datetime) -> int:
        """Stores a generated document for the sender to upload or attach."""
        kind = DOCUMENT_KINDS.get(notice.kind, notice.kind.value)
        return await uow.reviews.save_document(order.id, kind, document.filename, document.content, at)

    async def mail(notice: Notice, event: Event, order: Order, uow: UnitOfWork, route: CustomerRoute) -> None:
        """Renders a customer notice as an email and queues it for the customer's address."""
        if routes.email is None or route.email is None:
            return
        link = None
        if route.chat_id is None and routes.bindings_of is not None and routes.bot_username:
            token = await token_for(routes.bindings_of(uow), order.id, event.at)
            link = telegram_link(routes.bot_username, token)
        language = route.language

        def as_telegram() -> Rendered | None:
            """The notice as the customer's chat would show it (the email of a notice without its own)."""
            return renderer.render(notice, event, order, Audience(0, language))

        email = routes.email.render_email(notice, event, order, language, as_telegram, link)
        if email is None:
            return
        params: dict[str, Any] = {
            "to": route.email,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        }
        if email.attachment is not None:
            params["document_id"] = await save(notice, order, uow, email.attachment, event.at)
        if email.qr_link is not None:
            params["qr_link"] = email.qr_link
        await uow.outbox.enqueue(
            OutboxMessage(
                channel_chat_id(EMAIL_METHOD, route.email),
                EMAIL_METHOD,
                params,
                event.at,
                order_id=order.id,
                dedup_key=f"{EMAIL_METHOD}:{notice.kind.value}:{event.id}",
            )
        )

    async def tell_platform(event: OrderStatusChanged, order: Order, uow: UnitOfWork) -> None:
        """Queues the signed webhook of a status change for the platform that placed the order."""
        if routes.platform_of is None or not routes.webhooks:
            return
        link = await routes.platform_of(uow, order.id)
        if link is None or link.key_name not in routes.webhooks:
            return
        # The body is fixed now, so every retry sends the same bytes under the same event id.
        body = json.dumps(webhook_body(event, order, link), ensure_ascii=False, separators=(",", ":"))
        await uow.outbox.enqueue(
            OutboxMessage(
                channel_chat_id(WEBHOOK_METHOD, link.key_name),
                WEBHOOK_METHOD,
                {"platform": link.key_name, "event_id": event.id, "body": body},
                event.at,
                order_id=order.id,
                dedup_key=f"{WEBHOOK_METHOD}:{event.id}",
            )
        )

    async def notify(event: Event, order: Order, uow: UnitOfWork) -> None:
        """Queues every notice the policy decides for the event, on the channels routing picks."""
        route: CustomerRoute | None = None
        for notice in notices_for(event, order):
            if notice.to is not CUSTOMER:
                where = await audience(notice, event, order, uow)
                if where is not None:
                    await queue(notice, event, order, uow, where)
                continue
            route = route or await customer_route(order, uow)
            if route.chat_id is not None:
                await queue(notice, event, order, uow, Audience(route.chat_id, route.language))
            if route.chat_id is None or notice.kind in EMAIL_COPY:
                await mail(notice, event, order, uow, route)
        if route is not None and routes.sla is not None:
            # Every customer-facing change is to be told within the hour, reachable or not.
            apply_clock_events(order, [ClockEvent.CUSTOMER_FACING_CHANGE], event.at, routes.sla)
        if isinstance(event, OrderStatusChanged):
            await tell_platform(event, order, uow)

    return {
        OrderStatusChanged: [notify],
        OrderRejected: [notify],
        CustomerAsked: [notify],
        CustomerAnswered: [notify],
        SurveySent: [notify],
        ComplaintRaised: [notify],
        ProblemReported: [notify],
        PaymentReceived: [notify],
        ReceiptSubmitted: [notify],
        ReceiptRefused: [notify],
        PaymentRequested: [notify],
        ClaimChanged: [notify],
        MoneyOwedRecorded: [notify],
        MoneyOwedPaid: [notify],
        ChangeRequested: [notify],
        ChangeApplied: [notify],
        ChangeRefusedLate: [notify],
        ExceptionRaised: [notify],
        DelayCauseRecorded: [notify],
        CustomsNeedsRecorded: [notify],
        CustomerToldOfException: [notify],
        CompensationOffered: [notify],
        CaseDocumentReceived: [notify],
        ExceptionClosed: [notify],
        CancellationChanged: [notify],
    }


def told_customer(message: OutboxMessage, order: Order) -> bool:
    """Whether a delivered outbox message told the order's customer (their chat, email or platform)."""
    if message.method in CHANNEL_METHODS:
        return True
    return order.customer.telegram_user_id is not None and message.chat_id == order.customer.telegram_user_id


async def record_delivery(
    uow: UnitOfWork, message: OutboxMessage, delivered_at: datetime, sla: SlaContext
) -> bool:
    """Closes the order's "customer told" clock when a notice of a change since it opened reached them.

    Returns whether a clock closed. A notice older than the running clock (of an earlier change)
    does not close it; a lost race with a staff action is retried once.
    """
    if message.order_id is None:
        return False
    if message.method not in CHANNEL_METHODS and message.chat_id <= 0:
        # A group chat (a team's) is never the customer's: no need to load the order.
        return False
    for attempt in (1, 2):
        try:
            async with uow:
                order = await uow.orders.get(message.order_id)
                clock = running_clock(order, Stage.CUSTOMER_NOTICE)
                stale = clock is None or message.created_at < clock.started_at
                if stale or not told_customer(message, order):
                    return False
                apply_clock_events(order, [ClockEvent.NOTICE_DELIVERED], delivered_at, sla)
                await uow.commit()
                return True
        except OrderNotFound:
            return False
        except ConcurrentModification:
            if attempt == 2:
                raise
    return False


async def staff_names(uow: UnitOfWork, order: Order) -> dict[int, str]:
    """The names the people of an order's trail last acted under (issue 18: names, never ids)."""
    names: dict[int, str] = {}
    for user_id in sorted({event.actor_id for event in order.audit if event.actor_id is not None}):
        name = await uow.reviews.name_of(user_id)
        if name:
            names[user_id] = name
    return names
