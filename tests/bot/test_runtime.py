"""Command menus, the Bot's API server, admin bootstrap, the webhook secret and the real SQL unit of work."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram import Dispatcher
from aiohttp.test_utils import TestClient, TestServer

from bot.commands import set_commands
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n
from bot.middlewares import bootstrap_admins
from bot.webhook import build_webhook_app
from domain.orders.status import Role
from handlers import all_commands
from storage.database import create_engine, create_session_factory, migrate
from storage.uow import SqlUnitOfWork
from tests.bot.conftest import CUSTOMER_ID, callback_update, message_update
from tests.fakes import FakeDatabase
from tests.mocked_bot import MockedBot

SECRET = "s3cret_-token"
NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


async def test_command_menus_for_customers_and_team_chats(bot: MockedBot, i18n: PoI18n) -> None:
    await set_commands(bot, i18n, all_commands(), {-1001: frozenset({Role.WAREHOUSE})})

    menus = {
        (
            request.decoded("scope")["type"],
            request.decoded("scope").get("chat_id"),
            request.params.get("language_code"),
        ): [(c["command"], c["description"]) for c in request.decoded("commands")]
        for request in bot.requests_for("setMyCommands")
    }
    customer = [name for name, _ in menus[("default", None, "en")]]
    warehouse = [name for name, _ in menus[("chat", -1001, "en")]]
    assert customer[:3] == ["start", "help", "lang"]
    assert {"neworder", "myorders", "track"} <= set(customer)
    assert set(customer).isdisjoint({"staff", "queue", "offline", "todo", "sla"})
    assert {"todo", "sla"} <= set(warehouse)
    assert set(warehouse).isdisjoint({"staff", "queue", "offline"})
    assert menus[("default", None, "zh")][:3] == [
        ("start", "显示主菜单"),
        ("help", "列出您可以使用的命令"),
        ("lang", "选择语言"),
    ]
    assert set(menus) == {
        ("default", None, None),
        ("default", None, "en"),
        ("default", None, "zh"),
        ("chat", -1001, None),
        ("chat", -1001, "en"),
        ("chat", -1001, "zh"),
    }
    assert menus[("default", None, None)] == menus[("default", None, "en")]


async def test_the_bot_talks_to_the_configured_api_server() -> None:
    bot = build_bot("42:TEST", "http://127.0.0.1:8081/")
    try:
        assert bot.session.api.api_url("42:TEST", "getMe") == "http://127.0.0.1:8081/bot42:TEST/getMe"
        assert bot.default.parse_mode == "HTML"
    finally:
        await bot.session.close()


async def test_bootstrap_grants_admin_to_configured_ids_once(database: FakeDatabase) -> None:
    await bootstrap_admins(database.unit_of_work, [7, 8, 7], NOW)
    await bootstrap_admins(database.unit_of_work, [7], NOW)

    assert database.state.roles == {7: {Role.ADMIN}, 8: {Role.ADMIN}}


def update_body(update_id: int) -> str:
    """Serialises a /start update as Telegram posts it."""
    return message_update(update_id, "/start").model_dump_json(exclude_none=True)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": "sëcret"}],
    ids=["missing", "wrong", "non-ascii"],
)
async def test_webhook_refuses_requests_without_the_secret(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, headers: dict[str, str]
) -> None:
    app = build_webhook_app(dispatcher, bot, secret_token=SECRET, path="/telegram/webhook")
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/telegram/webhook", data=update_body(1), headers=headers)

        assert response.status == 401
    assert database.state.processed_updates == set()
    assert bot.requests_for("sendMessage") == []


async def test_webhook_handles_an_update_with_the_secret(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    app = build_webhook_app(dispatcher, bot, secret_token=SECRET, path="/telegram/webhook")
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/telegram/webhook",
            data=update_body(1),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
        )

        assert response.status == 200
        assert json.loads(await response.text()) == {}
    assert database.state.processed_updates == {1}
    assert bot.requests_for("sendMessage")[-1].params["chat_id"] == str(CUSTOMER_ID)


async def test_the_sql_unit_of_work_drops_duplicates_and_keeps_the_language(
    tmp_path: Path, bot: MockedBot, i18n: PoI18n
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        session_factory = create_session_factory(engine)
        dispatcher = build_dispatcher(uow_factory=lambda: SqlUnitOfWork(session_factory), i18n=i18n)

        await dispatcher.feed_update(bot, message_update(11, "/lang"))
        await dispatcher.feed_update(bot, message_update(11, "/lang"))
        await dispatcher.feed_update(bot, callback_update(12, "lang:zh"))
        await dispatcher.feed_update(bot, message_update(13, "/start", language_code="en"))

        texts = [request.params["text"] for request in bot.requests_for("sendMessage")]
        assert texts[0] == "Choose your language:"
        assert texts[1:-1] == ["好的，今后我将使用中文与您交流。"]
        assert "欢迎使用" in texts[-1]
        async with SqlUnitOfWork(session_factory) as uow:
            assert await uow.users.language_of(CUSTOMER_ID) == "zh"
            assert await uow.updates.mark(11) is False
    finally:
        await engine.dispose()
