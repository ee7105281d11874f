"""aiogram FSM storage in the fsm_states table, so dialogs survive a restart.

Each call runs in its own short transaction. On SQLite every transaction takes the write lock
(BEGIN IMMEDIATE), so awaiting an FSM call while a unit of work of the same process has written
and not yet committed waits out busy_timeout and fails: set FSM state before opening, or after
committing, the unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmStateRow, utcnow
from storage.repositories import upsert


def storage_key(key: StorageKey) -> str:
    """Flattens an aiogram storage key into the table's primary key."""
    return ":".join(
        str(part) if part is not None else ""
        for part in (
            key.bot_id,
            key.chat_id,
            key.user_id,
            key.thread_id,
            key.business_connection_id,
            key.destiny,
        )
    )


class SqlFsmStorage(BaseStorage):
    """FSM states and data kept in the database."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Stores the dialog state of the key (None clears it)."""
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        """Returns the dialog state of the key."""
        async with self._session_factory() as session:
            return await session.scalar(select(FsmStateRow.state).where(FsmStateRow.key == storage_key(key)))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replaces the dialog data of the key."""
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """Returns a copy of the dialog data of the key."""
        async with self._session_factory() as session:
            data = await session.scalar(select(FsmStateRow.data).where(FsmStateRow.key == storage_key(key)))
        return dict(data or {})

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the composition root."""

    async def _write(self, key: StorageKey, **values: Any) -> None:
        """Creates or updates the key's row, and removes it once it holds neither state nor data."""
        table = FsmStateRow.__table__
        flat = storage_key(key)
        async with self._session_factory() as session, session.begin():
            stmt = upsert(session, table).values(key=flat, state=None, data={}, updated_at=utcnow())
            stmt = stmt.values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    **{name: stmt.excluded[name] for name in values},
                    "updated_at": stmt.excluded.updated_at,
                },
            )
            await session.execute(stmt)
            # An idle conversation leaves no row behind.
            await session.execute(
                delete(table).where(table.c.key == flat, table.c.state.is_(None), table.c.data == {})
            )
