"""A new service for a placed order (issue 13, R-6.2): the other services' quotes, then the agreement.

The Change service button (handlers/changes.py) shows each other service with its new price; a
pick shows what the price means, and Agree changes the service once (a second press changes
nothing; a price that moved in the meantime is quoted again).
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.changes import change_service, quote_service
from application.finance import FinanceUnitOfWork
from application.review import ReviewSetup
from domain.orders.changes import ChangeRefused, NothingChanged, PriceChange, QuoteChanged
from domain.orders.model import Order
from domain.orders.requests import OrderRequestKind
from domain.orders.status import Role, Service
from handlers.change_access import change_actor, consent_note, order_for_change
from presentation import change_texts as texts
from presentation.change_texts import ServicePick

router = Router(name="service_changes")


async def show_services(
    message: Message, uow: FinanceUnitOfWork, order: Order, user_id: int, roles: frozenset[Role]
) -> None:
    """The other services with their new prices."""
    quotes: dict[Service, PriceChange] = {}
    for service in Service:
        if service is order.service:
            continue
        try:
            quotes[service] = await quote_service(uow, order.id, service, actor=change_actor(user_id, roles))
        except ChangeRefused as refused:
            await message.answer(texts.refusal_text(order, OrderRequestKind.SERVICE, refused.reason, _))
            return
    text, markup = texts.service_choices(order, quotes, _)
    await message.answer(text, reply_markup=markup)


@router.callback_query(ServicePick.filter())
async def on_service(
    query: CallbackQuery,
    callback_data: ServicePick,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """A new service: first its price and what it means; on Agree, the change (one effect)."""
    message = query.message
    service = texts.SERVICE_BY_CODE.get(callback_data.service)
    order = await order_for_change(uow, callback_data.order_id, query.from_user.id, roles)
    if order is None or service is None or not isinstance(message, Message):
        await query.answer(_(texts.STALE), show_alert=True)
        return
    actor = change_actor(query.from_user.id, roles)
    kind = OrderRequestKind.SERVICE
    try:
        if not callback_data.cents:
            price = await quote_service(uow, order.id, service, actor=actor)
            await query.answer()
            text, markup = texts.service_confirm(order, service, price, _)
            await message.answer(text, reply_markup=markup)
            return
        await change_service(
            uow,
            order.id,
            service,
            actor=actor,
            setup=review_setup,
            expected_amount=Decimal(callback_data.cents) / 100,
            consent_note=consent_note(query.from_user, roles),
        )
    except QuoteChanged:
        price = await quote_service(uow, order.id, service, actor=actor)
        await query.answer(_(texts.QUOTE_CHANGED), show_alert=True)
        text, markup = texts.service_confirm(order, service, price, _)
        await message.answer(text, reply_markup=markup)
        return
    except ChangeRefused as refused:
        await query.answer()
        since = texts.since_text(refused.since, {}, review_setup.timezone, _)
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(texts.refusal_text(refused.order, kind, refused.reason, _, since))
        return
    except NothingChanged:
        # A second press of Agree: the service is the new one already (one effect).
        await query.answer(_(texts.SAME_AS_NOW), show_alert=True)
        return
    await query.answer()
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(_(texts.SERVICE_CHANGED).format(service=_(texts.SERVICE_NAMES[service])))
