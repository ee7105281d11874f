"""The database-backed aiogram FSM storage."""

from __future__ import annotations

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.fsm import SqlFsmStorage
from storage.models import FsmStateRow
from tests.fixtures import statements_starting


class PlaceOrder(StatesGroup):
    """Dialog steps used as sample states."""

    address = State()
    items = State()


ALICE = StorageKey(bot_id=1, chat_id=10, user_id=10)
BOB = StorageKey(bot_id=1, chat_id=20, user_id=20)


async def _rows(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Counts the stored keys."""
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(FsmStateRow)) or 0


async def test_state_and_data_are_kept_per_key(session_factory: async_sessionmaker[AsyncSession]) -> None:
    storage = SqlFsmStorage(session_factory)

    await storage.set_state(ALICE, PlaceOrder.address)
    await storage.set_data(ALICE, {"city": "Berlin", "items": [{"name": "Tea set", "quantity": 2}]})
    await storage.update_data(ALICE, {"postcode": "10117"})
    await storage.set_state(BOB, "PlaceOrder:items")

    fresh = SqlFsmStorage(session_factory)
    assert await fresh.get_state(ALICE) == PlaceOrder.address.state
    assert await fresh.get_data(ALICE) == {
        "city": "Berlin",
        "items": [{"name": "Tea set", "quantity": 2}],
        "postcode": "10117",
    }
    assert await fresh.get_value(ALICE, "city") == "Berlin"
    assert await fresh.get_state(BOB) == "PlaceOrder:items"
    assert await fresh.get_data(BOB) == {}
    assert await fresh.get_state(StorageKey(bot_id=1, chat_id=10, user_id=10, thread_id=5)) is None


async def test_a_finished_dialog_leaves_no_row(session_factory: async_sessionmaker[AsyncSession]) -> None:
    storage = SqlFsmStorage(session_factory)
    await storage.set_state(ALICE, PlaceOrder.items)
    await storage.set_data(ALICE, {"step": 2})
    assert await _rows(session_factory) == 1

    await storage.set_state(ALICE, None)
    assert await storage.get_data(ALICE) == {"step": 2}
    await storage.set_data(ALICE, {})

    assert await storage.get_state(ALICE) is None
    assert await _rows(session_factory) == 0


async def test_a_row_goes_only_once_both_state_and_data_are_cleared(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    storage = SqlFsmStorage(session_factory)
    await storage.set_data(ALICE, {"step": 1})
    await storage.set_state(ALICE, PlaceOrder.address)

    await storage.set_data(ALICE, {})
    assert await _rows(session_factory) == 1
    assert await storage.get_state(ALICE) == PlaceOrder.address.state

    await storage.set_state(ALICE, None)
    assert await _rows(session_factory) == 0


async def test_data_must_be_a_dict(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(DataNotDictLikeError):
        await SqlFsmStorage(session_factory).set_data(ALICE, [("a", 1)])  # type: ignore[arg-type]


async def test_set_dialog_writes_state_and_data_in_one_statement(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A wizard step's state and data are one upsert, read back as two calls would leave them (issue 17)."""
    storage = SqlFsmStorage(session_factory)
    await storage.set_state(ALICE, PlaceOrder.address)
    await storage.set_data(ALICE, {"step": 1, "city": "Berlin"})

    with statements_starting(engine, "INSERT") as inserts:
        await storage.set_dialog(ALICE, PlaceOrder.items, {"step": 2})
        await storage.set_dialog(BOB, "PlaceOrder:address", {"step": 1})
    assert len(inserts) == 2

    fresh = SqlFsmStorage(session_factory)
    assert await fresh.get_state(ALICE) == PlaceOrder.items.state
    assert await fresh.get_data(ALICE) == {"step": 2}
    assert await fresh.get_state(BOB) == "PlaceOrder:address"
    assert await fresh.get_data(BOB) == {"step": 1}


async def test_set_dialog_to_nothing_leaves_no_row(session_factory: async_sessionmaker[AsyncSession]) -> None:
    storage = SqlFsmStorage(session_factory)
    await storage.set_dialog(ALICE, PlaceOrder.items, {"step": 2})
    await storage.set_dialog(ALICE, None, {"step": 3})
    assert await storage.get_data(ALICE) == {"step": 3}
    assert await _rows(session_factory) == 1

    await storage.set_dialog(ALICE, None, {})
    assert await storage.get_state(ALICE) is None
    assert await _rows(session_factory) == 0


async def test_set_dialog_data_must_be_a_dict(session_factory: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(DataNotDictLikeError):
        await SqlFsmStorage(session_factory).set_dialog(ALICE, None, [("a", 1)])  # type: ignore[arg-type]
