"""An update's first statement records it and reads its sender's roles, language and dialog state (issue 17).

On SQLite and PostgreSQL alike; one statement on PostgreSQL, two on SQLite (no DML in a CTE there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.orders.status import Role
from storage.fsm import SqlFsmStorage, storage_key
from storage.inbox import InboxProcessedUpdates
from storage.uow import SqlUnitOfWork
from tests.fixtures import statements_starting

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
DORA = 7
KEY = StorageKey(bot_id=1, chat_id=DORA, user_id=DORA)


@pytest.fixture
async def fsm(
    session_factory: async_sessionmaker[AsyncSession], new_uow: Callable[[], SqlUnitOfWork]
) -> SqlFsmStorage:
    """The dialog storage, with Dora known: warehouse staff, reading Chinese, halfway through a dialog."""
    async with new_uow() as uow:
        await uow.staff.grant(DORA, Role.WAREHOUSE, by=None, at=NOW)
        await uow.users.set_language(DORA, "zh")
        await uow.commit()
    storage = SqlFsmStorage(session_factory)
    await storage.set_state(KEY, "Intake:name")
    return storage


def _opener(uow: SqlUnitOfWork) -> InboxProcessedUpdates:
    """The unit of work's processed-updates records, which open updates."""
    assert isinstance(uow.updates, InboxProcessedUpdates)
    return uow.updates


async def test_the_opening_records_the_update_and_reads_what_the_middlewares_need(
    engine: AsyncEngine, fsm: SqlFsmStorage, new_uow: Callable[[], SqlUnitOfWork]
) -> None:

    with statements_starting(engine, "") as statements:
        async with new_uow() as uow:
            opening = await _opener(uow).open(1, DORA, storage_key(KEY))
            state = await fsm.get_state(KEY)
            await uow.commit()

    assert opening.new
    assert opening.roles == {Role.WAREHOUSE}
    assert opening.language == "zh"
    # The dialog state came with the opening: the FSM storage did not read it again.
    assert state == "Intake:name"
    # SQLite's BEGIN IMMEDIATE is a statement of the driver's; PostgreSQL's BEGIN is not seen here.
    round_trips = [statement for statement in statements if statement != "BEGIN IMMEDIATE"]
    assert len(round_trips) == (1 if engine.dialect.name == "postgresql" else 2), round_trips

    async with new_uow() as uow:
        again = await _opener(uow).open(1, DORA, storage_key(KEY))
    assert not again.new


async def test_a_stranger_has_no_roles_language_or_state(new_uow: Callable[[], SqlUnitOfWork]) -> None:
    async with new_uow() as uow:
        opening = await _opener(uow).open(2, 99, storage_key(StorageKey(bot_id=1, chat_id=99, user_id=99)))

    assert opening.new
    assert opening.roles == frozenset()
    assert opening.language is None


async def test_a_state_written_after_the_opening_is_read_as_written(
    fsm: SqlFsmStorage, new_uow: Callable[[], SqlUnitOfWork]
) -> None:

    async with new_uow() as uow:
        await _opener(uow).open(3, DORA, storage_key(KEY))
        await fsm.set_state(KEY, "Intake:phone")
        assert await fsm.get_state(KEY) == "Intake:phone"
        await uow.commit()

    # What the opening read serves every read until the storage writes; then the database answers.
    async with new_uow() as uow:
        await _opener(uow).open(4, DORA, storage_key(KEY))
        assert await fsm.get_state(KEY) == "Intake:phone"
        assert await fsm.get_state(KEY) == "Intake:phone"
        await fsm.set_state(KEY, None)
        assert await fsm.get_state(KEY) is None


async def test_the_dialog_data_comes_with_the_opening_and_a_write_is_read_back(
    engine: AsyncEngine, fsm: SqlFsmStorage, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    await fsm.set_data(KEY, {"name": "Li Wei"})

    with statements_starting(engine, "SELECT fsm_states") as reads:
        async with new_uow() as uow:
            await _opener(uow).open(5, DORA, storage_key(KEY))
            first = await fsm.get_data(KEY)
            first["phone"] = "changed by the caller"
            # aiogram's update_data reads, then writes; the copy handed out did not change what was read.
            assert await fsm.update_data(KEY, {"phone": "+86 138 0000 0000"}) == {
                "name": "Li Wei",
                "phone": "+86 138 0000 0000",
            }
            assert await fsm.get_data(KEY) == {"name": "Li Wei", "phone": "+86 138 0000 0000"}
            await uow.commit()

    assert first == {"name": "Li Wei", "phone": "changed by the caller"}
    # Only the read after the write went to the database (the opening is no SELECT of fsm_states alone).
    assert len(reads) == 1, reads
