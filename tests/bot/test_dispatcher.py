"""Whole updates through the production dispatcher: greeting, help, language, duplicates, errors (R-P)."""

from __future__ import annotations

import gc
import logging
import weakref

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.methods.base import Response
from aiogram.types import Message

from application.ports import UnitOfWork
from bot.dispatcher import build_bot
from domain.orders.status import Role
from tests.bot.conftest import ADMIN_ID, CUSTOMER_ID, callback_update, message_update
from tests.fakes import FakeDatabase
from tests.mocked_bot import MockedBot, RecordedRequest

APOLOGY_EN = "Something went wrong on our side; please try again. Nothing was changed."
APOLOGY_ZH = "抱歉，我们这边出了问题，请重试。没有做任何更改。"


def last_message(bot: MockedBot) -> RecordedRequest:
    """Returns the last sendMessage request."""
    sent = bot.requests_for("sendMessage")
    assert sent, "the bot sent no message"
    return sent[-1]


def keyboard_labels(request: RecordedRequest) -> list[list[str]]:
    """Returns the reply-keyboard button labels of a request, row by row."""
    markup = request.decoded("reply_markup")
    return [[button["text"] for button in row] for row in markup["keyboard"]]


async def test_start_greets_a_customer_in_english_with_the_main_menu(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/start", language_code="en-GB"))

    request = last_message(bot)
    assert request.params["chat_id"] == str(CUSTOMER_ID)
    assert "Welcome to OrderDesk" in request.params["text"]
    assert request.params["parse_mode"] == "HTML"
    assert keyboard_labels(request) == [["New order", "My orders"], ["Help"]]


async def test_start_greets_a_chinese_telegram_user_in_chinese(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/start", language_code="zh-hans"))

    request = last_message(bot)
    assert "欢迎使用 OrderDesk" in request.params["text"]
    assert keyboard_labels(request) == [["新订单", "我的订单"], ["帮助"]]


async def test_saved_language_wins_over_the_telegram_language(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    database.state.languages[CUSTOMER_ID] = "zh"

    await dispatcher.feed_update(bot, message_update(1, "/start", language_code="en"))

    assert "欢迎使用" in last_message(bot).params["text"]


async def test_unknown_language_falls_back_to_the_default(database: FakeDatabase, bot: MockedBot) -> None:
    from bot.dispatcher import build_dispatcher
    from bot.i18n import create_i18n

    chinese_default = build_dispatcher(uow_factory=database.unit_of_work, i18n=create_i18n("zh"))

    await chinese_default.feed_update(bot, message_update(1, "/start", language_code=None))

    assert "欢迎使用" in last_message(bot).params["text"]


async def test_start_escapes_the_users_name(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/start", first_name="<b>Ann & Co</b>"))

    assert "&lt;b&gt;Ann &amp; Co&lt;/b&gt;" in last_message(bot).params["text"]


async def test_start_greets_staff_with_their_roles_and_no_customer_menu(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    database.state.roles[CUSTOMER_ID] = {Role.WAREHOUSE}

    await dispatcher.feed_update(bot, message_update(1, "/start"))

    request = last_message(bot)
    assert "You work here as: warehouse" in request.params["text"]
    assert "Welcome" not in request.params["text"]
    assert request.decoded("reply_markup") == {"remove_keyboard": True}


async def test_configured_admin_is_staff_without_a_database_role(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/start", user_id=ADMIN_ID))

    assert "You work here as: administrator" in last_message(bot).params["text"]


async def test_start_in_a_group_has_no_reply_keyboard(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/start", chat_id=-100123, chat_type="supergroup"))

    request = last_message(bot)
    assert "private chat" in request.params["text"]
    assert "reply_markup" not in request.params


async def test_the_same_update_is_handled_once(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    update = message_update(7, "/start")

    await dispatcher.feed_update(bot, update)
    await dispatcher.feed_update(bot, update)

    assert len(bot.requests_for("sendMessage")) == 1
    assert database.state.processed_updates == {7}
    assert database.commits == 1


async def test_a_replayed_press_whose_effect_was_committed_is_still_answered(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    """Issue 11 finding 7: killed after its commit but before its answer, a redelivered press is answered."""
    database.state.processed_updates.add(8)

    await dispatcher.feed_update(bot, callback_update(8, "lang:zh"))

    [answer] = bot.requests_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "cb8"
    assert database.state.processed_updates == {8} and database.commits == 0


async def test_help_lists_the_commands_in_the_users_language(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/help", language_code="zh"))

    lines = last_message(bot).params["text"].splitlines()
    assert lines[:4] == [
        "您可以使用的命令：",
        "/start — 显示主菜单",
        "/help — 列出您可以使用的命令",
        "/lang — 选择语言",
    ]
    shown = {line.split(" — ")[0] for line in lines[1:]}
    assert {"/neworder", "/myorders", "/track"} <= shown
    # Staff commands are not offered to a customer.
    assert shown.isdisjoint({"/staff", "/queue", "/offline", "/sla", "/todo"})


async def test_help_button_works_in_either_language(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, message_update(1, "帮助", language_code="en"))

    assert last_message(bot).params["text"].startswith("Commands you can use:")


async def test_lang_switches_to_chinese_and_later_updates_follow(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    await dispatcher.feed_update(bot, message_update(1, "/lang"))
    picker = last_message(bot).decoded("reply_markup")["inline_keyboard"][0]
    assert [(b["text"], b["callback_data"]) for b in picker] == [("English", "lang:en"), ("中文", "lang:zh")]

    await dispatcher.feed_update(bot, callback_update(2, "lang:zh"))

    assert database.state.languages[CUSTOMER_ID] == "zh"
    assert len(bot.requests_for("answerCallbackQuery")) == 1
    assert bot.requests_for("editMessageReplyMarkup")[-1].params["message_id"] == "1"
    confirmation = last_message(bot)
    assert confirmation.params["text"] == "好的，今后我将使用中文与您交流。"
    assert keyboard_labels(confirmation) == [["新订单", "我的订单"], ["帮助"]]

    await dispatcher.feed_update(bot, message_update(3, "/start", language_code="en"))
    assert "欢迎使用" in last_message(bot).params["text"]


async def test_staff_switching_language_get_the_picker_edited(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    database.state.roles[CUSTOMER_ID] = {Role.FINANCE}
    database.state.languages[CUSTOMER_ID] = "zh"

    await dispatcher.feed_update(bot, callback_update(1, "lang:en"))

    assert database.state.languages[CUSTOMER_ID] == "en"
    assert bot.requests_for("editMessageText")[-1].params["text"] == (
        "Done: I will speak English with you from now on."
    )
    assert bot.requests_for("sendMessage") == []


async def test_lang_refuses_an_unknown_language(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase
) -> None:
    await dispatcher.feed_update(bot, callback_update(1, "lang:fr"))

    assert CUSTOMER_ID not in database.state.languages
    answer = bot.requests_for("answerCallbackQuery")[-1]
    assert answer.params["text"] == "This language is not available."


def failing_router() -> Router:
    """A router whose handler changes the database and then fails."""
    router = Router(name="failing")

    @router.message(F.text == "/boom")
    async def boom(message: Message, uow: UnitOfWork) -> None:
        await uow.users.set_language(CUSTOMER_ID, "en")
        raise RuntimeError("handler bug")

    return router


async def test_a_failing_handler_is_rolled_back_and_the_user_told_politely(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher.include_router(failing_router())
    database.state.languages[CUSTOMER_ID] = "zh"

    with caplog.at_level(logging.ERROR):
        await dispatcher.feed_update(bot, message_update(5, "/boom", language_code="en"))

    assert last_message(bot).params["text"] == APOLOGY_ZH
    assert database.state.languages[CUSTOMER_ID] == "zh"
    # The update was not recorded as processed, so Telegram's redelivery is handled again.
    assert database.state.processed_updates == set()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "Ann" not in errors[0].getMessage()


async def test_the_error_reply_failing_does_not_escape(
    dispatcher: Dispatcher, bot: MockedBot, caplog: pytest.LogCaptureFixture
) -> None:
    dispatcher.include_router(failing_router())
    bot.add_blocked_for("sendMessage")

    with caplog.at_level(logging.WARNING):
        await dispatcher.feed_update(bot, message_update(5, "/boom"))

    assert bot.requests_for("sendMessage")[-1].params["text"] == APOLOGY_EN
    assert any("Could not tell chat" in record.getMessage() for record in caplog.records)


async def test_no_filter_of_the_production_dispatcher_runs_in_a_thread(
    dispatcher: Dispatcher, bot: MockedBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: aiogram runs a plain function filter through asyncio.to_thread; the tree checks in place."""
    calls: list[object] = []

    async def to_thread(function: object, *args: object, **kwargs: object) -> None:
        calls.append(function)

    checks = [
        event_filter
        for router in dispatcher.chain_tail
        for observer in router.observers.values()
        for handler in (observer._handler, *observer.handlers)
        for event_filter in handler.filters or ()
    ]
    assert len(checks) > 50
    assert all(event_filter.awaitable for event_filter in checks)
    monkeypatch.setattr("asyncio.to_thread", to_thread)
    # A dialog State and magic filters are among those walked past by /start.
    await dispatcher.feed_update(bot, message_update(1, "/start", language_code="en-GB"))
    assert calls == []
    assert ["New order", "My orders"] in keyboard_labels(last_message(bot))


def test_the_bots_response_models_outlive_a_garbage_collection() -> None:
    """Issue 17: aiogram's Response[Message] is built once, not again after the collector drops it."""
    build_bot("123456:ABC", "http://127.0.0.1:1")
    kept = weakref.ref(Response[Message])
    gc.collect()
    assert kept() is not None
    assert Response[Message] is kept()
