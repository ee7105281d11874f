"""Payment texts and buttons (R-3.1): how to pay, the invoice, receipts for the desk, reminders.

Everything a customer reads about paying says exactly how: the bank card is paid with the Pay
button of Telegram's invoice; the other methods by the transfer in the instructions file
(domain/data/payment_instructions.toml) and then a photo or file of the receipt in the chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

from domain.orders.model import Order
from domain.orders.status import Channel
from domain.payment import (
    PaymentState,
    PayRefusal,
    ReceiptRefusal,
    amount_due,
    invoice_payload,
    is_online,
    minor_units,
    needs_receipt,
    payment_instructions,
)
from domain.review import RejectReason
from presentation.callbacks import CustomerAction, CustomerStep, OrderFix
from presentation.keyboards import N_
from presentation.render import CAPTION_LIMIT, REASON_NAMES, Html, Translate, esc, fit, money

# Telegram's limits of an invoice's title, description and price label.
TITLE_MAX = 32
DESCRIPTION_MAX = 255


class PayStep(StrEnum):
    """What a payment button does."""

    INVOICE = "inv"
    RECEIPT = "rcpt"
    REMIND = "rem"


class PaymentAction(CallbackData, prefix="pay"):
    """A payment button about an order: Pay now, Send receipt (customer), Remind the customer (desk)."""

    order_id: str
    act: PayStep


class ReceiptStep(StrEnum):
    """What a button under a transfer receipt does (the desk's decision)."""

    ACCEPT = "ok"
    REFUSE = "no"
    BACK = "bk"
    UNREADABLE = ReceiptRefusal.UNREADABLE.value
    WRONG_AMOUNT = ReceiptRefusal.WRONG_AMOUNT.value
    NOT_RECEIVED = ReceiptRefusal.NOT_RECEIVED.value


class ReceiptAction(CallbackData, prefix="rcp"):
    """A button under a transfer receipt in the order-desk chat."""

    payment_id: int
    act: ReceiptStep


REFUSAL_NAMES: Mapping[ReceiptRefusal, str] = {
    ReceiptRefusal.UNREADABLE: N_("the receipt cannot be read; please send a clear photo or the PDF"),
    ReceiptRefusal.WRONG_AMOUNT: N_("the amount on the receipt is not the amount due"),
    ReceiptRefusal.NOT_RECEIVED: N_("the money has not arrived on our account yet"),
}
REFUSAL_BUTTONS: Mapping[ReceiptRefusal, str] = {
    ReceiptRefusal.UNREADABLE: N_("Unreadable"),
    ReceiptRefusal.WRONG_AMOUNT: N_("Wrong amount"),
    ReceiptRefusal.NOT_RECEIVED: N_("Not on our account"),
}
PRE_CHECKOUT_ERRORS: Mapping[PayRefusal, str] = {
    PayRefusal.NOT_YOURS: N_("This invoice is not for you."),
    PayRefusal.NOT_PAYABLE: N_("This order can no longer be paid (it was cancelled or has moved on)."),
    PayRefusal.ALREADY_PAID: N_("This order is paid already; nothing more is charged."),
    PayRefusal.AMOUNT_CHANGED: N_("The amount of this order has changed; please pay the new invoice."),
    PayRefusal.CURRENCY_CHANGED: N_("The currency of this order has changed; please pay the new invoice."),
}
STATE_NAMES: Mapping[PaymentState, str] = {
    PaymentState.PAID: N_("paid"),
    PaymentState.RECEIPT_WAITING: N_("a transfer receipt waits for your check (under the card)"),
    PaymentState.RECEIPT_REFUSED: N_("the customer’s receipt was refused; a new one is awaited"),
    PaymentState.NOT_PAID: N_("no payment yet"),
}


def _amount(order: Order) -> Html:
    """The amount due."""
    return money(amount_due(order), order.currency)


def how_to_pay_lines(order: Order, t: Translate, language: str) -> list[str]:
    """Exactly how the customer pays this order."""
    if is_online(order.payment_method):
        return [
            t(N_("Pay {amount} by bank card: press Pay now and then Pay on the invoice.")).format(
                amount=_amount(order)
            )
        ]
    instructions = payment_instructions().get(order.payment_method)
    if instructions is None:
        return [t(N_("Pay {amount}; our order desk will tell you how.")).format(amount=_amount(order))]
    due = f"{amount_due(order)} {order.currency}"
    text = instructions.text(language, amount=due, reference=order.reference)
    return [
        esc(text),
        "",
        t(N_("Once paid, send a photo or PDF of the transfer receipt here in this chat.")),
    ]


def pay_button(order: Order, t: Translate) -> InlineKeyboardButton | None:
    """Pay now (bank card) or Send receipt (transfers), for the customer."""
    if is_online(order.payment_method):
        return InlineKeyboardButton(
            text=t(N_("💳 Pay now")),
            callback_data=PaymentAction(order_id=order.id, act=PayStep.INVOICE).pack(),
        )
    if needs_receipt(order.payment_method):
        return InlineKeyboardButton(
            text=t(N_("🧾 Send receipt")),
            callback_data=PaymentAction(order_id=order.id, act=PayStep.RECEIPT).pack(),
        )
    return None


def pay_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup | None:
    """The customer's payment button (none for a method we do not know)."""
    button = pay_button(order, t)
    return InlineKeyboardMarkup(inline_keyboard=[[button]]) if button is not None else None


def not_paid_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup:
    """Under a "not paid" rejection: pay (the way chosen), change the way of paying, or cancel."""
    pay = pay_button(order, t)
    change = InlineKeyboardButton(
        text=t(N_("Change the payment method")),
        callback_data=OrderFix(order_id=order.id, field=RejectReason.NOT_PAID.fix_field).pack(),
    )
    cancel = InlineKeyboardButton(
        text=t(N_("Cancel the order")),
        callback_data=CustomerAction(order_id=order.id, action=CustomerStep.CANCEL).pack(),
    )
    rows = [[pay]] if pay is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [change, cancel]])


def after_placing_text(order: Order, t: Translate, language: str) -> str:
    """What the customer reads right after Confirm order: how to pay now."""
    lines = [f"<b>{t(N_('How to pay'))}</b>", *how_to_pay_lines(order, t, language)]
    return fit(lines, t)


def reminder_text(order: Order, t: Translate, language: str) -> str:
    """The order desk's reminder to pay (Remind the customer)."""
    title = t(N_("Your order {reference} is not paid yet")).format(reference=esc(order.reference))
    lines = [
        f"<b>{title}</b>",
        t(N_("Our order desk checks it as soon as the payment arrives.")),
        "",
        *how_to_pay_lines(order, t, language),
    ]
    return fit(lines, t)


def not_paid_rejection_text(order: Order, note: str, t: Translate, language: str) -> str:
    """A "not paid" rejection: why, exactly how to pay, and that nothing has to be sent again."""
    title = t(N_("Your order {reference} was not accepted")).format(reference=esc(order.reference))
    lines = [
        f"<b>{title}</b>",
        f"{t(N_('Reason'))}: {t(REASON_NAMES[RejectReason.NOT_PAID])} — "
        + t(N_("We have not received your payment yet.")),
    ]
    if note:
        lines.append(f"{t(N_('Note from the order desk'))}: {esc(note[:1000])}")
    lines += [
        "",
        *how_to_pay_lines(order, t, language),
        "",
        t(
            N_(
                "Once it is paid, the order goes back to our order desk by itself; "
                "you need not send it again."
            )
        ),
    ]
    return fit(lines, t)


def receipt_refused_text(order: Order, reason: ReceiptRefusal, t: Translate, language: str) -> str:
    """Why the receipt was refused, and how to pay."""
    title = t(N_("Your payment receipt for {reference} was not accepted")).format(
        reference=esc(order.reference)
    )
    lines = [
        f"<b>{title}</b>",
        f"{t(N_('Reason'))}: {t(REFUSAL_NAMES[reason])}",
        "",
        *how_to_pay_lines(order, t, language),
    ]
    return fit(lines, t)


def payment_received_text(order: Order, t: Translate) -> str:
    """Tells the customer the payment arrived."""
    return t(
        N_("✅ Payment of {amount} received for your order {reference}. Our order desk checks it now.")
    ).format(amount=_amount(order), reference=esc(order.reference))


def receipt_caption(order: Order, t: Translate) -> str:
    """The caption of a receipt sent to the order desk: which order, how much, and what to do."""
    lines = [
        f"<b>{t(N_('🧾 Payment receipt for {reference}')).format(reference=esc(order.reference))}</b>",
        f"{t(N_('Customer'))}: {esc(order.customer.name[:100])}",
        f"{t(N_('Amount'))}: {_amount(order)} · {esc(order.payment_method)}",
        t(N_("Check it against our account, then accept or refuse it.")),
    ]
    # Room for the decision line the desk's Accept or Refuse adds to the caption.
    return fit(lines, t, limit=CAPTION_LIMIT - 200)


def receipt_keyboard(payment_id: int, t: Translate) -> InlineKeyboardMarkup:
    """Accept / Refuse under a receipt."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(N_("✅ Accept payment")),
                    callback_data=ReceiptAction(payment_id=payment_id, act=ReceiptStep.ACCEPT).pack(),
                ),
                InlineKeyboardButton(
                    text=t(N_("❌ Refuse")),
                    callback_data=ReceiptAction(payment_id=payment_id, act=ReceiptStep.REFUSE).pack(),
                ),
            ]
        ]
    )


def refusal_keyboard(payment_id: int, t: Translate) -> InlineKeyboardMarkup:
    """The refusal reasons of a receipt, with Back."""
    rows = [
        [
            InlineKeyboardButton(
                text=t(REFUSAL_BUTTONS[reason]),
                callback_data=ReceiptAction(payment_id=payment_id, act=ReceiptStep(reason.value)).pack(),
            )
        ]
        for reason in ReceiptRefusal
    ]
    back = ReceiptAction(payment_id=payment_id, act=ReceiptStep.BACK).pack()
    rows.append([InlineKeyboardButton(text=t(N_("Back")), callback_data=back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def not_paid_answer(order: Order, state: PaymentState, t: Translate) -> str:
    """Why Approve is refused, as a toast (at most 200 characters)."""
    if order.channel.offline:
        hint = t(N_("Record the payment with /receipt first."))
    elif order.channel is Channel.PLATFORM_API:
        hint = t(N_("The platform has not reported the payment yet."))
    else:
        hint = t(N_("Press Remind the customer to ask them to pay."))
    reason = t(N_("Not paid yet: {state}.")).format(state=t(STATE_NAMES[state]))
    return f"{reason} {hint}"[:200]


def remind_button(order: Order, t: Translate) -> InlineKeyboardButton | None:
    """Remind the customer, for an unpaid order of a customer the bot can reach."""
    if order.customer.telegram_user_id is None:
        return None
    return InlineKeyboardButton(
        text=t(N_("🔔 Remind the customer")),
        callback_data=PaymentAction(order_id=order.id, act=PayStep.REMIND).pack(),
    )


def paid_headline(order: Order, t: Translate) -> str:
    """The first line of the refreshed review card once the payment lands."""
    headline = t(N_("💰 Payment received for {reference}: it can be approved now."))
    return f"<b>{headline.format(reference=esc(order.reference))}</b>"


def invoice_params(order: Order, t: Translate, provider_token: str) -> dict[str, Any]:
    """The sendInvoice parameters of an order's quote (amounts in the currency's smallest unit)."""
    title = t(N_("Order {reference}")).format(reference=order.reference)[:TITLE_MAX]
    lines = len(order.items)
    description = t(N_("Shipping and handling of {lines} goods line(s) to {country}, as quoted.")).format(
        lines=lines, country=order.address.country
    )[:DESCRIPTION_MAX]
    price = LabeledPrice(
        label=t(N_("Shipping fee"))[:TITLE_MAX], amount=minor_units(amount_due(order), order.currency)
    )
    return {
        "title": title,
        "description": description,
        "payload": invoice_payload(order),
        "provider_token": provider_token,
        "currency": order.currency.upper(),
        "prices": [price],
    }
