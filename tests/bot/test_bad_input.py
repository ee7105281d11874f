"""Odd callback data, unknown buttons, failures in groups and odd /staff ids (issue 11, findings 5 and 6).

The production dispatcher with the production handler data (bot.app.build_workflow) on a migrated
SQLite database, as the bot runs it; the recording bot checks every request against the Bot API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.types import CallbackQuery, Message, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_workflow
from bot.config import load_settings
from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.status import Role
from storage.uow import SqlUnitOfWork
from tests import telegram
from tests.bot.conftest import ADMIN_ID
from tests.mocked_bot import MockedBot
from tests.storage.conftest import migrated_sqlite

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
DESK_CHAT = -1001000000001
CLERK = 301
STALE = "This button is no longer valid."
APOLOGY_EN = "Something went wrong on our side; please try again. Nothing was changed."
APOLOGY_ZH = "抱歉，我们这边出了问题，请重试。没有做任何更改。"
INVALID_ID = "is not a Telegram user id"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database with an order-desk clerk."""
    async with migrated_sqlite(tmp_path / "bot.sqlite3") as factory:
        async with SqlUnitOfWork(factory) as uow:
            await uow.staff.grant(CLERK, Role.ORDER_DESK, by=None, at=NOW)
            await uow.commit()
        yield factory


@pytest.fixture
def dispatcher(sessions: async_sessionmaker[AsyncSession], i18n: PoI18n) -> Dispatcher:
    """The production dispatcher with the handler data bot/app.py gives it."""
    dispatcher = build_dispatcher(
        uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n, admin_ids=[ADMIN_ID]
    )
    settings = load_settings(env_file=None, order_desk_chat_id=DESK_CHAT)
    for key, value in build_workflow(settings, FixedClock(NOW), i18n).handler_data().items():
        dispatcher[key] = value
    return dispatcher


@pytest.fixture
def update_ids() -> Iterator[int]:
    """Fresh update ids."""
    return iter(range(1, 1000))


def _user(user_id: int, language: str) -> dict[str, Any]:
    return telegram.user(user_id, "Ann", language)


def _group() -> dict[str, Any]:
    return telegram.chat(DESK_CHAT, title="Order desk")


def group_press(update_id: int, data: str, user_id: int = CLERK, language: str = "en") -> Update:
    """A press on a bot message in the order-desk group."""
    message = telegram.bot_message(77, "🚨 SLA breach", chat=_group(), date=NOW)
    query = telegram.callback_query(
        f"cb{update_id}", data, sender=_user(user_id, language), message=message, chat_instance="desk"
    )
    return Update.model_validate({"update_id": update_id, "callback_query": query})


def group_command(update_id: int, text: str, user_id: int = ADMIN_ID, language: str = "en") -> Update:
    """A command sent in the order-desk group."""
    message = telegram.text_message(update_id, text, chat=_group(), sender=_user(user_id, language), date=NOW)
    return Update.model_validate({"update_id": update_id, "message": message})


def answers(bot: MockedBot) -> list[dict[str, Any]]:
    """The answerCallbackQuery params so far."""
    return [request.params for request in bot.requests_for("answerCallbackQuery")]


def errors_in(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The ERROR records captured."""
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "data",
    [
        "sa:ack:²",
        "sa:ack:12345678901234567890",
        "sa:ack:０",
        "sa:ack:-1",
        "sa:ack:2147483648",
        "sa:ackb:a\x00b",
    ],
    ids=["superscript", "20-digits", "full-width", "negative", "over-int32", "nul"],
)
async def test_odd_sla_button_data_is_answered_with_a_toast_and_nothing_goes_to_the_group(
    dispatcher: Dispatcher, bot: MockedBot, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    with caplog.at_level(logging.WARNING):
        await dispatcher.feed_update(bot, group_press(1, data))

    assert [answer.get("text") for answer in answers(bot)] == [STALE]
    assert bot.requests_for("sendMessage") == []
    assert errors_in(caplog) == []


@pytest.mark.parametrize("data", ["zz:1", "rv:", "lang", "x" * 64, "ex:not-an-order:zz"])
async def test_a_button_no_router_takes_is_answered_with_a_toast(
    dispatcher: Dispatcher, bot: MockedBot, data: str
) -> None:
    await dispatcher.feed_update(bot, group_press(1, data))

    assert [answer.get("text") for answer in answers(bot)] == [STALE]
    assert bot.requests_for("sendMessage") == []


def include_failing_router(dispatcher: Dispatcher) -> None:
    """Puts a router whose button and command handlers fail first, before the fallback takes the press."""
    router = Router(name="failing")

    @router.callback_query(F.data == "boom")
    async def boom_button(query: CallbackQuery) -> None:
        raise RuntimeError("handler bug")

    @router.message(F.text == "/boom")
    async def boom_command(message: Message) -> None:
        raise RuntimeError("handler bug")

    dispatcher.include_router(router)
    dispatcher.sub_routers.insert(0, dispatcher.sub_routers.pop())


@pytest.mark.parametrize(("language", "apology"), [("en", APOLOGY_EN), ("zh-hans", APOLOGY_ZH)])
async def test_a_failing_press_in_a_group_is_apologised_for_in_a_toast_in_the_users_language(
    dispatcher: Dispatcher, bot: MockedBot, language: str, apology: str
) -> None:
    include_failing_router(dispatcher)

    await dispatcher.feed_update(bot, group_press(1, "boom", language=language))

    assert answers(bot) == [{"callback_query_id": "cb1", "text": apology, "show_alert": "true"}]
    assert bot.requests_for("sendMessage") == []


async def test_a_failing_command_in_a_group_is_apologised_for_in_the_users_private_chat(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    include_failing_router(dispatcher)

    await dispatcher.feed_update(bot, group_command(1, "/boom", user_id=CLERK))

    (apology,) = bot.requests_for("sendMessage")
    assert apology.params["chat_id"] == str(CLERK)
    assert apology.params["text"] == APOLOGY_EN


async def test_staff_usage_is_valid_html_and_names_the_arguments(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    # Issue 11, finding 5: the raw "<user id> <role>" made Telegram refuse the usage line.
    await dispatcher.feed_update(bot, group_command(1, "/staff add"))

    (reply,) = bot.requests_for("sendMessage")
    assert "/staff add &lt;user id&gt; &lt;role&gt;" in reply.params["text"]
    assert "order_desk" in reply.params["text"]


@pytest.mark.parametrize("user_id", ["０", "٣٤", "²", "0", "-5", "12345678901234567890", "4503599627370496"])
async def test_staff_refuses_an_id_that_is_not_plain_ascii_digits_in_range(
    dispatcher: Dispatcher, bot: MockedBot, sessions: async_sessionmaker[AsyncSession], user_id: str
) -> None:
    await dispatcher.feed_update(bot, group_command(1, f"/staff add {user_id} order_desk"))

    (reply,) = bot.requests_for("sendMessage")
    assert INVALID_ID in reply.params["text"]
    async with SqlUnitOfWork(sessions) as uow:
        assert await uow.staff.list_all() == {CLERK: frozenset({Role.ORDER_DESK})}


async def test_staff_still_grants_to_a_plain_id(
    dispatcher: Dispatcher, bot: MockedBot, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await dispatcher.feed_update(bot, group_command(1, "/staff add 4503599627370495 warehouse"))

    (reply,) = bot.requests_for("sendMessage")
    assert "4503599627370495" in reply.params["text"]
    async with SqlUnitOfWork(sessions) as uow:
        assert await uow.staff.roles_of(4503599627370495) == frozenset({Role.WAREHOUSE})
