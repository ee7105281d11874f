"""End to end: the real bot process greets in the user's language and handles a redelivered update once."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from sandbox.server import FakeBotApi
from tests.e2e.conftest import TOKEN, BotProcess

pytestmark = pytest.mark.e2e

StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]


async def test_start_is_answered_in_chinese_and_in_english(telegram: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    chinese = telegram.create_user("Li", language_code="zh-hans")
    english = telegram.create_user("Anna", language_code="en")
    german = telegram.create_user("Jonas", language_code="de")

    for user in (chinese, english, german):
        telegram.send_text(user, None, "/start")

    assert "欢迎使用 OrderDesk" in (await telegram.wait_for_bot_message(chinese.id, timeout=60))["text"]
    for user in (english, german):
        greeting = await telegram.wait_for_bot_message(user.id, timeout=60)
        assert "Welcome to OrderDesk" in greeting["text"]
        assert "欢迎" not in greeting["text"]


async def test_a_redelivered_update_changes_nothing_twice(telegram: FakeBotApi, start_bot: StartBot) -> None:
    await start_bot()
    user = telegram.create_user("Anna", language_code="en")
    telegram.send_text(user, None, "/lang")
    lang_update_id = int(telegram.pending_updates[-1]["update_id"])
    picker = await telegram.wait_for_bot_message(user.id, timeout=60)
    telegram.press_button(user, picker, text="中文")
    await telegram.wait_for_bot_output(user.id, timeout=10)

    # Telegram delivers the /lang update again, as it does when the bot's confirmation was lost.
    telegram.redeliver(lang_update_id)
    telegram.send_text(user, None, "/help")
    help_reply = await telegram.wait_for_bot_message(
        user.id, predicate=lambda message: "/start" in message.get("text", ""), timeout=20
    )

    pickers = [
        call for call in telegram.calls if call.method == "sendMessage" and "lang:zh" in str(call.params)
    ]
    assert len(pickers) == 1, "the redelivered /lang was answered a second time"
    assert "您可以使用的命令" in help_reply["text"], "the language choice was lost"


async def test_the_bot_publishes_its_menus_and_stops_cleanly_on_sigterm(
    telegram: FakeBotApi, start_bot: StartBot
) -> None:
    bot = await start_bot()
    user = telegram.create_user("Li", language_code="zh-hans")
    telegram.send_text(user, None, "/start")
    await telegram.wait_for_bot_message(user.id, timeout=60)
    assert telegram.commands, "the command menus were not published"

    await bot.stop()

    assert bot.process.returncode == 0, bot.log
    assert "Traceback" not in bot.log
    assert TOKEN not in bot.log
