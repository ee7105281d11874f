"""The notices about a change to a placed order (issue 13, R-6.2) the notification policy sends.

The order desk's change card with Apply, the customer's notices (changed, filed for a caller, too
late), the warehouse's note with the updated card, and the review card's line of what a change
re-quoted. The words of offering, refusing and entering a change are presentation/change_texts.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from application.notifications import NoticeKind
from application.ports import Outgoing
from domain.orders.change_record import ChangeRecord, Consent
from domain.orders.changes import ChangeApplied, PriceChange, last_requote
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.requests import ChangeRefusal
from domain.orders.status import Role
from presentation.change_texts import (
    ALTERNATIVES,
    APPLY_WITHIN,
    KIND_NAMES,
    NEW,
    NOW,
    REASONS,
    ChangeApply,
    price_lines,
    shown_values,
)
from presentation.execution_cards import card_keyboard, card_text
from presentation.keyboards import N_
from presentation.labels import field
from presentation.payment_texts import pay_keyboard
from presentation.render import Translate, esc, fit, keyboard_json, local_time, money

CARD_TITLE = N_("✏️ <b>Change of the {what}</b> for {id} ({reference})")
CARD_ASKED = N_("Asked by {who} ({how}) at {time}; apply it by {due}.")
HOW_IN_CHAT = N_("the customer, in the chat")
HOW_BY_PHONE = N_("on the phone; consent recorded by customer service")
APPLY = N_("✅ Apply change")

DONE_TITLE = N_("✅ The {what} of your order {id} is changed: {new}.")
REQUOTED = N_("Our order desk checks the order again before it goes on.")
RECEIVED = N_(
    "Customer service filed a change of the {what} of your order {id}: {new}. Our order desk applies it "
    "within the hour."
)
LATE = N_("Sorry, the change of the {what} of your order {id} came too late: {reason}. {alternative}")
WAREHOUSE_CHANGED = N_("✏️ <b>The {what} of {id} changed</b>: {old} → {new}")
WAREHOUSE_HOLD = N_(
    "⏸ <b>{id} went back to review</b> after a change of the {what}: do not ship it until it is "
    "confirmed again."
)
REVIEW_CHANGED = N_("Changed by the customer: {what} {old} → {new}; price {before} → {after}.")


def _text(params: Mapping[str, Any]) -> dict[str, Any]:
    """sendMessage parameters of an HTML text."""
    return {**params, "parse_mode": "HTML"}


def change_card(order: Order, record: ChangeRecord, t: Translate, timezone: str, who: str) -> dict[str, Any]:
    """The order desk's card of a waiting change, with Apply."""
    how = HOW_IN_CHAT if record.consent is Consent.IN_CHAT else HOW_BY_PHONE
    lines = [
        t(CARD_TITLE).format(
            what=t(KIND_NAMES[record.kind]), id=esc(order.display_id), reference=esc(order.reference)
        ),
        f"{field(t, NOW)}{shown_values(record.kind, record.old, t)}",
        f"{field(t, NEW)}{shown_values(record.kind, record.new, t)}",
        t(CARD_ASKED).format(
            who=esc(who),
            how=t(how),
            time=local_time(record.requested_at, timezone),
            due=local_time(record.requested_at + APPLY_WITHIN, timezone),
        ),
    ]
    button = InlineKeyboardButton(
        text=t(APPLY), callback_data=ChangeApply(order_id=order.id, number=record.number).pack()
    )
    markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    return _text({"text": fit(lines, t), "reply_markup": keyboard_json(markup)})


def done_notice(order: Order, record: ChangeRecord, requoted: bool, t: Translate) -> dict[str, Any]:
    """The customer's notice of an applied change: what changed, the new price, Pay now if due."""
    lines = [
        t(DONE_TITLE).format(
            what=t(KIND_NAMES[record.kind]),
            id=esc(order.display_id),
            new=shown_values(record.kind, record.new, t),
        )
    ]
    params: dict[str, Any] = {}
    if record.amount_before is not None and record.amount_after is not None:
        to_pay = order.outstanding or Decimal(0)
        dropped = record.amount_before - record.amount_after
        to_refund = dropped if order.paid and dropped > 0 else Decimal(0)
        price = PriceChange(record.amount_before, record.amount_after, to_pay, to_refund)
        lines += price_lines(order, price, t)
        markup = pay_keyboard(order, t) if order.outstanding else None
        if markup is not None:
            params["reply_markup"] = keyboard_json(markup)
    if requoted:
        lines.append(t(REQUOTED))
    return _text({"text": fit(lines, t), **params})


def received_notice(order: Order, record: ChangeRecord, t: Translate) -> dict[str, Any]:
    """A hotline caller's notice that customer service filed their change."""
    text = t(RECEIVED).format(
        what=t(KIND_NAMES[record.kind]),
        id=esc(order.display_id),
        new=shown_values(record.kind, record.new, t),
    )
    return _text({"text": text})


def late_notice(order: Order, record: ChangeRecord, t: Translate) -> dict[str, Any]:
    """The customer's notice that a waiting change came too late, with the alternative."""
    reason = ChangeRefusal(record.refusal or ChangeRefusal.LEFT_WAREHOUSE.value)
    text = t(LATE).format(
        what=t(KIND_NAMES[record.kind]),
        id=esc(order.display_id),
        reason=t(REASONS[reason]),
        alternative=t(ALTERNATIVES[reason]),
    )
    return _text({"text": text})


def warehouse_notice(
    order: Order, record: ChangeRecord, requoted: bool, t: Translate, timezone: str
) -> dict[str, Any]:
    """The warehouse's note of the change with the order's updated card (or: hold it, back in review)."""
    what = t(KIND_NAMES[record.kind])
    if requoted:
        return _text({"text": t(WAREHOUSE_HOLD).format(id=esc(order.display_id), what=what)})
    head = t(WAREHOUSE_CHANGED).format(
        what=what,
        id=esc(order.display_id),
        old=shown_values(record.kind, record.old, t),
        new=shown_values(record.kind, record.new, t),
    )
    params: dict[str, Any] = {"text": fit([head, "", card_text(order, Role.WAREHOUSE, t, timezone)], t)}
    markup = card_keyboard(order, t)
    if markup is not None:
        params["reply_markup"] = keyboard_json(markup)
    return _text(params)


def review_change_lines(order: Order, t: Translate) -> list[str]:
    """The review card's line of what the change that sent the order back to review changed."""
    record = last_requote(order)
    if record is None or record.amount_before is None or record.amount_after is None:
        return []
    return [
        t(REVIEW_CHANGED).format(
            what=t(KIND_NAMES[record.kind]),
            old=shown_values(record.kind, record.old, t),
            new=shown_values(record.kind, record.new, t),
            before=money(record.amount_before, order.currency),
            after=money(record.amount_after, order.currency),
        )
    ]


CHANGE_NOTICES = frozenset(
    {
        NoticeKind.CHANGE_CARD,
        NoticeKind.CHANGE_RECEIVED,
        NoticeKind.CHANGE_DONE,
        NoticeKind.CHANGE_WAREHOUSE,
        NoticeKind.CHANGE_REFUSED,
    }
)


def render_change_notice(
    kind: NoticeKind, event: Event, order: Order, t: Translate, timezone: str, names: Mapping[int, str]
) -> Outgoing | None:
    """One notice of the notification policy about a change (application/notifications.py)."""
    number = getattr(event, "number", None)
    record = next((record for record in order.changes if record.number == number), None)
    if record is None:
        return None
    requoted = isinstance(event, ChangeApplied) and event.requoted
    match kind:
        case NoticeKind.CHANGE_CARD:
            who = order.customer.name
            if record.consent is Consent.BY_PHONE and record.requested_by is not None:
                who = f"{order.customer.name} / {names.get(record.requested_by) or t(N_('a staff member'))}"
            params = change_card(order, record, t, timezone, who)
        case NoticeKind.CHANGE_RECEIVED:
            params = received_notice(order, record, t)
        case NoticeKind.CHANGE_DONE:
            params = done_notice(order, record, requoted, t)
        case NoticeKind.CHANGE_WAREHOUSE:
            params = warehouse_notice(order, record, requoted, t, timezone)
        case _:
            params = late_notice(order, record, t)
    return Outgoing("sendMessage", params)
