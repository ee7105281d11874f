"""The SQL FSM storage joins the update's unit of work instead of waiting for SQLite's write lock.

These run on the real databases, as does the wizard's resumption after a restart, which needs the
conversation state stored in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from storage.fsm import SqlFsmStorage
from storage.uow import SqlUnitOfWork, active_session
from tests.intake.conftest import Chat, ChatFactory, wizard_dispatcher
from tests.mocked_bot import MockedBot
from tests.telegram import BOT_ID

ANN = StorageKey(bot_id=1, chat_id=10, user_id=10)


@pytest.fixture
def dispatcher(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Dispatcher:
    """The production dispatcher with SQL units of work and the SQL FSM storage."""
    return wizard_dispatcher(session_factory, clock)


async def test_state_written_after_the_unit_of_work_wrote_is_committed_with_it(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    storage = SqlFsmStorage(session_factory)

    async with SqlUnitOfWork(session_factory) as uow:
        # The unit of work holds the write lock on SQLite from here on.
        await uow.users.set_language(10, "zh")
        await asyncio.wait_for(storage.set_state(ANN, "OrderWizard:city"), timeout=5)
        await storage.set_data(ANN, {"draft": {"name": "Ann"}})
        assert await storage.get_state(ANN) == "OrderWizard:city"
        await uow.commit()

    fresh = SqlFsmStorage(session_factory)
    assert await fresh.get_state(ANN) == "OrderWizard:city"
    assert await fresh.get_data(ANN) == {"draft": {"name": "Ann"}}


async def test_state_is_rolled_back_with_a_failed_update(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    storage = SqlFsmStorage(session_factory)
    await storage.set_state(ANN, "OrderWizard:name")

    async with SqlUnitOfWork(session_factory) as uow:
        await storage.set_state(ANN, "OrderWizard:city")
        await uow.rollback()

    assert await storage.get_state(ANN) == "OrderWizard:name"


async def test_a_task_started_inside_loses_the_session_when_the_unit_of_work_closes(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    closed = asyncio.Event()
    seen: list[AsyncSession | None] = []

    async def late_writer() -> None:
        seen.append(active_session())
        await closed.wait()
        seen.append(active_session())

    async with SqlUnitOfWork(session_factory) as uow:
        task = asyncio.create_task(late_writer())
        await asyncio.sleep(0)
        assert seen == [uow.session]
    closed.set()
    await task

    assert seen[1] is None
    assert active_session() is None


async def test_the_wizard_resumes_after_a_restart(
    chat: ChatFactory,
    mocked_bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
    update_ids: Iterator[int],
    clock: FixedClock,
) -> None:
    ann = chat()
    await ann.send("/neworder")
    await ann.send("Ann Smith")
    await ann.press("Germany")
    await ann.send("+49 1512 3456789")
    germany_skip = ann.button_data("Skip")

    # A new process: new dispatcher, new storage objects, the same database.
    restarted = Chat(wizard_dispatcher(session_factory, clock), mocked_bot, update_ids)
    restarted.seen = len(mocked_bot.requests)
    await restarted.press_data(germany_skip)
    assert "City in Germany" in restarted.text
    await restarted.send("Berlin")
    assert "Street address" in restarted.text

    state = await SqlFsmStorage(session_factory).get_state(
        StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100)
    )
    assert state == "OrderWizard:street"
