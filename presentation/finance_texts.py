"""Finance's words (issue 13, R-6.1, R-6.4): the card of a refund or payout, /refunds, the paid notice.

Every text is a catalog message (locales/*/LC_MESSAGES/finance.po) in the reader's language; values
are escaped by the templates. A card and a page of /refunds fit one Telegram message by construction
(PAGE_SIZE records, each note cut to one short line).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from application.notifications import NoticeKind
from application.ports import Outgoing
from domain.finance import MoneyKind, MoneyOwed, MoneyOwedPaid, MoneyOwedRecorded, OwedReason
from domain.orders.events import Event
from domain.orders.model import Order
from presentation.labels import N_, field, payment_name, time_left
from presentation.render import Translate, esc, fit, html_message, local_time, money, one_line

FINANCE_NOTICES = frozenset({NoticeKind.OWED_CARD, NoticeKind.OWED_PAID})
NOTE_SHOWN = 120


class OwedStep(StrEnum):
    """What a finance button does."""

    PAY = "pay"
    # The same from a page of /refunds (the page is not the record's card).
    LIST_PAY = "lpay"
    NOW = "now"
    PAGE = "page"


class OwedAction(CallbackData, prefix="owe"):
    """A finance button: Record as paid, Paid now (its record), or a page of /refunds (its offset)."""

    act: OwedStep
    value: int


KIND_TITLES: Mapping[MoneyKind, str] = {
    MoneyKind.REFUND: N_("💸 Refund owed to the customer"),
    MoneyKind.PAYOUT: N_("💸 Payout owed to the customer"),
}
KIND_NAMES: Mapping[MoneyKind, str] = {
    MoneyKind.REFUND: N_("Refund"),
    MoneyKind.PAYOUT: N_("Payout"),
}
REASON_NAMES: Mapping[OwedReason, str] = {
    OwedReason.CANCELLATION: N_("order cancelled"),
    OwedReason.RECALL: N_("goods recalled, less the agreed charge"),
    OwedReason.PRICE_DIFFERENCE: N_("lower price after a service change"),
    OwedReason.DELAY_COMPENSATION: N_("compensation for a delay"),
    OwedReason.DAMAGE_COMPENSATION: N_("compensation for damaged goods"),
    OwedReason.WRONG_SHIPMENT_COMPENSATION: N_("compensation for a wrong shipment"),
    OwedReason.LOSS_COMPENSATION: N_("compensation for lost goods"),
    OwedReason.DISCOUNT: N_("discount granted after payment"),
}
RECORD_PAID = N_("✅ Record as paid")
PAID_NOW = N_("Paid just now")
PREVIOUS = N_("◀ Previous")
NEXT = N_("Next ▶")


def record_paid_keyboard(record_id: int, t: Translate) -> InlineKeyboardMarkup:
    """The card's one button."""
    button = InlineKeyboardButton(
        text=t(RECORD_PAID), callback_data=OwedAction(act=OwedStep.PAY, value=record_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def owed_card_text(order: Order, owed: MoneyOwed | MoneyOwedRecorded, t: Translate, timezone: str) -> str:
    """The card finance gets for a refund or payout, stored or just recorded: what, for whom, how, by when."""
    lines = [
        f"<b>{t(KIND_TITLES[owed.kind])}</b>",
        field(t, N_("Order")) + esc(order.display_id),
        field(t, N_("Customer")) + esc(one_line(order.customer.name, 100)),
        field(t, N_("Amount")) + money(owed.amount, owed.currency),
        field(t, N_("Reason")) + t(REASON_NAMES[owed.reason]),
        field(t, N_("Paid with")) + payment_name(owed.method, t),
    ]
    if owed.provider_payment_charge_id:
        lines.append(
            field(t, N_("Telegram Payments charge (provider)"))
            + f"<code>{esc(owed.provider_payment_charge_id)}</code>"
        )
    if owed.note:
        lines.append(field(t, N_("Note")) + esc(one_line(owed.note, NOTE_SHOWN)))
    lines.append(field(t, N_("Pay by")) + esc(local_time(owed.due_at, timezone)))
    return fit(lines, t)


def card_of_record(record: MoneyOwed, order: Order, t: Translate, timezone: str) -> str:
    """The card of a stored record (the /refunds button's reply)."""
    return owed_card_text(order, record, t, timezone)


def paid_notice_text(order: Order, event: MoneyOwedPaid, t: Translate) -> str:
    """The customer's message: how much went back or out, how, and the reference to ask their bank with."""
    amount = money(event.amount, event.currency)
    if event.kind is MoneyKind.REFUND:
        first = t(N_("💸 We refunded {amount} for your order {id} to your {method}.")).format(
            amount=amount, id=esc(order.display_id), method=payment_name(event.method, t)
        )
    else:
        first = t(N_("💸 We paid you {amount} for your order {id}: {reason}.")).format(
            amount=amount, id=esc(order.display_id), reason=t(REASON_NAMES[event.reason])
        )
    lines = [
        first,
        field(t, N_("Payment reference")) + esc(event.reference),
        t(N_("It can take a few working days to show in your account.")),
    ]
    return fit(lines, t)


def render_finance_notice(
    kind: NoticeKind, event: Event, order: Order, t: Translate, timezone: str
) -> Outgoing | None:
    """Renders finance's card or the customer's paid notice; None when the event does not fit the kind."""
    match kind, event:
        case NoticeKind.OWED_CARD, MoneyOwedRecorded():
            text = owed_card_text(order, event, t, timezone)
            return html_message(text, record_paid_keyboard(event.record_id, t))
        case NoticeKind.OWED_PAID, MoneyOwedPaid():
            return html_message(paid_notice_text(order, event, t))
    return None


def page_line(
    number: int, record: MoneyOwed, order: Order, left: timedelta, t: Translate, timezone: str
) -> str:
    """One open record in /refunds: kind, amount, order, customer, reason, due and how late."""
    return t(N_("{n}. {kind} {amount}, order {id} ({customer}): {reason}; pay by {due}, {left}")).format(
        n=number,
        kind=t(KIND_NAMES[record.kind]),
        amount=money(record.amount, record.currency),
        id=esc(order.display_id),
        customer=esc(one_line(order.customer.name, 60)),
        reason=t(REASON_NAMES[record.reason]),
        due=esc(local_time(record.due_at, timezone)),
        left=esc(time_left(left, t)),
    )


def page_text(lines: list[str], total: int, offset: int, shown: int, t: Translate) -> str:
    """The /refunds message: how many are open, which of them this page shows, and their lines."""
    if total == 0:
        return t(N_("No refund or payout is waiting to be paid."))
    head = t(N_("<b>Open refunds and payouts: {total}</b> (oldest due first; {first}–{last} shown)")).format(
        total=total, first=offset + 1, last=offset + shown
    )
    return fit([head, "", *lines], t)


def page_keyboard(
    records: list[MoneyOwed], orders: list[Order], total: int, offset: int, page_size: int, t: Translate
) -> InlineKeyboardMarkup | None:
    """A Record as paid button per record, then Previous / Next."""
    rows = [
        [
            InlineKeyboardButton(
                text=t(N_("✅ {id}: {amount}")).format(
                    id=order.display_id, amount=money(record.amount, record.currency)
                ),
                callback_data=OwedAction(act=OwedStep.LIST_PAY, value=record.id or 0).pack(),
            )
        ]
        for record, order in zip(records, orders, strict=True)
    ]
    paging = []
    if offset > 0:
        paging.append(
            InlineKeyboardButton(
                text=t(PREVIOUS),
                callback_data=OwedAction(act=OwedStep.PAGE, value=max(0, offset - page_size)).pack(),
            )
        )
    if offset + page_size < total:
        paging.append(
            InlineKeyboardButton(
                text=t(NEXT), callback_data=OwedAction(act=OwedStep.PAGE, value=offset + page_size).pack()
            )
        )
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def paid_now_keyboard(record_id: int, t: Translate) -> InlineKeyboardMarkup:
    """The time question's button: paid at this moment."""
    button = InlineKeyboardButton(
        text=t(PAID_NOW), callback_data=OwedAction(act=OwedStep.NOW, value=record_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])
