"""The order a pressed card button is about, checked against the card it was pressed on."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from domain.errors import OrderNotFound
from domain.orders.model import Order


def card_shows(message: Message, order: Order) -> bool:
    """Whether the pressed message is about this order (a forged id on another card is refused)."""
    text = message.text or message.caption or ""
    return order.reference in text or (order.number is not None and order.number in text)


async def order_of_card(
    query: CallbackQuery, message: Message, uow: UnitOfWork, order_id: str
) -> Order | None:
    """Loads the order a card button names; answers the press and returns None if it is not this card's."""
    try:
        order = await uow.orders.get(order_id)
    except OrderNotFound:
        await query.answer(_("This button does not belong to an order."), show_alert=True)
        return None
    if not card_shows(message, order):
        await query.answer(_("This button does not belong to this card."), show_alert=True)
        return None
    return order
