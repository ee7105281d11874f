"""`/start <token>` and the consent buttons through the production dispatcher on SQLite (issue 12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.binding import binding_token
from bot.app import bindings_of, build_workflow
from bot.config import load_settings
from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n, create_i18n
from domain.clock import FixedClock
from handlers.binding import LaterOrders
from storage.uow import SqlUnitOfWork
from tests import telegram
from tests.mocked_bot import MockedBot
from tests.storage.conftest import migrated_sqlite
from tests.storage.factories import T0, make_order

CUSTOMER = 424_242
STRANGER = 515_151


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database."""
    async with migrated_sqlite(tmp_path / "bot.sqlite3") as sessions:
        yield sessions


@pytest.fixture
def dispatcher(sessions: async_sessionmaker[AsyncSession]) -> Dispatcher:
    """The production dispatcher with the handler data bot/app.py gives it."""
    i18n: PoI18n = create_i18n("en")
    dispatcher = build_dispatcher(uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n, admin_ids=[])
    settings = load_settings(env_file=None)
    for key, value in build_workflow(settings, FixedClock(T0), i18n).handler_data().items():
        dispatcher[key] = value
    return dispatcher


def private(update_id: int, user_id: int, **event: Any) -> Update:
    """A message or a press in the user's private chat."""
    user, chat = telegram.user(user_id, "Li"), telegram.chat(user_id, "Li")
    message = {"message_id": update_id, "date": int(T0.timestamp()), "chat": chat, "from": user}
    if "text" in event:
        return Update.model_validate({"update_id": update_id, "message": {**message, "text": event["text"]}})
    press = telegram.callback_query(
        f"cb{update_id}", event["data"], sender=user, message=message, chat_instance="x"
    )
    return Update.model_validate({"update_id": update_id, "callback_query": press})


async def unbound_order(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    """Stores an order without a chat and issues its token; returns both."""
    order = make_order()
    order.customer = replace(order.customer, telegram_user_id=None)
    async with SqlUnitOfWork(sessions) as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order.id, await binding_token(SqlUnitOfWork(sessions), bindings_of, order.id, T0)


async def test_the_link_binds_the_chat_and_only_that_chat_may_agree_for_later_orders(
    dispatcher: Dispatcher, sessions: async_sessionmaker[AsyncSession], bot: MockedBot
) -> None:
    order_id, token = await unbound_order(sessions)
    yes = LaterOrders(order_id=order_id, agree=True).pack()

    await dispatcher.feed_update(bot, private(1, CUSTOMER, text=f"/start {token}"))
    await dispatcher.feed_update(bot, private(2, STRANGER, text=f"/start {token}"))
    await dispatcher.feed_update(bot, private(3, STRANGER, data=yes))
    await dispatcher.feed_update(bot, private(4, CUSTOMER, data=yes))

    first, second = (request.params for request in bot.requests_for("sendMessage"))
    assert first["chat_id"] == str(CUSTOMER) and "come to this chat from now on" in first["text"]
    assert "inline_keyboard" in str(first["reply_markup"])
    assert second["chat_id"] == str(STRANGER) and "used already or is not valid" in second["text"]
    refused, agreed = (request.params for request in bot.requests_for("answerCallbackQuery"))
    assert refused["text"] == "This button is not for this chat." and refused["show_alert"] == "true"
    assert agreed["text"] == "Your later orders will come to this chat too."
    async with SqlUnitOfWork(sessions) as uow:
        assert (await uow.orders.get(order_id)).customer.telegram_user_id == CUSTOMER
        assert await bindings_of(uow).chat_for("+8613800138000", None) == CUSTOMER


async def test_a_malformed_link_gets_a_specific_reply(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, private(1, CUSTOMER, text="/start not*a*token"))

    [reply] = bot.requests_for("sendMessage")
    assert "This link is not valid" in reply.params["text"]
