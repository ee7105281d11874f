"""Long polling against the fake Bot API: updates are confirmed only once stored (issue 11, finding 7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import PoI18n
from bot.inbox import UpdateProcessor
from bot.polling import poll
from domain.clock import FixedClock
from sandbox.server import FakeBotApi, FakeUser
from storage.inbox import InboxEntry, SqlUpdateInbox
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import migrated_sqlite

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    """A migrated SQLite database."""
    async with migrated_sqlite(tmp_path / "bot.sqlite3") as sessions:
        yield sessions


class FlakyInbox(SqlUpdateInbox):
    """The SQL inbox whose first stores fail, as while the database is unreachable."""

    def __init__(self, sessions: Sessions, failures: int) -> None:
        super().__init__(sessions)
        self.failures = failures

    async def store(self, updates: list[InboxEntry], at: datetime) -> list[InboxEntry]:  # type: ignore[override]
        """Fails while failures are left, then stores."""
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the database is unreachable")
        return await super().store(updates, at)


class PollingBot:
    """One run of the polling bot in this process: started, then stopped or killed."""

    def __init__(
        self, telegram: FakeBotApi, sessions: Sessions, i18n: PoI18n, inbox: SqlUpdateInbox | None = None
    ) -> None:
        self.bot: Bot = build_bot(TOKEN, telegram.base_url, reply_retry_seconds=5)
        self.dispatcher: Dispatcher = build_dispatcher(uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n)
        self.inbox = inbox or SqlUpdateInbox(sessions)
        # A grace of 0: stopping cancels the updates under way, as a crash would (nothing uncommitted stays).
        self.killable = UpdateProcessor(self.inbox, self.dispatcher, self.bot, FixedClock(NOW), stop_grace=0)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            poll(
                self.bot,
                self.killable,
                self.stop,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
                hold_seconds=1,
            )
        )

    async def end(self) -> None:
        """Stops polling; whatever was under way is cut off."""
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.bot.session.close()


@pytest.fixture
async def start_bot(
    telegram: FakeBotApi, sessions: Sessions, i18n: PoI18n
) -> AsyncIterator[Callable[..., PollingBot]]:
    """Starts polling bots; each is ended after the test."""
    started: list[PollingBot] = []

    def start(inbox: SqlUpdateInbox | None = None) -> PollingBot:
        bot = PollingBot(telegram, sessions, i18n, inbox)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        if not bot.task.done():
            await bot.end()


async def until(condition: Callable[[], bool], within: float = 10) -> None:
    """Waits until the condition holds; raises TimeoutError if it does not within the time given."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the condition did not come true in time")


def confirmed(telegram: FakeBotApi, update_id: int) -> bool:
    """Whether the bot has asked for an offset past the update, i.e. told Telegram it has it."""
    offsets = [int(call.params.get("offset") or 0) for call in telegram.calls if call.method == "getUpdates"]
    return any(offset > update_id for offset in offsets)


async def language_of(sessions: Sessions, user: FakeUser) -> str | None:
    """The saved language of a user."""
    async with SqlUnitOfWork(sessions) as uow:
        return await uow.users.language_of(user.id)


async def test_a_press_a_crash_cut_off_in_its_handler_is_applied_after_the_restart(
    telegram: FakeBotApi, start_bot: Callable[..., PollingBot], sessions: Sessions
) -> None:
    user = telegram.create_user("Anna", language_code="en")
    first = start_bot()
    telegram.send_text(user, None, "/lang")
    picker = await telegram.wait_for_bot_message(user.id, timeout=10)
    # Telegram answers slowly: the press's replies are still being sent when the bot dies.
    telegram.answer_delay = 30
    press = telegram.press_button(user, picker, text="中文")
    press_id = int(telegram.pending_updates[-1]["update_id"])
    await until(lambda: any(call.method == "answerCallbackQuery" for call in telegram.calls))
    await until(lambda: confirmed(telegram, press_id))

    await first.end()
    # The change committed before the replies went (issue 17); the replies wait in the inbox row.
    assert await language_of(sessions, user) == "zh"
    telegram.answer_delay = 0
    start_bot()
    done = await telegram.wait_for_bot_message(user.id, lambda m: "中文" in m.get("text", ""), timeout=10)

    assert done["text"] == "好的，今后我将使用中文与您交流。"
    assert await language_of(sessions, user) == "zh"
    # The first run answered the press; the replay's answer, refused by Telegram, counted as done.
    assert press in telegram.callback_answers


async def test_a_batch_is_confirmed_only_once_it_is_stored(
    telegram: FakeBotApi, start_bot: Callable[..., PollingBot], sessions: Sessions
) -> None:
    user = telegram.create_user("Anna", language_code="en")
    telegram.send_text(user, None, "/lang")

    start_bot(FlakyInbox(sessions, failures=2))
    await telegram.wait_for_bot_message(user.id, timeout=15)

    polls = [call for call in telegram.calls if call.method == "getUpdates"]
    assert [call.params.get("offset") for call in polls[:3]] == [None, None, None]
    assert len([call for call in telegram.calls if call.method == "sendMessage"]) == 1


async def test_stopping_lets_the_update_under_way_commit(
    telegram: FakeBotApi, sessions: Sessions, i18n: PoI18n
) -> None:
    user = telegram.create_user("Anna", language_code="en")
    bot = build_bot(TOKEN, telegram.base_url, reply_retry_seconds=5)
    dispatcher = build_dispatcher(uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n)
    inbox = SqlUpdateInbox(sessions)
    stop = asyncio.Event()
    processor = UpdateProcessor(inbox, dispatcher, bot, FixedClock(NOW))
    polling = asyncio.create_task(poll(bot, processor, stop, allowed_updates=["message", "callback_query"]))
    try:
        telegram.send_text(user, None, "/lang")
        picker = await telegram.wait_for_bot_message(user.id, timeout=10)
        telegram.answer_delay = 0.5
        telegram.press_button(user, picker, text="中文")
        await until(lambda: any(call.method == "answerCallbackQuery" for call in telegram.calls))

        stop.set()
        await asyncio.wait_for(polling, 10)
    finally:
        await bot.session.close()

    assert await language_of(sessions, user) == "zh"
    assert await inbox.pending() == []
