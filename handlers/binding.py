"""`/start <token>`: the one-time link that binds a customer's chat to their order (issue 12).

The link comes with a platform order's API answer and with an offline order's confirmation email
and PDF. The chat that opens it first becomes the order's; the customer may then agree that their
later orders with the same phone or email come to this chat too.
"""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.binding import BindingsOf, agree_to_later_orders, bind_chat
from application.ports import UnitOfWork
from domain.clock import Clock
from presentation.render import esc

router = Router(name="binding")
# Telegram's deep-link parameter alphabet and length.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class LaterOrders(CallbackData, prefix="bind"):
    """The answer to "send my later orders here too?"; the order is reloaded and its chat checked."""

    order_id: str
    agree: bool


def consent_keyboard(order_id: str) -> InlineKeyboardMarkup:
    """Yes / No to binding the customer's later orders to this chat."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, my later orders too"),
                    callback_data=LaterOrders(order_id=order_id, agree=True).pack(),
                ),
                InlineKeyboardButton(
                    text=_("No, only this order"),
                    callback_data=LaterOrders(order_id=order_id, agree=False).pack(),
                ),
            ]
        ]
    )


@router.message(CommandStart(deep_link=True), F.chat.type == ChatType.PRIVATE)
async def start_with_link(
    message: Message, command: CommandObject, uow: UnitOfWork, clock: Clock, bindings_of: BindingsOf
) -> None:
    """Binds the chat to the link's order, once, and asks about the customer's later orders."""
    token = command.args or ""
    if message.from_user is None or not _TOKEN.fullmatch(token):
        await message.answer(_("This link is not valid. Please open the link from your order confirmation."))
        return
    bound = await bind_chat(uow, bindings_of, token, message.from_user.id, clock.now())
    if bound is None:
        await message.answer(
            _(
                "This link was used already or is not valid. If it is your order, send /myorders, "
                "or ask our customer service for a new link."
            )
        )
        return
    order = bound.order
    text = _(
        "Done: updates of your order {id} come to this chat from now on. Send /track {id} any time."
    ).format(id=esc(order.display_id))
    if not bound.may_ask_consent:
        await message.answer(text)
        return
    question = _("Shall your later orders with the same phone number or email come here too?")
    await message.answer(f"{text}\n\n{question}", reply_markup=consent_keyboard(order.id))


@router.callback_query(LaterOrders.filter())
async def answer_later_orders(
    query: CallbackQuery, callback_data: LaterOrders, uow: UnitOfWork, clock: Clock, bindings_of: BindingsOf
) -> None:
    """Records the consent if the pressing chat is the order's own; every press is answered."""
    if not callback_data.agree:
        await query.answer(_("Only this order comes here."))
        await _drop_buttons(query)
        return
    order = await agree_to_later_orders(
        uow, bindings_of, callback_data.order_id, query.from_user.id, clock.now()
    )
    if order is None:
        await query.answer(_("This button is not for this chat."), show_alert=True)
        return
    await query.answer(_("Your later orders will come to this chat too."))
    await _drop_buttons(query)


async def _drop_buttons(query: CallbackQuery) -> None:
    """Removes the Yes / No buttons once answered."""
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
