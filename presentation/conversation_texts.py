"""The words and buttons of the customer-service conversation (issue 18, R-5.2, R-X.3).

The card customer service answers by replying to, the answer as the customer reads it, and the
replies to a customer's free text: recognised intents with their buttons, the hand-over to a person.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.conversation import Conversation, ConversationMessage, Intent
from domain.orders.model import Order
from presentation.labels import N_, format_span
from presentation.render import CARD_LIMIT, Translate, esc, fit, local_time, one_line, translator_or_default

# How long a customer's message may be shown on the card (the whole text is kept in the database).
CARD_TEXT_SHOWN = 3000


class AskPerson(CallbackData, prefix="cs"):
    """A customer's button: hand the intent (about an order, if any) to customer service."""

    intent: str
    order_id: str = ""


class TrackOrder(CallbackData, prefix="tr"):
    """A customer's order button after "where is my order": show its timeline."""

    order_id: str


INTENT_LABELS: Mapping[Intent, str] = {
    Intent.CANCEL: N_("cancel an order"),
    Intent.CHANGE: N_("change an order"),
    Intent.PROBLEM: N_("a problem with an order"),
    Intent.WHERE: N_("where an order is"),
}
# What the bot says to a recognised intent before the buttons.
INTENT_REPLIES: Mapping[Intent, str] = {
    Intent.CANCEL: N_("You want to cancel an order. Which one?"),
    Intent.CHANGE: N_("You want to change an order. Which one? Customer service takes it from here."),
    Intent.PROBLEM: N_(
        "Sorry to hear that. Which order has the problem? Customer service takes it from here."
    ),
    Intent.WHERE: N_("Here is where your orders are. Press one for its timeline, or write to a person."),
}
# A free-text question someone else asked for, card line.
OTHER = "other"
WRITE_TO_PERSON = N_("💬 Write to customer service")
ORDER_BUTTON = N_("Order {id}")
NO_OPEN_ORDERS = N_("You have no orders under way. Place one with /neworder, or write to customer service.")
HANDED_OVER = N_(
    "Thank you, I passed your message to customer service; a person answers you here within minutes."
)
HANDED_OVER_INTENT = N_(
    "Thank you, customer service has your request ({intent}{about}); "
    "a person answers you here within minutes."
)
ABOUT_ORDER = N_(" about order {id}")
WRITE_NOW = N_("Write your message to customer service now; a person reads it and answers you here.")
NO_SERVICE_CHAT = N_(
    "Customer service cannot be reached here yet; please try again later or contact us by email."
)
CARD_TITLE = N_("💬 <b>{customer}</b> writes:")
CARD_INTENT = N_("Asks: {intent}{about}")
CARD_ORDERS = N_("Open orders: {orders}")
CARD_NO_ORDERS = N_("No open orders.")
CARD_HINT = N_("Reply to this message to answer {customer}; the answer is due by {due}.")
ANSWER = N_("💬 <b>Customer service ({name})</b>:\n{text}")
SENT = N_("✅ Sent to {customer}.")
SENT_LATE = N_("✅ Sent to {customer} (after the 3-minute answer time).")
OVERDUE = N_(
    "⏰ <b>{customer}</b> has waited {late} past the answer time ({due}): “{text}”. "
    "Reply to their card to answer."
)
NOT_ALLOWED = N_("Only customer service answers customers; your reply was not sent to {customer}.")


def order_id_shown(order: Order) -> str:
    """The id a customer and staff know an order by: its number once it has one, else the reference."""
    return order.number or order.reference


def _order_keyboard(
    orders: Sequence[Order], data_of: Callable[[Order], CallbackData], t: Translate
) -> InlineKeyboardMarkup:
    """One button per open order, then "write to customer service"."""
    rows = [
        [
            InlineKeyboardButton(
                text=t(ORDER_BUTTON).format(id=order_id_shown(order)), callback_data=data_of(order).pack()
            )
        ]
        for order in orders
    ]
    rows.append([InlineKeyboardButton(text=t(WRITE_TO_PERSON), callback_data=AskPerson(intent=OTHER).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def intent_keyboard(intent: Intent, orders: Sequence[Order], t: Translate) -> InlineKeyboardMarkup:
    """The intent about each open order, or a person."""
    return _order_keyboard(orders, lambda order: AskPerson(intent=intent.value, order_id=order.id), t)


def where_keyboard(orders: Sequence[Order], t: Translate) -> InlineKeyboardMarkup:
    """Each open order's timeline, or a person."""
    return _order_keyboard(orders, lambda order: TrackOrder(order_id=order.id), t)


def handed_over(intent: Intent | None, order: Order | None, t: Translate) -> str:
    """What the customer is told once their request is with customer service."""
    if intent is None:
        return t(HANDED_OVER)
    about = t(ABOUT_ORDER).format(id=order_id_shown(order)) if order is not None else ""
    return t(HANDED_OVER_INTENT).format(intent=t(INTENT_LABELS[intent]), about=about)


class TelegramConversationTexts:
    """Renders the conversation's card and answers (the ConversationTexts port)."""

    def __init__(self, i18n: I18n, timezone: str) -> None:
        self.i18n = i18n
        self.timezone = timezone

    def card(
        self,
        conversation: Conversation,
        message: ConversationMessage,
        orders: Sequence[Order],
        language: str,
    ) -> dict[str, Any]:
        """The conversation card: who writes, what, their open orders, how to answer and by when."""
        t = translator_or_default(self.i18n, language)
        customer = conversation.customer_name
        lines = [t(CARD_TITLE).format(customer=customer), esc(message.text[:CARD_TEXT_SHOWN]), ""]
        if message.intent is not None and message.intent in Intent.__members__.values():
            about_order = next((order for order in orders if order.id == message.order_id), None)
            about = t(ABOUT_ORDER).format(id=order_id_shown(about_order)) if about_order else ""
            lines.append(t(CARD_INTENT).format(intent=t(INTENT_LABELS[Intent(message.intent)]), about=about))
        if orders:
            shown = ", ".join(order_id_shown(order) for order in orders)
            lines.append(t(CARD_ORDERS).format(orders=shown))
        else:
            lines.append(t(CARD_NO_ORDERS))
        due = local_time(message.due_at, self.timezone) if message.due_at is not None else ""
        lines.append(t(CARD_HINT).format(customer=customer, due=due))
        return {"text": fit(lines, t, limit=CARD_LIMIT), "parse_mode": "HTML"}

    def overdue(self, message: ConversationMessage, now: datetime, language: str) -> dict[str, Any]:
        """The reminder that a customer waits past the answer time."""
        t = translator_or_default(self.i18n, language)
        due = message.due_at or message.at
        text = t(OVERDUE).format(
            customer=message.author_name,
            late=format_span(now - due),
            due=local_time(due, self.timezone),
            text=one_line(message.text, 200),
        )
        return {"text": text, "parse_mode": "HTML"}

    def answer(self, staff_name: str, text: str, language: str) -> dict[str, Any]:
        """The answer as the customer reads it."""
        t = translator_or_default(self.i18n, language)
        return {"text": fit([t(ANSWER).format(name=staff_name, text=text)], t), "parse_mode": "HTML"}
