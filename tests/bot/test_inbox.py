"""The update inbox and its processor on SQLite and PostgreSQL (issue 11, finding 7)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.types import Message, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import UnitOfWork
from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n
from bot.inbox import MAX_RUNS, UpdateProcessor
from bot.replies import install_reply_middlewares
from domain.clock import FixedClock
from storage.fsm import SqlFsmStorage
from storage.inbox import InboxEntry, SqlUpdateInbox
from storage.uow import SqlUnitOfWork
from tests.bot.conftest import CUSTOMER_ID, callback_update, message_update
from tests.fakes import FakeDatabase, FakeInbox
from tests.fixtures import statements_starting
from tests.mocked_bot import MockedBot
from tests.storage.conftest import database_url, engine, pg_url, session_factory  # noqa: F401

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
OTHER_ID = 101
PICKER = "Choose your language:"
DONE_ZH = "好的，今后我将使用中文与您交流。"
APOLOGY_EN = "Something went wrong on our side; please try again. Nothing was changed."

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sessions(session_factory: Sessions) -> Sessions:  # noqa: F811
    """A migrated, empty database (each test runs on SQLite and on PostgreSQL)."""
    return session_factory


@pytest.fixture
def inbox(sessions: Sessions) -> SqlUpdateInbox:
    """The inbox in that database."""
    return SqlUpdateInbox(sessions)


@pytest.fixture
def sql_dispatcher(sessions: Sessions, i18n: PoI18n) -> Dispatcher:
    """The production dispatcher on that database."""
    return build_dispatcher(uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n)


def processor_for(inbox: SqlUpdateInbox, dispatcher: Dispatcher, bot: MockedBot) -> UpdateProcessor:
    """An update processor as bot/app.py builds it."""
    return UpdateProcessor(inbox, dispatcher, bot, FixedClock(NOW))


def raw(update: Update) -> dict[str, Any]:
    """The update as Telegram sends it."""
    return update.model_dump(mode="json", by_alias=True, exclude_none=True)


def entry(update: Update) -> InboxEntry:
    """The update as the inbox stores it."""
    return InboxEntry(update.update_id, update.model_dump_json(by_alias=True, exclude_none=True))


def texts(bot: MockedBot, chat_id: int = CUSTOMER_ID) -> list[str]:
    """The texts the bot sent to a chat."""
    requests = bot.requests_for("sendMessage")
    return [r.params["text"] for r in requests if r.params["chat_id"] == str(chat_id)]


async def processed(sessions: Sessions, update_id: int) -> bool:
    """Whether the update is recorded as processed (marking it again is refused)."""
    async with SqlUnitOfWork(sessions) as uow:
        return not await uow.updates.mark(update_id)


async def language_of(sessions: Sessions, user_id: int = CUSTOMER_ID) -> str | None:
    """The saved language of a user."""
    async with SqlUnitOfWork(sessions) as uow:
        return await uow.users.language_of(user_id)


async def test_received_updates_are_processed_once_each_in_order_and_leave_the_inbox(
    inbox: SqlUpdateInbox, sql_dispatcher: Dispatcher, bot: MockedBot, sessions: Sessions
) -> None:
    processor = processor_for(inbox, sql_dispatcher, bot)

    await processor.receive([raw(message_update(1, "/lang")), raw(callback_update(2, "lang:zh"))])
    # Telegram delivers update 1 again with the next batch, as it does when a confirmation is lost.
    await processor.receive([raw(message_update(1, "/lang")), raw(message_update(3, "/start"))])
    await processor.wait_idle()

    sent = texts(bot)
    assert sent[:2] == [PICKER, DONE_ZH]
    assert "欢迎使用" in sent[2] and len(sent) == 3
    assert await language_of(sessions) == "zh"
    assert await inbox.pending() == []


async def test_a_redelivered_update_that_was_processed_is_not_stored_again(
    inbox: SqlUpdateInbox, sql_dispatcher: Dispatcher, bot: MockedBot
) -> None:
    processor = processor_for(inbox, sql_dispatcher, bot)
    await processor.receive([raw(message_update(1, "/lang"))])
    await processor.wait_idle()

    assert await inbox.store([entry(message_update(1, "/lang"))], NOW) == []
    await processor.receive([raw(message_update(1, "/lang"))])
    await processor.wait_idle()

    assert texts(bot) == [PICKER]


async def test_a_batch_stores_only_the_updates_not_in_the_inbox_yet(inbox: SqlUpdateInbox) -> None:
    first = [entry(message_update(update_id, "/start")) for update_id in (1, 2)]
    assert [e.update_id for e in await inbox.store(first, NOW)] == [1, 2]

    # Update 2 comes again, unprocessed, beside a new one: only the new one is stored, and it counts a run.
    again = [entry(message_update(update_id, "/start")) for update_id in (3, 2)]
    stored = await inbox.store(again, NOW)

    assert [(e.update_id, e.runs) for e in stored] == [(3, 1)]
    assert [e.update_id for e in await inbox.pending()] == [1, 2, 3]


async def test_what_a_crash_left_in_the_inbox_runs_at_start_and_a_committed_run_is_not_repeated(
    inbox: SqlUpdateInbox, sql_dispatcher: Dispatcher, bot: MockedBot, sessions: Sessions
) -> None:
    # Update 1 was stored, then the process died; update 2's handler had committed, its row was left.
    await inbox.store([entry(message_update(1, "/lang")), entry(message_update(2, "/help"))], NOW)
    async with SqlUnitOfWork(sessions) as uow:
        await uow.updates.mark(2)
        await uow.commit()

    await processor_for(inbox, sql_dispatcher, bot).recover()

    assert texts(bot) == [PICKER]
    assert await processed(sessions, 1)
    assert await inbox.pending() == []


async def test_an_update_crashes_interrupted_again_and_again_is_given_up_with_an_error(
    inbox: SqlUpdateInbox,
    sql_dispatcher: Dispatcher,
    bot: MockedBot,
    sessions: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await inbox.store([entry(message_update(1, "/lang"))], NOW)
    for _ in range(MAX_RUNS):
        await inbox.begin(1)

    with caplog.at_level(logging.ERROR):
        await processor_for(inbox, sql_dispatcher, bot).recover()

    assert texts(bot) == []
    assert await inbox.pending() == []
    assert any("Update 1 dropped" in record.getMessage() for record in caplog.records)


def holding_router(release: asyncio.Event) -> Router:
    """A router whose /hold handler saves a language, then waits for `release` before replying."""
    router = Router(name="holding")

    @router.message(F.text == "/hold")
    async def hold(message: Message, uow: UnitOfWork) -> None:
        assert message.from_user is not None
        await uow.users.set_language(message.from_user.id, "zh")
        await release.wait()
        await message.answer("held")

    return router


async def test_a_users_updates_wait_for_each_other_while_other_users_go_ahead(
    database: FakeDatabase, i18n: PoI18n, bot: MockedBot
) -> None:
    # The fake database: on SQLite the held transaction would hold the write lock, and every writer wait.
    release = asyncio.Event()
    dispatcher = build_dispatcher(uow_factory=database.unit_of_work, i18n=i18n)
    dispatcher.include_router(holding_router(release))
    processor = UpdateProcessor(FakeInbox(database), dispatcher, bot, FixedClock(NOW))

    await processor.receive(
        [
            raw(message_update(1, "/hold")),
            raw(message_update(2, "/start")),
            raw(message_update(3, "/start", user_id=OTHER_ID)),
        ]
    )
    for _ in range(50):
        if texts(bot, OTHER_ID):
            break
        await asyncio.sleep(0.02)

    assert texts(bot) == [], "the user's second update overtook the first"
    assert "Welcome to OrderDesk" in texts(bot, OTHER_ID)[0], "another user waited for the held update"
    release.set()
    await processor.wait_idle()
    sent = texts(bot)
    assert sent[0] == "held" and "欢迎使用" in sent[1]


async def test_a_graceful_stop_lets_the_update_under_way_commit(
    inbox: SqlUpdateInbox, sessions: Sessions, i18n: PoI18n, bot: MockedBot
) -> None:
    release = asyncio.Event()
    dispatcher = build_dispatcher(uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n)
    dispatcher.include_router(holding_router(release))
    processor = processor_for(inbox, dispatcher, bot)
    await processor.receive([raw(message_update(1, "/hold"))])
    await asyncio.sleep(0.1)

    closing = asyncio.create_task(processor.close(grace=5))
    await asyncio.sleep(0.1)
    release.set()
    await closing
    # Nothing is taken once closing.
    await processor.receive([raw(message_update(2, "/start"))])
    await processor.wait_idle()

    assert texts(bot) == ["held"]
    assert await language_of(sessions) == "zh"
    assert [e.update_id for e in await inbox.pending()] == [2]


async def test_flood_control_beyond_the_in_place_bound_runs_the_update_again_after_the_wait(
    inbox: SqlUpdateInbox, sql_dispatcher: Dispatcher, bot: MockedBot, sessions: Sessions
) -> None:
    # Issue 11, finding 8: nothing is waited in place here, so the update itself waits and runs again.
    install_reply_middlewares(bot.session, 0)
    bot.add_retry_after_for("sendMessage", 1)
    processor = processor_for(inbox, sql_dispatcher, bot)

    await processor.receive([raw(message_update(1, "/lang"))])
    await processor.wait_idle()

    assert texts(bot) == [PICKER, PICKER]
    assert APOLOGY_EN not in texts(bot)
    assert await processed(sessions, 1)
    assert await inbox.pending() == []


async def test_an_unreadable_stored_update_is_dropped(
    inbox: SqlUpdateInbox, sql_dispatcher: Dispatcher, bot: MockedBot, caplog: pytest.LogCaptureFixture
) -> None:
    await inbox.store([InboxEntry(1, '{"update_id": 1, "message": {"text": 5}}')], NOW)

    with caplog.at_level(logging.WARNING):
        await processor_for(inbox, sql_dispatcher, bot).recover()

    assert await inbox.pending() == []
    assert bot.requests == []
    assert any("cannot be read" in record.getMessage() for record in caplog.records)


async def test_updates_finishing_together_leave_the_inbox_in_fewer_transactions(
    inbox: SqlUpdateInbox, sessions: Sessions
) -> None:
    """Issue 17: removals that queue behind one under way go together in the next transaction."""
    stored = await inbox.store([InboxEntry(update_id, "{}") for update_id in range(1, 21)], NOW)
    assert len(stored) == 20
    with statements_starting(sessions.kw["bind"], "DELETE FROM inbox_updates") as deletes:
        await asyncio.gather(*(inbox.done(update_id) for update_id in range(1, 21)))

    assert await inbox.pending() == []
    # The first removal takes its own update; the nineteen that queued behind it go in one more.
    assert len(deletes) == 2


async def test_a_failed_removal_is_reported_to_every_update_of_its_batch(
    inbox: SqlUpdateInbox, sessions: Sessions
) -> None:
    await inbox.store([InboxEntry(update_id, "{}") for update_id in (1, 2, 3)], NOW)
    remove = inbox._remove
    calls = 0

    async def failing_second(update_ids: list[int]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("database gone")
        await remove(update_ids)

    inbox._remove = failing_second  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(inbox.done(update_id) for update_id in (1, 2, 3)), return_exceptions=True
    )

    assert results[0] is None
    assert isinstance(results[1], ConnectionError)
    assert isinstance(results[2], RuntimeError)
    # The rows of the failed batch stay, to be finished at the next start.
    assert [entry.update_id for entry in await inbox.pending()] == [2, 3]


async def test_an_update_reads_roles_language_and_dialog_state_with_its_first_statement(
    inbox: SqlUpdateInbox, sessions: Sessions, i18n: PoI18n, bot: MockedBot
) -> None:
    """Issue 17: one statement records the update and reads them (two on SQLite), none before the handler."""
    dispatcher = build_dispatcher(
        uow_factory=lambda: SqlUnitOfWork(sessions), i18n=i18n, storage=SqlFsmStorage(sessions)
    )
    processor = processor_for(inbox, dispatcher, bot)
    await processor.receive([raw(message_update(1, "/lang")), raw(callback_update(2, "lang:zh"))])
    await processor.wait_idle()

    database = sessions.kw["bind"]
    with statements_starting(database, "") as statements:
        await processor.receive([raw(message_update(3, "/start"))])
        await processor.wait_idle()

    # The Chinese welcome: the saved language was read, with roles and dialog state, in the opening.
    assert "欢迎使用" in texts(bot)[-1]
    reads = [statement for statement in statements if "staff_roles" in statement or "fsm_states" in statement]
    assert len(reads) == 1, reads
    assert reads[0].lstrip().startswith("WITH" if database.dialect.name == "postgresql" else "SELECT")
