"""The notification policy: who is told what, in which chat, on which event (R-3, R-4, R-5.2).

Every message the workflow sends because something happened to an order is decided here, in
`notices_for`, and nowhere else. The use cases only record domain events; `build_notifier`
(application/notifier.py) turns each event into outbox rows in the same transaction, rendered
through the NoticeRenderer port (the words and buttons live in presentation/). Each row's dedup
key is the notice kind and the event id, so a change is never told twice, also when the same
status is reached again later.

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from application.ports import Document, Outgoing
from domain.aftersales.events import ComplaintRaised, ProblemReported, SurveySent
from domain.cancellation import CancellationChanged, CancellationPath, CancellationStep
from domain.claims.claim import CLAIM_TYPES, ClaimStep, Resolution, claim_of
from domain.claims.events import ClaimChanged
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


# The events notices_for decides about: the notifier handles each of them.
NOTIFIED_EVENTS: tuple[type[Event], ...] = (
    OrderStatusChanged,
    OrderRejected,
    CustomerAsked,
    CustomerAnswered,
    SurveySent,
    ComplaintRaised,
    ProblemReported,
    PaymentReceived,
    ReceiptSubmitted,
    ReceiptRefused,
    PaymentRequested,
    ClaimChanged,
    MoneyOwedRecorded,
    MoneyOwedPaid,
    ChangeRequested,
    ChangeApplied,
    ChangeRefusedLate,
    ExceptionRaised,
    DelayCauseRecorded,
    CustomsNeedsRecorded,
    CustomerToldOfException,
    CompensationOffered,
    CaseDocumentReceived,
    ExceptionClosed,
    CancellationChanged,
)


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
            desk = (
                []
                if event.reopened or order.status not in REVIEW_STATUSES
                else [Notice(NoticeKind.PAID_CARD, Role.ORDER_DESK)]
            )
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
