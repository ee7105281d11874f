"""Nobody is left without an answer: free text, unknown commands, the customer-service thread (R-X.3, R-5.2).

The card replies and buttons are a router after every feature router (and the common commands),
before the stale-button fallback; free text and unknown commands are `leftovers`, which the
innermost update middleware (LeftoverMessages, bot/dispatcher.py) runs only when no handler of
any router took the message. A customer's free text that names a recognised intent (cancel,
change, a problem, where is my order) gets buttons for their open orders; any other text goes to
customer service as a conversation card (application/conversation.py). Customer service answers by
replying to the card in its chat; the answer reaches the customer. Unknown commands get the list of
the user's commands, /cancel outside the wizard says there is nothing being entered.

Handler data: `conversation_setup` (application.conversation.ConversationSetup); without it the
customer is told customer service cannot be reached here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import gettext as _

from application.conversation import (
    AnswerOutcome,
    ConversationSetup,
    Intent,
    Person,
    customer_writes,
    open_orders,
    recognise,
    staff_answers,
)
from application.ports import UnitOfWork
from domain.orders.model import Order
from domain.orders.status import Role
from handlers.common import CommandSpec, show_help, staff_roles
from handlers.intake import DEFAULT_TIMEZONE
from handlers.my_orders import tracking_text
from presentation.cancellation_texts import cancel_keyboard
from presentation.conversation_texts import (
    INTENT_LABELS,
    INTENT_REPLIES,
    NO_OPEN_ORDERS,
    NO_SERVICE_CHAT,
    NOT_ALLOWED,
    OTHER,
    SENT,
    SENT_LATE,
    WRITE_NOW,
    AskPerson,
    TrackOrder,
    handed_over,
    intent_keyboard,
    where_keyboard,
)
from presentation.keyboards import N_
from presentation.render import esc, one_line

router = Router(name="conversation")
# Messages no router took, whatever routers come after the root one (LeftoverMessages runs them).
leftovers = Router(name="leftovers")


class LeftoverMessages(BaseMiddleware):
    """Gives a message that no handler took to the leftovers router (innermost update middleware)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Runs the update; if nothing handled its message, the leftovers router answers it."""
        result = await handler(event, data)
        if result is UNHANDLED and isinstance(event, Update) and event.message is not None:
            return await leftovers.propagate_event("message", event.message, **data)
        return result


UNKNOWN_COMMAND = N_("I do not know the command {command}.")
NOTHING_TO_CANCEL = N_(
    "You are not entering an order, so there is nothing to cancel here. To cancel a placed order, "
    "tell me which one:"
)
STAFF_FREE_TEXT = N_("I did not understand that. Send /help for the commands you can use.")
# Longest command echoed back in "I do not know the command".
COMMAND_SHOWN = 40
# FSM data key of the customer's words while they pick the order their request is about.
WORDS_KEY = "conversation_words"
NO_TEXT = N_("(a photo or a file without text; ask the customer to describe it)")


def _person(message: Message, locale: str) -> Person | None:
    """The customer writing, or None for a message without a sender."""
    user = message.from_user
    if user is None:
        return None
    return Person(user.id, user.full_name, locale)


@router.message(F.reply_to_message, F.chat.type != ChatType.PRIVATE, F.text, ~F.text.startswith("/"))
async def answer_card(
    message: Message,
    bot: Bot,
    uow: UnitOfWork,
    roles: frozenset[Role],
    conversation_setup: ConversationSetup | None = None,
) -> None:
    """A reply in a team chat to a conversation card: the answer goes to the customer."""
    replied = message.reply_to_message
    if (
        conversation_setup is None
        or replied is None
        or replied.from_user is None
        or replied.from_user.id != bot.id
        or message.from_user is None
        or message.text is None
    ):
        return
    staff = Person(message.from_user.id, message.from_user.full_name)
    await uow.reviews.remember_name(staff.user_id, staff.name, conversation_setup.clock.now())
    answered = await staff_answers(
        uow, conversation_setup, staff, roles, message.chat.id, replied.message_id, message.text
    )
    if answered.outcome is AnswerOutcome.NOT_A_CARD:
        return
    customer = esc(answered.customer_name)
    if answered.outcome is AnswerOutcome.NOT_ALLOWED:
        await message.reply(_(NOT_ALLOWED).format(customer=customer))
        return
    await message.reply(_(SENT_LATE if answered.late else SENT).format(customer=customer))


@leftovers.message(F.text.startswith("/"))
async def unknown_command(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    command_specs: Sequence[CommandSpec],
    locale: str,
) -> None:
    """A command no router took: /cancel outside the wizard, or one the bot does not know."""
    word = (message.text or "").split(maxsplit=1)[0]
    name, _at, mentioned = word[1:].partition("@")
    private = message.chat.type == ChatType.PRIVATE
    if mentioned and not private:
        # Addressed to another bot of the group: not ours to answer.
        bot_user = await message.bot.me() if message.bot is not None else None
        if bot_user is None or mentioned.casefold() != (bot_user.username or "").casefold():
            return
    if name.casefold() == "cancel" and private and not staff_roles(roles) and message.from_user is not None:
        orders = open_orders(await uow.orders.list_for_customer(message.from_user.id))
        await message.answer(_(NOTHING_TO_CANCEL), reply_markup=cancel_keyboard(orders, _))
        return
    await message.answer(_(UNKNOWN_COMMAND).format(command=esc(one_line(word, COMMAND_SHOWN))))
    await show_help(message, roles, command_specs)


@leftovers.message(F.chat.type == ChatType.PRIVATE)
async def free_text(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    locale: str,
    timezone: str = DEFAULT_TIMEZONE,
    conversation_setup: ConversationSetup | None = None,
) -> None:
    """A customer's free text: a recognised intent's buttons, else a card for customer service."""
    if staff_roles(roles):
        await message.answer(_(STAFF_FREE_TEXT))
        return
    customer = _person(message, locale)
    if customer is None:
        return
    text = message.text or message.caption or ""
    intent = recognise(text) if text else None
    orders = open_orders(await uow.orders.list_for_customer(customer.user_id))
    if intent is Intent.WHERE and orders:
        await message.reply(_(INTENT_REPLIES[intent]), reply_markup=where_keyboard(orders, _))
        return
    if intent is Intent.CANCEL and orders:
        # The cancellation flow itself (issue 13, R-6.1): the order's Cancel button, not a card.
        await message.reply(_(INTENT_REPLIES[intent]), reply_markup=cancel_keyboard(orders, _))
        return
    if intent is not None and intent is not Intent.WHERE and orders:
        # The customer's own words go to customer service with the order they pick next.
        await state.update_data({WORDS_KEY: text})
        await message.reply(_(INTENT_REPLIES[intent]), reply_markup=intent_keyboard(intent, orders, _))
        return
    if intent is Intent.WHERE:
        await message.reply(_(NO_OPEN_ORDERS), reply_markup=intent_keyboard(Intent.WHERE, [], _))
        return
    await _hand_over(message, uow, customer, text or _(NO_TEXT), None, None, conversation_setup)


async def _hand_over(
    message: Message,
    uow: UnitOfWork,
    customer: Person,
    text: str,
    intent: Intent | None,
    order_id: str | None,
    setup: ConversationSetup | None,
) -> None:
    """Queues the customer's message for customer service and tells them a person answers."""
    if setup is None or not await customer_writes(
        uow, setup, customer, text, intent=intent, order_id=order_id
    ):
        await message.answer(_(NO_SERVICE_CHAT))
        return
    order = await _own_order(uow, customer.user_id, order_id)
    await message.answer(handed_over(intent, order, _))


async def _own_order(uow: UnitOfWork, customer_id: int, order_id: str | None) -> Order | None:
    """One of the customer's own recent orders by id; someone else's is not found."""
    if not order_id:
        return None
    orders = await uow.orders.list_for_customer(customer_id)
    return next((order for order in orders if order.id == order_id), None)


@router.callback_query(AskPerson.filter())
async def ask_person(
    query: CallbackQuery,
    callback_data: AskPerson,
    uow: UnitOfWork,
    state: FSMContext,
    locale: str,
    conversation_setup: ConversationSetup | None = None,
) -> None:
    """A customer's intent button: the request (about their order) goes to customer service."""
    message = query.message
    await query.answer()
    if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
        return
    if callback_data.intent == OTHER or callback_data.intent not in Intent.__members__.values():
        await message.answer(_(WRITE_NOW))
        return
    intent = Intent(callback_data.intent)
    order = await _own_order(uow, query.from_user.id, callback_data.order_id)
    order_id = order.id if order is not None else None
    customer = Person(query.from_user.id, query.from_user.full_name, locale)
    data = await state.get_data()
    original = data.get(WORDS_KEY)
    await state.update_data({WORDS_KEY: None})
    await message.edit_reply_markup(reply_markup=None)
    await _hand_over(
        message,
        uow,
        customer,
        str(original or _(INTENT_LABELS[intent])),
        intent,
        order_id,
        conversation_setup,
    )


@router.callback_query(TrackOrder.filter())
async def track_order(
    query: CallbackQuery, callback_data: TrackOrder, uow: UnitOfWork, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """A customer's order button after "where is my order": its timeline, if it is theirs."""
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    order = await _own_order(uow, query.from_user.id, callback_data.order_id)
    if order is None:
        await message.answer(_("This button is no longer valid."))
        return
    await message.answer(tracking_text(order, timezone))
