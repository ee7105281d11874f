"""Binding a Telegram chat by a one-time link (issue 12): used once, by its order; consent for later ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from application.binding import (
    BindingRepository,
    agree_to_later_orders,
    bind_chat,
    binding_token,
    telegram_link,
)
from application.ports import UnitOfWork
from storage.binding_repository import SqlBindingRepository
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory
from tests.storage.factories import T0, make_order

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

CHAT = 424_242
OTHER_CHAT = 515_151
Uows = Callable[[], SqlUnitOfWork]


def bindings_of(uow: UnitOfWork) -> BindingRepository:
    """The SQL bindings of the unit of work."""
    assert isinstance(uow, SqlUnitOfWork)
    return SqlBindingRepository(uow.session)


async def platform_order(new_uow: Uows) -> str:
    """Stores an order nobody's chat is bound to; returns its id."""
    order = make_order()
    order.customer = replace(order.customer, telegram_user_id=None)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order.id


async def test_the_link_binds_the_first_chat_that_opens_it_and_only_once(new_uow: Uows) -> None:
    order_id = await platform_order(new_uow)
    token = await binding_token(new_uow(), bindings_of, order_id, T0)
    assert await binding_token(new_uow(), bindings_of, order_id, T0) == token
    assert telegram_link("orderdesk_bot", token) == f"https://t.me/orderdesk_bot?start={token}"
    assert len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()

    bound = await bind_chat(new_uow(), bindings_of, token, CHAT, T0 + timedelta(minutes=1))
    again = await bind_chat(new_uow(), bindings_of, token, OTHER_CHAT, T0 + timedelta(minutes=2))

    assert bound is not None and bound.order.id == order_id and bound.may_ask_consent
    assert again is None
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
    assert order.customer.telegram_user_id == CHAT
    assert order.audit[-1].action == "chat_bound"
    # A used token is not handed out again: the next link is a new one.
    assert await binding_token(new_uow(), bindings_of, order_id, T0) != token


async def test_an_unknown_token_binds_nothing(new_uow: Uows) -> None:
    await platform_order(new_uow)

    assert await bind_chat(new_uow(), bindings_of, "not-a-token", CHAT, T0) is None


async def test_only_the_bound_chat_may_agree_and_then_later_orders_with_the_phone_find_it(
    new_uow: Uows,
) -> None:
    order_id = await platform_order(new_uow)
    token = await binding_token(new_uow(), bindings_of, order_id, T0)
    await bind_chat(new_uow(), bindings_of, token, CHAT, T0)

    refused = await agree_to_later_orders(new_uow(), bindings_of, order_id, OTHER_CHAT, T0)
    agreed = await agree_to_later_orders(new_uow(), bindings_of, order_id, CHAT, T0)

    assert refused is None and agreed is not None
    async with new_uow() as uow:
        bindings = bindings_of(uow)
        assert await bindings.chat_for("+8613800138000", None) == CHAT
        assert await bindings.chat_for(None, "LI.WEI@example.com") == CHAT
        assert await bindings.chat_for("+4930000000", "someone@example.com") is None
