"""Command menus, the Bot's API server, admin bootstrap, the webhook secret and the real SQL unit of work."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from application.ports import UnitOfWork
from bot.commands import set_commands
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n
from bot.inbox import UpdateProcessor
from bot.middlewares import bootstrap_admins
from bot.webhook import build_webhook_app
from domain.clock import FixedClock
from domain.orders.status import Role
from handlers import all_commands
from storage.database import create_engine, create_session_factory, migrate
from storage.uow import SqlUnitOfWork
from tests.bot.conftest import CUSTOMER_ID, callback_update, message_update
from tests.fakes import FakeDatabase, FakeInbox
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


def webhook_app(
    dispatcher: Dispatcher, bot: MockedBot, inbox: FakeInbox
) -> tuple[web.Application, UpdateProcessor]:
    """The webhook app on an update processor over the inbox."""
    processor = UpdateProcessor(inbox, dispatcher, bot, FixedClock(NOW))
    return build_webhook_app(processor, secret_token=SECRET, path="/telegram/webhook"), processor


WITH_SECRET = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


async def post_update(
    dispatcher: Dispatcher, bot: MockedBot, inbox: FakeInbox, headers: dict[str, str]
) -> tuple[int, str, UpdateProcessor]:
    """Posts update 1 to the webhook once; returns the status, the body and the processor behind it."""
    app, processor = webhook_app(dispatcher, bot, inbox)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/telegram/webhook", data=update_body(1), headers=headers)
        return response.status, await response.text(), processor


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": "sëcret"}],
    ids=["missing", "wrong", "non-ascii"],
)
async def test_webhook_refuses_requests_without_the_secret(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, headers: dict[str, str]
) -> None:
    inbox = FakeInbox(database)
    status, _, processor = await post_update(dispatcher, bot, inbox, headers)

    assert status == 401
    await processor.wait_idle()
    assert database.state.processed_updates == set()
    assert inbox.rows == {}
    assert bot.requests_for("sendMessage") == []


async def test_webhook_handles_an_update_with_the_secret(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    inbox = FakeInbox(database)
    status, body, processor = await post_update(dispatcher, bot, inbox, WITH_SECRET)

    assert status == 200
    assert json.loads(body) == {}
    # The 200 means "stored"; the update is processed right after, in the background.
    await processor.wait_idle()
    assert database.state.processed_updates == {1}
    assert bot.requests_for("sendMessage")[-1].params["chat_id"] == str(CUSTOMER_ID)
    assert inbox.rows == {}


async def test_webhook_answers_500_while_the_update_cannot_be_stored_so_telegram_delivers_it_again(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    # Issue 11, finding 7: the 200 is Telegram's acknowledgement, so it waits for the inbox.
    inbox = FakeInbox(database, fail_stores=1)
    app, processor = webhook_app(dispatcher, bot, inbox)
    async with TestClient(TestServer(app)) as client:
        refused = await client.post("/telegram/webhook", data=update_body(1), headers=WITH_SECRET)
        await processor.wait_idle()

        assert refused.status == 500
        assert database.state.processed_updates == set()
        assert bot.requests_for("sendMessage") == []

        redelivered = await client.post("/telegram/webhook", data=update_body(1), headers=WITH_SECRET)
        await processor.wait_idle()

        assert redelivered.status == 200
    assert database.state.processed_updates == {1}
    assert len(bot.requests_for("sendMessage")) == 1


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"message": {}}', '{"update_id": "7"}'])
async def test_webhook_refuses_a_body_that_is_not_an_update(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, body: str
) -> None:
    inbox = FakeInbox(database)
    app, _ = webhook_app(dispatcher, bot, inbox)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/telegram/webhook", data=body, headers=WITH_SECRET)

        assert response.status == 400
    assert inbox.rows == {}


def holding_router(release: asyncio.Event, reply: str) -> Router:
    """A router whose /hold handler changes the database, waits for `release`, then replies."""
    router = Router(name="holding")

    @router.message(F.text == "/hold")
    async def hold(message: Message, uow: UnitOfWork) -> None:
        await uow.users.set_language(CUSTOMER_ID, "zh")
        await release.wait()
        await message.answer(reply)

    return router


async def test_an_update_the_webhook_accepted_is_processed_at_the_next_start_when_a_crash_cut_it_short(
    database: FakeDatabase, i18n: PoI18n, bot: MockedBot
) -> None:
    inbox = FakeInbox(database)
    first = build_dispatcher(uow_factory=database.unit_of_work, i18n=i18n)
    first.include_router(holding_router(asyncio.Event(), "first run"))
    app, processor = webhook_app(first, bot, inbox)
    async with TestClient(TestServer(app)) as client:
        body = message_update(3, "/hold").model_dump_json(exclude_none=True)
        response = await client.post("/telegram/webhook", data=body, headers=WITH_SECRET)
        assert response.status == 200
    # The process dies in the middle of the handler: its transaction never commits.
    await processor.close(grace=0)
    assert database.state.processed_updates == set()
    assert set(inbox.rows) == {3}

    release = asyncio.Event()
    release.set()
    second = build_dispatcher(uow_factory=database.unit_of_work, i18n=i18n)
    second.include_router(holding_router(release, "second run"))
    await UpdateProcessor(inbox, second, bot, FixedClock(NOW)).recover()

    assert [request.params["text"] for request in bot.requests_for("sendMessage")] == ["second run"]
    assert database.state.processed_updates == {3}
    assert database.state.languages[CUSTOMER_ID] == "zh"
    assert inbox.rows == {}


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
