"""aiogram FSM storage in the fsm_states table, so dialogs survive a restart.

Inside an update the middleware has a unit of work open; the storage then reads and writes in
that unit of work's session, so the dialog state is committed (or rolled back) with the update's
changes. That is also what keeps SQLite working: every SQLite transaction takes the write lock
(BEGIN IMMEDIATE), and a second session of the same task would wait for it until busy_timeout.
Outside a unit of work (aiogram reads the state before the middleware opens one) each call runs
in its own short transaction.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import Executable, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.direct import DirectStatement, run_direct
from storage.models import FsmStateRow, utcnow
from storage.repositories import PREFETCHED_STATES, table_of, upsert_in
from storage.uow import active_session

_FSM_TABLE = table_of(FsmStateRow)
# Read on every update without a prefetched dialog: built once, of plain columns (issue 17).
_STATE_OF = select(_FSM_TABLE.c.state).where(_FSM_TABLE.c.key == bindparam("key"))
_DATA_OF = select(_FSM_TABLE.c.data).where(_FSM_TABLE.c.key == bindparam("key"))


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
        await self._write(key, {"state": _state_name(state)})

    async def get_state(self, key: StorageKey) -> str | None:
        """Returns the dialog state of the key (as the update's opening statement read it, if it did)."""
        flat = storage_key(key)
        async with self._session() as session:
            prefetched = session.info.get(PREFETCHED_STATES, {}).get(flat)
            if prefetched is not None:
                state: str | None = prefetched[0]
                return state
            return await session.scalar(_STATE_OF, {"key": flat})

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replaces the dialog data of the key."""
        await self._write(key, {"data": _checked_data(data)})

    async def set_dialog(self, key: StorageKey, state: StateType, data: Mapping[str, Any]) -> None:
        """Stores the key's dialog state and data in one upsert (aiogram's FSMContext writes them in two)."""
        await self._write(key, {"state": _state_name(state), "data": _checked_data(data)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """Returns a copy of the dialog data of the key."""
        flat = storage_key(key)
        async with self._session() as session:
            prefetched = session.info.get(PREFETCHED_STATES, {}).get(flat)
            data = prefetched[1] if prefetched is not None else await session.scalar(_DATA_OF, {"key": flat})
        return dict(data or {})

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the composition root."""

    @asynccontextmanager
    async def _session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """Yields the open unit of work's session on this database, else a session of its own.

        A session of its own commits a write at the end; the unit of work's session is committed
        by its owner, together with the rest of the update.
        """
        joined = active_session()
        if joined is not None and joined.bind is self._session_factory.kw.get("bind"):
            yield joined
            return
        async with self._session_factory() as session:
            if not write:
                yield session
                return
            async with session.begin():
                yield session

    async def _write(self, key: StorageKey, values: dict[str, Any]) -> None:
        """Writes the key's state or data column (or both), and removes the row once it holds neither."""
        flat = storage_key(key)
        async with self._session(write=True) as session:
            # What the update's opening read holds until the storage writes (nothing else writes in it).
            session.info.get(PREFETCHED_STATES, {}).pop(flat, None)
            dialect = session.get_bind().dialect.name
            columns = tuple(values)
            params = {"key": flat, "at": utcnow(), **values}
            if dialect == "sqlite":
                await run_direct(session, _direct_upsert_of(columns), params)
            else:
                await session.execute(_upsert_of(dialect, columns), params)
            if not all(values.values()):
                # An idle conversation leaves no row behind; a state or data just written keeps it.
                await run_direct(session, _REMOVE_IDLE_DIRECT, {"key": flat})


def _state_name(state: StateType) -> str | None:
    """The stored name of a dialog state (None clears it)."""
    return state.state if isinstance(state, State) else state


def _checked_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of dialog data to store, refused as aiogram refuses what is not a dict."""
    if not isinstance(data, dict):
        raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
    return dict(data)


_REMOVE_IDLE = delete(_FSM_TABLE).where(
    _FSM_TABLE.c.key == bindparam("key"), _FSM_TABLE.c.state.is_(None), _FSM_TABLE.c.data == {}
)


_REMOVE_IDLE_DIRECT = DirectStatement(_REMOVE_IDLE)


@functools.cache
def _direct_upsert_of(columns: tuple[str, ...]) -> DirectStatement:
    """The write of some columns on SQLite, to run straight on its connection (storage.direct)."""
    return DirectStatement(_upsert_of("sqlite", columns))


@functools.cache
def _upsert_of(dialect: str, columns: tuple[str, ...]) -> Executable:
    """The write of some columns (state, data) of a key's row, built once per SQL dialect (issue 17)."""
    table = _FSM_TABLE
    fresh: dict[str, Any] = {"state": None, "data": {}}
    stmt = upsert_in(dialect, table).values(
        key=bindparam("key"),
        updated_at=bindparam("at", type_=table.c.updated_at.type),
        **{name: value for name, value in fresh.items() if name not in columns},
        **{column: bindparam(column, type_=table.c[column].type) for column in columns},
    )
    written = {column: stmt.excluded[column] for column in columns}
    return stmt.on_conflict_do_update(
        index_elements=[table.c.key], set_={**written, "updated_at": stmt.excluded.updated_at}
    )
