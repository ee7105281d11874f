"""Words and buttons of exception cases (issue 14, R-6): marking, case alerts, drafts, the customer's taps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from application.notifications import NoticeKind
from application.ports import Outgoing
from domain.claims.claim import CLAIM_TYPES
from domain.exceptions.case import CaseResult, CompensationKind
from domain.exceptions.causes import MARKABLE, cause_catalog
from domain.exceptions.events import (
    CaseDocumentReceived,
    CompensationOffered,
    CustomerToldOfException,
    CustomsNeedsRecorded,
    DelayCauseRecorded,
    ExceptionClosed,
    ExceptionRaised,
)
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.status import ExceptionType
from presentation.callbacks import CaseAction, CaseStep, MarkException, MarkStep
from presentation.keyboards import N_
from presentation.labels import NOT_YOUR_ORDER
from presentation.render import Translate, esc, html_message, local_time

EXCEPTION_NOTICES = frozenset(
    {
        NoticeKind.EXCEPTION_ALERT,
        NoticeKind.EXCEPTION_ALERT_SERVICE,
        NoticeKind.EXCEPTION_ALERT_LOGISTICS,
        NoticeKind.DELAY_DRAFT,
        NoticeKind.EXCEPTION_TOLD,
        NoticeKind.COMPENSATION_OFFER,
        NoticeKind.CASE_DOCUMENT,
        NoticeKind.EXCEPTION_SATISFACTION,
        NoticeKind.EXCEPTION_RECORD,
        NoticeKind.EXCEPTION_CANCEL_CARD,
    }
)

TYPE_LABELS: Mapping[ExceptionType, str] = {
    ExceptionType.DELAY: N_("Delay"),
    ExceptionType.DAMAGED: N_("Damaged goods"),
    ExceptionType.WRONG_SHIPMENT: N_("Wrong shipment"),
    ExceptionType.LOST: N_("Lost shipment"),
    ExceptionType.CUSTOMS_HOLD: N_("Customs hold"),
    ExceptionType.OTHER: N_("Other exception"),
    ExceptionType.CUSTOMER_CANCELLATION: N_("Cancellation by the customer"),
    ExceptionType.COMPANY_CANCELLATION: N_("Cancellation by the company"),
    ExceptionType.MODIFICATION: N_("Change to the order"),
}
CAUSE_LABELS: Mapping[str, str] = {
    "weather": N_("Weather"),
    "carrier_capacity": N_("Carrier capacity"),
    "schedule_change": N_("Flight or sailing changed"),
    "port_congestion": N_("Port or airport congestion"),
    "customs_backlog": N_("Customs backlog"),
    "warehouse_backlog": N_("Warehouse backlog"),
    "address_problem": N_("Address problem"),
    "packing": N_("Packing"),
    "handling_in_transit": N_("Handling in transit"),
    "last_mile_handling": N_("Handling on delivery"),
    "picking_error": N_("Picking error"),
    "labelling_error": N_("Labelling error"),
    "mixed_parcels": N_("Parcels mixed up"),
    "lost_in_transit": N_("Lost in transit"),
    "lost_at_hub": N_("Lost at a hub"),
    "lost_last_mile": N_("Lost on delivery"),
    "documents_missing": N_("Documents missing"),
    "inspection": N_("Inspection"),
    "duties_unpaid": N_("Duties unpaid"),
    "valuation_query": N_("Value queried"),
    "restricted_goods": N_("Restricted goods"),
    "customer_request": N_("Customer's request"),
    "system_error": N_("System error"),
    "other": N_("Other cause"),
}
RESULT_LABELS: Mapping[CaseResult, str] = {
    CaseResult.RESUMED: N_("the order goes on"),
    CaseResult.RELEASED: N_("customs released the goods"),
    CaseResult.RETURNED: N_("customs returns the goods"),
    CaseResult.DESTROYED: N_("customs destroys the goods"),
    CaseResult.RESHIPPED: N_("the goods are sent again"),
    CaseResult.COMPENSATED: N_("compensated"),
    CaseResult.DISCOUNTED: N_("a discount was given"),
    CaseResult.CANCELLED: N_("the order is cancelled"),
}
COMPENSATION_LABELS: Mapping[CompensationKind, str] = {
    CompensationKind.FREIGHT_DISCOUNT: N_("a freight discount"),
    CompensationKind.COUPON: N_("a coupon"),
    CompensationKind.PAYOUT: N_("a payout"),
}
UNKNOWN_CAUSE = N_("Not known yet")

CHOOSE_TYPE = N_("⚠️ Mark an exception on order {id}: what happened?")
CHOOSE_CAUSE = N_("⚠️ {type} on order {id}: what is the cause?")
ASK_NOTE = N_("Write a short note for the team about {type} on {id} (or send /skip).")
MARKED = N_("⚠️ Exception marked on {id}: {type}. The order desk and customer service are told.")
ALERT = N_("⚠️ <b>Exception on order {id}</b>: {type}\nCause: {cause}\nNote: {note}\nMarked by: {who}")
ALERT_HOLD = N_(
    "⛔ <b>Customs holds order {id}</b>: {note}\nAsk the customer once logistics records what customs needs."
)
DRAFT_HEAD = N_("✉️ Delay on {id} — the message to the customer (send it as is, or edit it):")
NEEDS_HEAD = N_(
    "✉️ Customs needs something for {id} — the request to the customer (send it as is, or edit it):"
)
DRAFT_DELAY = N_(
    "We are sorry: your order {id} is delayed ({cause}). The new expected delivery time is {eta}."
)
DRAFT_NEEDS = N_(
    "Customs is holding your order {id} and needs: {needs}. Please send the documents here as a photo or PDF."
)
COMPENSABLE = N_(
    "The delay is longer than the compensation threshold: you may offer a freight discount or a coupon."
)
TOLD_STAFF = N_("✅ Sent to the customer of {id}.")
DOCUMENT_CAPTION = N_("📎 The customer sent a document for order {id} (customs hold).")
SATISFACTION = N_(
    "The exception with your order {id} is handled: {result}. Are you satisfied with how we handled it?"
)
OFFER = N_("🎁 For the delay of your order {id} we offer {kind} of {amount}. Tap Accept to take it.")
RECORD_CARD = N_(
    "🗂 Case on {id} closed ({result}). Complete the exception record within 24 h:\n<pre>{draft}</pre>"
)

CANCEL_CARD = N_(
    "⛔ Order {id}: {result}. Cancel it as the company; the customer is offered the alternatives."
)
BUTTON_CANCEL = N_("⛔ Cancel by the company")
BUTTON_YES = N_("👍 Satisfied")
BUTTON_NO = N_("👎 Not satisfied")
BUTTON_ACCEPT = N_("✅ Accept")
BUTTON_UPLOAD = N_("📎 Upload documents")
BUTTON_SEND = N_("✉️ Send to the customer")
BUTTON_EDIT = N_("✏️ Edit")
BUTTON_CAUSE = N_("🔎 Record cause and new time")
BUTTON_NEEDS = N_("📝 What customs needs")
BUTTON_RELEASE = N_("✅ Released")
BUTTON_RETURN = N_("↩️ Returned")
BUTTON_DESTROY = N_("🗑 Destroyed")
BUTTON_RESOLVE = N_("✅ Resolved, go on")
BUTTON_RECORD = N_("🗂 Save the record")
BUTTON_COUPON = N_("🎟 Offer a coupon")
BUTTON_DISCOUNT = N_("💸 Offer a freight discount")


def type_label(kind: ExceptionType, t: Translate) -> str:
    """The translated name of an exception type."""
    return t(TYPE_LABELS[kind])


def cause_label(cause: str | None, t: Translate) -> str:
    """The translated name of a cause ("not known yet" for none)."""
    if cause is None:
        return t(UNKNOWN_CAUSE)
    return t(CAUSE_LABELS.get(cause, CAUSE_LABELS["other"]))


def _button(text: str, data: str) -> InlineKeyboardButton:
    """One inline button."""
    return InlineKeyboardButton(text=text, callback_data=data)


def _rows(buttons: list[InlineKeyboardButton], width: int = 2) -> InlineKeyboardMarkup:
    """Buttons laid out in rows."""
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + width] for i in range(0, len(buttons), width)]
    )


def type_keyboard(order_id: str, t: Translate) -> InlineKeyboardMarkup:
    """One button per exception type staff can mark."""
    return _rows(
        [
            _button(
                type_label(kind, t),
                MarkException(order_id=order_id, step=MarkStep.TYPE, kind=kind.value).pack(),
            )
            for kind in MARKABLE
        ]
    )


def cause_keyboard(order_id: str, kind: ExceptionType, t: Translate) -> InlineKeyboardMarkup:
    """One button per cause of the type, and "not known yet"."""
    causes = cause_catalog().causes_of(kind)
    buttons = [
        _button(
            cause_label(cause, t),
            MarkException(order_id=order_id, step=MarkStep.CAUSE, kind=kind.value, cause=index).pack(),
        )
        for index, cause in enumerate(causes)
    ]
    buttons.append(
        _button(
            t(UNKNOWN_CAUSE), MarkException(order_id=order_id, step=MarkStep.CAUSE, kind=kind.value).pack()
        )
    )
    return _rows(buttons)


def case_cause_keyboard(case_id: int, kind: ExceptionType, t: Translate) -> InlineKeyboardMarkup:
    """The causes of a case's type, for logistics recording the cause found."""
    causes = cause_catalog().causes_of(kind)
    return _rows(
        [
            _button(cause_label(cause, t), CaseAction(case_id=case_id, step=CaseStep.CAUSE, arg=index).pack())
            for index, cause in enumerate(causes)
        ]
    )


def case_keyboard(case_id: int, kind: ExceptionType, t: Translate) -> InlineKeyboardMarkup | None:
    """The buttons of a case alert: what the departments do next, by type."""

    def button(text: str, step: CaseStep) -> InlineKeyboardButton:
        return _button(t(text), CaseAction(case_id=case_id, step=step).pack())

    if kind is ExceptionType.CUSTOMS_HOLD:
        return _rows(
            [
                button(BUTTON_NEEDS, CaseStep.NEEDS),
                # Customer service can ask at once, from the hold reason, within its hour (delay_notice).
                button(BUTTON_SEND, CaseStep.SEND),
                button(BUTTON_EDIT, CaseStep.EDIT),
                button(BUTTON_RELEASE, CaseStep.RELEASE),
                button(BUTTON_RETURN, CaseStep.RETURN),
                button(BUTTON_DESTROY, CaseStep.DESTROY),
            ]
        )
    if kind in CLAIM_TYPES:
        # Damaged, wrong and lost goods are settled and closed through the claim's own cards:
        # a "resolved" here would close the case before the customer has agreed to anything.
        return None
    buttons = [button(BUTTON_CAUSE, CaseStep.CAUSE)] if kind is ExceptionType.DELAY else []
    return _rows([*buttons, button(BUTTON_RESOLVE, CaseStep.RESOLVE)])


def draft_keyboard(case_id: int, t: Translate, *, compensable: bool) -> InlineKeyboardMarkup:
    """Send or edit the drafted message; offer compensation for a long delay."""
    buttons = [
        _button(t(BUTTON_SEND), CaseAction(case_id=case_id, step=CaseStep.SEND).pack()),
        _button(t(BUTTON_EDIT), CaseAction(case_id=case_id, step=CaseStep.EDIT).pack()),
    ]
    if compensable:
        kinds = list(CompensationKind)
        for text, offer in (
            (BUTTON_DISCOUNT, CompensationKind.FREIGHT_DISCOUNT),
            (BUTTON_COUPON, CompensationKind.COUPON),
        ):
            data = CaseAction(case_id=case_id, step=CaseStep.OFFER, arg=kinds.index(offer)).pack()
            buttons.append(_button(t(text), data))
    return _rows(buttons)


def delay_draft(order: Order, cause: str, new_eta: datetime, t: Translate, timezone: str) -> str:
    """The delay notice the bot drafts in the customer's language (R-6.3)."""
    return t(DRAFT_DELAY).format(
        id=order.display_id, cause=cause_label(cause, t), eta=local_time(new_eta, timezone)
    )


def needs_draft(order: Order, needs: str, t: Translate) -> str:
    """The customs request the bot drafts in the customer's language."""
    return t(DRAFT_NEEDS).format(id=order.display_id, needs=needs)


class TelegramExceptionNotices:
    """Renders the exception notices; `customer_t` gives the translator of the customer's language."""

    def __init__(self, customer_t: Callable[[str], Translate], timezone: str) -> None:
        self.customer_t = customer_t
        self.timezone = timezone

    def render(
        self, kind: NoticeKind, event: Event, order: Order, t: Translate, names: Mapping[int, str]
    ) -> Outgoing | None:
        """Renders one exception notice; None when the event does not fit the kind."""
        shown = esc(order.display_id)
        match kind, event:
            case (
                NoticeKind.EXCEPTION_ALERT
                | NoticeKind.EXCEPTION_ALERT_SERVICE
                | NoticeKind.EXCEPTION_ALERT_LOGISTICS,
                ExceptionRaised(),
            ):
                if event.kind is ExceptionType.CUSTOMS_HOLD:
                    text = t(ALERT_HOLD).format(id=shown, note=esc(event.note))
                else:
                    who = names.get(event_actor(order), "") or "—"
                    text = t(ALERT).format(
                        id=shown,
                        type=esc(type_label(event.kind, t)),
                        cause=esc(cause_label(event.cause, t)),
                        note=esc(event.note or "—"),
                        who=esc(who),
                    )
                return html_message(text, case_keyboard(event.case_id, event.kind, t))
            case NoticeKind.DELAY_DRAFT, DelayCauseRecorded():
                draft = delay_draft(
                    order, event.cause, event.new_eta, self.customer_t(order.customer.language), self.timezone
                )
                lines = [t(DRAFT_HEAD).format(id=shown), "", f"<i>{esc(draft)}</i>"]
                if event.compensable:
                    lines += ["", t(COMPENSABLE)]
                return html_message(
                    "\n".join(lines), draft_keyboard(event.case_id, t, compensable=event.compensable)
                )
            case NoticeKind.DELAY_DRAFT, CustomsNeedsRecorded():
                draft = needs_draft(order, event.needs, self.customer_t(order.customer.language))
                text = "\n".join([t(NEEDS_HEAD).format(id=shown), "", f"<i>{esc(draft)}</i>"])
                return html_message(text, draft_keyboard(event.case_id, t, compensable=False))
            case NoticeKind.EXCEPTION_TOLD, CustomerToldOfException():
                markup = None
                if event.asks_documents:
                    markup = _rows(
                        [
                            _button(
                                t(BUTTON_UPLOAD),
                                CaseAction(case_id=event.case_id, step=CaseStep.UPLOAD).pack(),
                            )
                        ]
                    )
                return html_message(esc(event.text), markup)
            case NoticeKind.COMPENSATION_OFFER, CompensationOffered():
                text = t(OFFER).format(
                    id=shown,
                    kind=t(COMPENSATION_LABELS[CompensationKind(event.kind)]),
                    amount=esc(f"{event.amount} {event.currency}"),
                )
                accept = _button(
                    t(BUTTON_ACCEPT), CaseAction(case_id=event.case_id, step=CaseStep.ACCEPT).pack()
                )
                return html_message(text, _rows([accept]))
            case NoticeKind.CASE_DOCUMENT, CaseDocumentReceived():
                method = "sendPhoto" if event.file_kind == "photo" else "sendDocument"
                field = "photo" if event.file_kind == "photo" else "document"
                caption = t(DOCUMENT_CAPTION).format(id=shown)
                return Outgoing(method, {field: event.file_id, "caption": caption, "parse_mode": "HTML"})
            case NoticeKind.EXCEPTION_SATISFACTION, ExceptionClosed():
                text = t(SATISFACTION).format(id=shown, result=t(RESULT_LABELS[CaseResult(event.result)]))
                markup = _rows(
                    [
                        _button(
                            t(BUTTON_YES), CaseAction(case_id=event.case_id, step=CaseStep.SATISFIED).pack()
                        ),
                        _button(
                            t(BUTTON_NO), CaseAction(case_id=event.case_id, step=CaseStep.UNSATISFIED).pack()
                        ),
                    ]
                )
                return html_message(text, markup)
            case NoticeKind.EXCEPTION_CANCEL_CARD, ExceptionClosed():
                text = t(CANCEL_CARD).format(id=shown, result=t(RESULT_LABELS[CaseResult(event.result)]))
                cancel = _button(
                    t(BUTTON_CANCEL), CaseAction(case_id=event.case_id, step=CaseStep.CANCEL).pack()
                )
                return html_message(text, _rows([cancel]))
            case NoticeKind.EXCEPTION_RECORD, ExceptionClosed():
                return html_message(*record_card(event.case_id, order, event.result, event.draft, t))
        return None


def event_actor(order: Order) -> int:
    """Who made the order's latest audit line (the marking), 0 for nobody."""
    return order.audit[-1].actor_id or 0 if order.audit else 0


# Replies of the exception handlers (handlers/exceptions.py, exception_dialogs.py, exception_support.py).
USAGE = N_("Usage: /exception <order number or reference>")
NO_ORDER = N_("No order {key} was found. Check the number or reference and try again.")
NOT_ALLOWED = N_("Your role does not allow this.")
NOT_NOW = N_("Not possible now: the order is {status}.")
CASE_GONE = N_("This exception case is not known.")
CASE_CLOSED = N_("This case was closed by {name} at {time}.")
OPEN_ALREADY = N_("Order {id} has an open exception case already; handle it first.")
NOTE_TOO_LONG = N_("The note is too long: at most {limit} characters. Shorten it and send it again.")
ASK_ETA = N_("When is the new expected delivery time? Send it as YYYY-MM-DD HH:MM (company time).")
BAD_ETA = N_("The new expected time must be a future time as YYYY-MM-DD HH:MM, e.g. 2026-03-20 18:00.")
CAUSE_SAVED = N_("🔎 Cause and new time recorded for {id}; customer service has the drafted message.")
ASK_NEEDS = N_("What does customs need for order {id}? Write it in one message.")
NEEDS_SAVED = N_("📝 Recorded for {id}; customer service will ask the customer.")
ASK_EDIT = N_("Write the message to the customer of {id} as it should be sent.")
EMPTY_TEXT = N_("The message is empty. Write the text and send it again.")
CLOSED_REPLY = N_("✅ Case on {id} closed: {result}.")
ASK_DOCUMENT = N_("Send the document for order {id} here as a photo or a PDF file.")
NOT_A_DOCUMENT = N_("Please send a photo or a PDF file (not text) for order {id}.")
DOCUMENT_THANKS = N_("📎 Thank you, we have your document for order {id} for our logistics team.")
NOT_YOURS = NOT_YOUR_ORDER
THANKS_ANSWER = N_("Thank you for your answer.")
ANSWERED_ALREADY = N_("You have answered already. Thank you.")
ASK_AMOUNT = N_("How much is {kind} for {id}, in {currency}? At most {limit} for your role.")
BAD_AMOUNT = N_("The amount must be a number above zero with at most two decimals, e.g. 12.50.")
TOO_HIGH = N_("{amount} is above your limit of {limit}. Offer less, or ask the order desk head.")
OFFERED = N_("🎁 Offer sent to the customer of {id}.")
ACCEPTED = N_("✅ Thank you, the compensation for {id} is accepted; we apply it and let you know.")
ASK_RECORD = N_("Write the exception record of {id} (the draft above is what the case's trail says).")
RECORDED = N_("🗂 Exception record of {id} saved.")
RECORDED_ALREADY = N_("The exception record of {id} is complete already.")
RACE = N_("Someone changed this order at the same moment. Look at the latest message and try again.")


def record_card(
    case_id: int, order: Order, result: str, draft: str, t: Translate
) -> tuple[str, InlineKeyboardMarkup]:
    """The order desk's record card, prefilled from the case's trail (R-6.5)."""
    text = t(RECORD_CARD).format(
        id=esc(order.display_id), result=t(RESULT_LABELS[CaseResult(result)]), draft=esc(draft[:3000])
    )
    markup = _rows(
        [
            _button(t(BUTTON_RECORD), CaseAction(case_id=case_id, step=CaseStep.RECORD).pack()),
            _button(t(BUTTON_EDIT), CaseAction(case_id=case_id, step=CaseStep.RECORD_EDIT).pack()),
        ]
    )
    return text, markup


# Why the company cancellation is refused, by CancellationError code.
CANCEL_REFUSED = N_(
    "The order cannot be cancelled as the company now; its cancellation may be under way already."
)
CANCEL_STARTED = N_(
    "⛔ Order {id} is cancelled as the company; customer service offers the customer the alternatives."
)
RECORD_AFTER_CANCEL = N_("Cancel the order as the company first; the exception record follows.")
