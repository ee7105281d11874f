"""Words and buttons of cancellations (issue 13, R-6.1): the customer's, the teams' cards, the hold note.

The request buttons under each order (/myorders, /track, the staff /order card) are built here from
the request matrix (domain/orders/requests.py) with OrderRequest; this module handles kind=cancel,
the change flow the others. A button carries the order id and the step only: whoever presses it is
checked against the database, and the cancellation is reloaded.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from application.notifications import NoticeKind
from application.ports import Outgoing
from domain.cancellation import (
    COMPANY_CANCELLABLE,
    Cancellation,
    CancellationChanged,
    CancellationPath,
    CancellationStep,
    default_recall_share,
    path_for,
    recall_charge,
    refund_amount,
)
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.requests import OrderRequestKind, requests_offered
from domain.orders.status import ExceptionType, OrderStatus
from presentation.callbacks import OrderRequest
from presentation.conversation_texts import OTHER, WRITE_TO_PERSON, AskPerson
from presentation.keyboards import N_, shared_button
from presentation.labels import NOT_YOUR_ORDER
from presentation.render import (
    CARD_LIMIT,
    STATUS_NAMES,
    Translate,
    esc,
    fit,
    html_message,
    local_time,
    money,
)


class CxStep(StrEnum):
    """What a cancellation button does."""

    CONFIRM = "ok"
    KEEP = "keep"
    FILE = "file"
    CHECK = "chk"
    CANCEL = "cx"
    TERMS = "trm"
    OTHER_SHARE = "shr"
    ACCEPT = "acc"
    DECLINE = "dec"
    BACK = "back"
    CANNOT = "cant"
    OFFER = "offer"
    ALT_CANCEL = "altc"
    ALT_OTHER = "alto"


class CancelButton(CallbackData, prefix="cx"):
    """A button of the cancellation flow."""

    order_id: str
    step: CxStep


# The request buttons' labels; the change flow (issue 13, R-6.2) handles all but cancel.
REQUEST_LABELS: Mapping[OrderRequestKind, str] = {
    OrderRequestKind.CANCEL: N_("✖ Cancel"),
    OrderRequestKind.ADDRESS: N_("📍 Change address"),
    OrderRequestKind.CONTACT: N_("☎️ Change contact"),
    OrderRequestKind.SERVICE: N_("🚚 Change service"),
}
STEP_LABELS: Mapping[CxStep, str] = {
    CxStep.CONFIRM: N_("✖ Yes, cancel it"),
    CxStep.KEEP: N_("↩️ No, keep it"),
    CxStep.FILE: N_("☎️ The customer agreed by phone: cancel"),
    CxStep.CHECK: N_("✅ Checked: to the order desk"),
    CxStep.CANCEL: N_("✖ Cancel the order"),
    CxStep.TERMS: N_("📨 Propose {share}% of the freight"),
    CxStep.OTHER_SHARE: N_("✏️ Another share"),
    CxStep.ACCEPT: N_("✅ Accept and cancel"),
    CxStep.DECLINE: N_("↩️ Keep the order"),
    CxStep.BACK: N_("📦 Goods are back"),
    CxStep.CANNOT: N_("⛔ Service cannot be provided"),
    CxStep.OFFER: N_("📨 Tell the customer, offer the alternatives"),
    CxStep.ALT_CANCEL: N_("✖ Cancel, full refund"),
    CxStep.ALT_OTHER: N_("🔁 Another service (new quote)"),
}

PROMPT_AT_ONCE = N_("Cancel order {id}? It is not confirmed yet, so it is cancelled at once.")
PROMPT_HOLD = N_(
    "Cancel order {id}? It is being prepared: we stop it now, customer service checks your request "
    "within 1 hour and the order desk cancels it within 2 hours."
)
PROMPT_RECALL = N_(
    "Cancel order {id}? It has left our warehouse, so it must be brought back: customer service "
    "proposes the terms (the share of the freight you bear) within 1 hour."
)
PROMPT_REFUND = N_("What you paid ({amount}) is refunded within 3 working days.")
NOT_CANCELLABLE = N_("Order {id} cannot be cancelled now: it is {status}.")
ALREADY_ASKED = N_("A cancellation of order {id} is under way already.")
CANCELLED_AT_ONCE = N_("Your order {id} is cancelled.")
HELD = N_("Your request is in: order {id} is stopped, and customer service answers within 1 hour.")
KEPT = N_("Your order {id} goes on.")
NO_ORDER = N_("I found no order {reference} of yours. Check the reference, or see /myorders.")
CANCEL_USAGE = N_("Which order? Send /cancel and its reference or number, or press one:")
NO_OPEN_ORDERS = N_("You have no order under way to cancel.")
NOT_YOURS = NOT_YOUR_ORDER
TAKEN = N_("Already handled by {name} at {time}.")
TAKEN_NOW = N_("This step is no longer open: the cancellation of {id} is {state}.")
ROLE_ONLY = N_("Your role does not allow this.")
RACED = N_("Order {id} changed at the same moment ({status}); look at it again with /track {id}.")
FILE_PROMPT = N_(
    "File a cancellation of {id} for the customer? Only with their consent: did they agree by phone?"
)
FILED_FOR = N_("Filed for the customer: the cancellation of {id} is under way.")
SHARE_PROMPT = N_(
    "Share of the freight the customer bears for {id}, in percent (0 to 100)? Send /cancel to stop."
)
SHARE_WRONG = N_("Write the share as a number from 0 to 100, e.g. 30.")
REASON_PROMPT = N_(
    "Why can the service for {id} not be provided? One line for the customer. Send /cancel to stop."
)
REASON_WRONG = N_("Write the reason in at least 3 characters.")
COMPANY_DONE = N_("Customer service is told: it tells the customer of {id} within 1 hour.")
CHOSEN_CANCEL = N_("Your order {id} is cancelled; the refund follows within 3 working days.")
CHOSEN_OTHER = N_(
    "Thank you. Choose the new service for {id} with the button below: you see its quote before you agree."
)
DONE = N_("Done: {what}")

ON_HOLD = N_(
    "⏸ On hold: the customer asked to cancel {id} at {time}. Do not go on with it; the order desk decides."
)
ON_HOLD_RECALL = N_("🔙 {id} is being recalled: bring the goods back, no further steps.")
ON_HOLD_COMPANY = N_(
    "⏸ On hold: the service for {id} cannot be provided; the customer is choosing what happens."
)

SERVICE_CARD_HOLD = N_(
    "🛑 <b>Cancellation request: {id}</b> ({reference})\n{who} asked at {time}{consent}.\n"
    "The goods are still with the warehouse; the order is on hold.\n"
    "Check it within 1 hour (by {due}), then pass it to the order desk."
)
SERVICE_CARD_RECALL = N_(
    "🛑 <b>Cancellation request: {id}</b> ({reference})\n{who} asked at {time}{consent}.\n"
    "The goods have left the warehouse ({status}): propose the recall terms within 1 hour (by {due}). "
    "By the tariff the customer bears {share}% of the freight: {charge}."
)
SERVICE_CARD_COMPANY = N_(
    "⚠️ <b>Service cannot be provided: {id}</b> ({reference})\nReason: {reason}\n"
    "Tell the customer within 1 hour (by {due}) and offer the alternatives."
)
DESK_CARD_CHECKED = N_(
    "✖ <b>Cancel {id}</b> ({reference}): customer service checked the customer’s request. "
    "Cancel it within 2 hours of the request (by {due}). Refund due: {refund}."
)
DESK_CARD_OTHER = N_(
    "🔁 The customer of {id} ({reference}) chose another service instead of the cancellation: "
    "quote it anew and change the service."
)
SERVICE_DECLINED = N_("↩️ The customer of {id} declined the recall terms; the order goes on.")
TEAM_HOLD = N_(
    "⏸ <b>On hold: {id}</b> ({reference}). The customer asked to cancel it at {time}: do not go on with it."
)
TEAM_RECALL = N_(
    "🔙 <b>Recall task: {id}</b> ({reference})\n"
    "The customer accepted the recall: bring the goods back{waybill}. "
    "Press the button once they are back in our warehouse."
)
TEAM_CANCELLED = N_("✖ <b>{id}</b> ({reference}) is cancelled: do not ship it; put the goods back in stock.")
CUSTOMER_TERMS = N_(
    "Your order {id} has already left our warehouse, so it must be brought back to cancel it. "
    "You bear {share}% of the freight: {charge}. We refund {refund}.\nDo you accept?"
)
CUSTOMER_OFFER = N_(
    "We are sorry: we cannot provide the service for your order {id}.\nReason: {reason}\nWhat would you like?"
)
CUSTOMER_OFFER_ONLY_CANCEL = N_(
    "We are sorry: we cannot provide the service for your order {id}.\nReason: {reason}\n"
    "We cancel it and refund what you paid in full."
)
CUSTOMER_GOES_ON = N_("👍 Your order {id} goes on as planned.")
WHO_CUSTOMER = N_("The customer")
WHO_STAFF = N_("Customer service for the customer")
CONSENT = N_(" (consent: {consent})")
WAYBILL = N_(" (waybill {waybill})")

CANCELLATION_NOTICES = frozenset(
    {
        NoticeKind.CANCEL_SERVICE_CARD,
        NoticeKind.CANCEL_DESK_CARD,
        NoticeKind.CANCEL_TEAM_NOTE,
        NoticeKind.CANCEL_CUSTOMER,
    }
)


def shown(order: Order) -> str:
    """The id people know the order by, escaped."""
    return esc(order.display_id)


def button(order: Order, step: CxStep, t: Translate, **values: object) -> InlineKeyboardButton:
    """One cancellation button."""
    return InlineKeyboardButton(
        text=t(STEP_LABELS[step]).format(**values),
        callback_data=CancelButton(order_id=order.id, step=step).pack(),
    )


def keyboard(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """A keyboard of the rows given."""
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


def request_buttons(order: Order, t: Translate, *, with_id: bool = False) -> list[list[InlineKeyboardButton]]:
    """The request buttons the order's status offers now (the matrix), two per row."""
    buttons = [
        shared_button(
            f"{t(REQUEST_LABELS[kind])} {order.display_id}" if with_id else t(REQUEST_LABELS[kind]),
            _request_data(order.id, kind),
        )
        for kind in requests_offered(order.status)
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


@functools.lru_cache(maxsize=4096)
def _request_data(order_id: str, kind: OrderRequestKind) -> str:
    """The callback data of an order's request button, packed once (tracking shows them on every /track)."""
    return OrderRequest(order_id=order_id, kind=kind).pack()


def cancel_keyboard(orders: Sequence[Order], t: Translate) -> InlineKeyboardMarkup:
    """A Cancel button per open order that can be cancelled, then "write to customer service"."""
    rows = [
        [
            InlineKeyboardButton(
                text=f"{t(REQUEST_LABELS[OrderRequestKind.CANCEL])} {order.display_id}",
                callback_data=OrderRequest(order_id=order.id, kind=OrderRequestKind.CANCEL).pack(),
            )
        ]
        for order in orders
        if OrderRequestKind.CANCEL in requests_offered(order.status)
    ]
    rows.append([InlineKeyboardButton(text=t(WRITE_TO_PERSON), callback_data=AskPerson(intent=OTHER).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def other_service_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup | None:
    """The change flow's Change service button (issue 13, R-6.2), when the order's stage offers it."""
    if OrderRequestKind.SERVICE not in requests_offered(order.status):
        return None
    change = InlineKeyboardButton(
        text=t(REQUEST_LABELS[OrderRequestKind.SERVICE]),
        callback_data=OrderRequest(order_id=order.id, kind=OrderRequestKind.SERVICE).pack(),
    )
    return keyboard([change])


def confirm_prompt(order: Order, t: Translate) -> tuple[str, InlineKeyboardMarkup]:
    """Asks the customer to confirm the cancellation, saying which path it takes and the refund."""
    path = path_for(order.status)
    text = {
        CancellationPath.AT_ONCE: PROMPT_AT_ONCE,
        CancellationPath.HOLD: PROMPT_HOLD,
        CancellationPath.RECALL: PROMPT_RECALL,
    }[path]
    lines = [t(text).format(id=shown(order))]
    if order.paid and path is not CancellationPath.RECALL:
        lines.append(t(PROMPT_REFUND).format(amount=money(refund_amount(order), order.currency)))
    return "\n".join(lines), keyboard([button(order, CxStep.CONFIRM, t), button(order, CxStep.KEEP, t)])


def staff_buttons(
    order: Order, *, may_file: bool, may_cannot: bool, t: Translate
) -> list[list[InlineKeyboardButton]]:
    """The staff /order card's cancellation buttons: file one for a customer, or the company's."""
    rows = []
    if may_file and OrderRequestKind.CANCEL in requests_offered(order.status):
        rows.append([button(order, CxStep.FILE, t)])
    if may_cannot and order.status in COMPANY_CANCELLABLE:
        rows.append([button(order, CxStep.CANNOT, t)])
    return rows


def on_hold(order: Order, t: Translate, timezone: str) -> str | None:
    """Why a warehouse or logistics button is blocked by a cancellation, or None if it is not."""
    since = next(
        (line.at for line in reversed(order.audit) if line.to_status is order.status), order.created_at
    )
    if order.status is OrderStatus.CANCELLATION_REQUESTED:
        return t(ON_HOLD).format(id=order.display_id, time=local_time(since, timezone))
    if order.status is OrderStatus.RECALL_IN_PROGRESS:
        return t(ON_HOLD_RECALL).format(id=order.display_id)
    if order.status is OrderStatus.EXCEPTION and order.exception_type is ExceptionType.COMPANY_CANCELLATION:
        return t(ON_HOLD_COMPANY).format(id=order.display_id)
    return None


def _due(order: Order, stage: str, timezone: str) -> str:
    """When a running clock of the order is due, in company time ("" without one)."""
    clock = next((c for c in order.clocks if c.stage == stage and c.running), None)
    return local_time(clock.due_at, timezone) if clock is not None else ""


def _message(text: str, t: Translate, markup: InlineKeyboardMarkup | None = None) -> Outgoing:
    """A sendMessage in HTML that fits a card."""
    return html_message(fit(text.split("\n"), t, limit=CARD_LIMIT), markup)


def render_cancellation(
    kind: NoticeKind, event: Event, order: Order, t: Translate, timezone: str
) -> Outgoing | None:
    """Renders one cancellation notice in the recipient's language; None when there is nothing to say."""
    if not isinstance(event, CancellationChanged):
        return None
    c, step = event.cancellation, event.step
    ids = {"id": shown(order), "reference": esc(order.reference)}
    match kind, step:
        case NoticeKind.CANCEL_SERVICE_CARD, CancellationStep.FILED:
            return _service_card(order, c, t, timezone, ids)
        case NoticeKind.CANCEL_SERVICE_CARD, CancellationStep.CANNOT_SERVE:
            text = t(SERVICE_CARD_COMPANY).format(
                reason=esc(c.reason), due=_due(order, "cancel_check", timezone), **ids
            )
            return _message(text, t, keyboard([button(order, CxStep.OFFER, t)]))
        case NoticeKind.CANCEL_SERVICE_CARD, CancellationStep.DECLINED:
            return _message(t(SERVICE_DECLINED).format(**ids), t)
        case NoticeKind.CANCEL_DESK_CARD, CancellationStep.CHECKED:
            text = t(DESK_CARD_CHECKED).format(
                due=_due(order, "cancel_done", timezone),
                refund=money(refund_amount(order), order.currency),
                **ids,
            )
            return _message(text, t, keyboard([button(order, CxStep.CANCEL, t)]))
        case NoticeKind.CANCEL_DESK_CARD, CancellationStep.OTHER_SERVICE:
            return _message(t(DESK_CARD_OTHER).format(**ids), t)
        case NoticeKind.CANCEL_TEAM_NOTE, CancellationStep.FILED:
            text = t(TEAM_HOLD).format(time=local_time(c.requested_at, timezone), **ids)
            return _message(text, t)
        case NoticeKind.CANCEL_TEAM_NOTE, CancellationStep.ACCEPTED:
            waybill = order.shipment.waybill
            extra = t(WAYBILL).format(waybill=esc(waybill)) if waybill else ""
            return _message(
                t(TEAM_RECALL).format(waybill=extra, **ids), t, keyboard([button(order, CxStep.BACK, t)])
            )
        case NoticeKind.CANCEL_TEAM_NOTE, CancellationStep.CANCELLED:
            return _message(t(TEAM_CANCELLED).format(**ids), t)
        case NoticeKind.CANCEL_CUSTOMER, CancellationStep.TERMS:
            text = t(CUSTOMER_TERMS).format(
                id=shown(order),
                share=c.share_percent,
                charge=money(c.charge or Decimal(0), order.currency),
                refund=money(refund_amount(order, c.charge), order.currency),
            )
            return _message(
                text, t, keyboard([button(order, CxStep.ACCEPT, t), button(order, CxStep.DECLINE, t)])
            )
        case NoticeKind.CANCEL_CUSTOMER, CancellationStep.OFFERED:
            if not c.other_service_offered:
                text = t(CUSTOMER_OFFER_ONLY_CANCEL).format(id=shown(order), reason=esc(c.reason))
                return _message(text, t, keyboard([button(order, CxStep.ALT_CANCEL, t)]))
            text = t(CUSTOMER_OFFER).format(id=shown(order), reason=esc(c.reason))
            rows = [[button(order, CxStep.ALT_OTHER, t)], [button(order, CxStep.ALT_CANCEL, t)]]
            return _message(text, t, keyboard(*rows))
    return None


def _service_card(
    order: Order, c: Cancellation, t: Translate, timezone: str, ids: dict[str, str]
) -> Outgoing:
    """Customer service's card of a customer's cancellation request: check it, or propose recall terms."""
    who = t(WHO_STAFF) if c.consent else t(WHO_CUSTOMER)
    consent = t(CONSENT).format(consent=esc(c.consent)) if c.consent else ""
    values = {
        "who": who,
        "time": local_time(c.requested_at, timezone),
        "consent": consent,
        "due": _due(order, "cancel_check", timezone),
        **ids,
    }
    if c.path is CancellationPath.HOLD:
        return _message(t(SERVICE_CARD_HOLD).format(**values), t, keyboard([button(order, CxStep.CHECK, t)]))
    share = default_recall_share()
    previous = order.resume_status or order.status
    text = t(SERVICE_CARD_RECALL).format(
        status=t(STATUS_NAMES[previous]),
        share=share,
        charge=money(recall_charge(order, share), order.currency),
        **values,
    )
    rows = [[button(order, CxStep.TERMS, t, share=share)], [button(order, CxStep.OTHER_SHARE, t)]]
    return _message(text, t, keyboard(*rows))
