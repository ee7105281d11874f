"""The update inbox: Telegram updates stored as received, before Telegram is told they arrived.

A row lives from the moment its update is received until the update's processing is over; what
is left at a start was interrupted by a crash and is processed again (the processed-updates
record, written in the handler's own transaction, keeps a second run from changing anything
twice). Rows are deleted when done, so no message text is kept longer than needed.

Several instances may share the inbox (issue 17): the instance that stores an update holds it
under a lease (`leased_until`) and processes it; an update whose lease ran out (its instance died)
is taken over by another (`reclaim`). The handler's transaction settles the row together with
recording the update processed (`InboxProcessedUpdates.settle`): it removes the row, or keeps the
replies to send in it until they are sent (`done`), so that a crash in between sends them at the
next start.

Every method is one short transaction of its own (`done` may serve several updates in one).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Executable,
    String,
    bindparam,
    delete,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.orders.status import Role
from storage.direct import DirectStatement, run_direct
from storage.models import FsmStateRow, InboxUpdateRow, ProcessedUpdateRow, StaffRoleRow, UserRow, utcnow
from storage.repositories import (
    PREFETCHED_STATES,
    SqlProcessedUpdates,
    mark_processed,
    table_of,
    upsert_in,
)

_NEW, _ROLE, _LANGUAGE, _STATE = "new", "role", "language", "state"


@functools.cache
def _opening(dialect: str, with_state: bool) -> Executable:
    """The read at an update's start, as (kind, value, dialog data) rows; on PostgreSQL it records it too."""
    # Table columns, not mapped attributes: a statement of plain columns skips the ORM's compile
    # and result steps at execution, which cost every update ~3 % of its CPU (issue 17).
    roles, users, states = table_of(StaffRoleRow).c, table_of(UserRow).c, table_of(FsmStateRow).c
    user: BindParameter[int] = bindparam("user_id")
    no_data = literal(None, states.data.type)
    branches = [
        select(literal(_ROLE, String()), roles.role, no_data).where(roles.user_id == user),
        select(literal(_LANGUAGE, String()), users.language, no_data).where(users.id == user),
    ]
    if with_state:
        dialog = select(literal(_STATE, String()), states.state, states.data)
        branches.append(dialog.where(states.key == bindparam("key")))
    if dialect == "postgresql":
        marked = mark_processed(dialect).cte("marked")
        new = select(literal(_NEW, String()), literal(None, String()), no_data).select_from(marked)
        branches.insert(0, new)
    opening: CompoundSelect[Any] = union_all(*branches)
    return opening


_INBOX = table_of(InboxUpdateRow)
# Run at the end of every update: built once, on the table rather than the mapped class, so that
# the ORM neither compiles them nor looks for loaded rows to synchronise (issue 17: that cost a
# /start ~10 % of its CPU; no inbox row is ever loaded as an object).
# (An UPDATE's parameters may not be named like its table's columns.)
_REMOVE_ROW = delete(_INBOX).where(_INBOX.c.update_id == bindparam("settled"))
_KEEP_REPLIES = (
    update(_INBOX).where(_INBOX.c.update_id == bindparam("settled")).values(replies=bindparam("kept"))
)
_REMOVE_ROWS = delete(_INBOX).where(_INBOX.c.update_id.in_(bindparam("finished", expanding=True)))
# Run straight on the SQLite connection (storage.direct); elsewhere through the session.
_REMOVE_ROW_DIRECT = DirectStatement(_REMOVE_ROW)
_KEEP_REPLIES_DIRECT = DirectStatement(_KEEP_REPLIES)
_MARK_DIRECT = DirectStatement(mark_processed("sqlite"))


@functools.cache
def _opening_direct(with_state: bool) -> DirectStatement:
    """The opening read on SQLite, to run straight on its connection."""
    return DirectStatement(_opening("sqlite", with_state))


_PROCESSED_AMONG = select(table_of(ProcessedUpdateRow).c.update_id).where(
    table_of(ProcessedUpdateRow).c.update_id.in_(bindparam("received", expanding=True))
)


@functools.cache
def _store(dialect: str) -> Executable:
    """The insert of received updates, skipping those already stored, returning the ids it stored.

    Built once and run with a list of rows (SQLAlchemy's "insertmanyvalues" batches them): one
    multi-row VALUES statement was a new statement to compile for every batch size, which cost
    each update on SQLite as much as its handler's database work (issue 17).
    """
    return (
        upsert_in(dialect, _INBOX)
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(_INBOX.c.update_id)
    )


# How long an instance holds an update it took before another instance may take it over.
DEFAULT_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class InboxEntry:
    """A stored update: its id, its JSON as Telegram sent it, and its processing runs counted so far.

    runs is 0 for an update whose next run is not counted yet (inbox.begin counts it). replies is
    set once a run has committed: what is left to do is sending them.
    """

    update_id: int
    payload: str
    runs: int = 0
    replies: str | None = None


@dataclass(frozen=True)
class UpdateOpening:
    """What an update's first statement found: whether it is new, the sender's roles and saved language."""

    new: bool
    roles: frozenset[Role]
    language: str | None


class InboxProcessedUpdates(SqlProcessedUpdates):
    """Records updates processed and settles their inbox rows, in the handler's transaction."""

    async def open(self, update_id: int, user_id: int, state_key: str | None) -> UpdateOpening:
        """Records the update and reads its sender's roles, language and dialog, in one round trip.

        One statement on PostgreSQL (the insert as a CTE); two on SQLite, which has no DML in a CTE.
        The dialog's state and data (state_key: the flat FSM key, None when dialogs are kept
        elsewhere) are left in the session for the FSM storage (PREFETCHED_STATES).
        """
        dialect = self._session.get_bind().dialect.name
        params: dict[str, Any] = {"update_id": update_id, "processed_at": utcnow(), "user_id": user_id}
        if state_key is not None:
            params["key"] = state_key
        new = False
        if dialect == "postgresql":
            rows: Sequence[Any] = (
                await self._session.execute(_opening(dialect, state_key is not None), params)
            ).all()
        else:
            new = bool(await run_direct(self._session, _MARK_DIRECT, params))
            rows = await run_direct(self._session, _opening_direct(state_key is not None), params)
        roles: set[Role] = set()
        language: str | None = None
        dialog: tuple[str | None, dict[str, Any] | None] = (None, None)
        for kind, value, data in rows:
            if kind == _NEW:
                new = True
            elif kind == _ROLE:
                roles.add(Role(value))
            elif kind == _LANGUAGE:
                language = value
            else:
                dialog = (value, data)
        if state_key is not None:
            self._session.info.setdefault(PREFETCHED_STATES, {})[state_key] = dialog
        return UpdateOpening(new, frozenset(roles), language)

    async def settle(self, update_id: int, replies: str | None) -> None:
        """Removes the update's inbox row, or keeps the replies still to send in it."""
        if replies is None:
            await run_direct(self._session, _REMOVE_ROW_DIRECT, {"settled": update_id})
        else:
            await run_direct(self._session, _KEEP_REPLIES_DIRECT, {"settled": update_id, "kept": replies})


class SqlUpdateInbox:
    """The inbox in the bot's database."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self._session_factory = session_factory
        self._lease = lease
        self._removing = asyncio.Lock()
        self._finished: list[int] = []
        self._next_removal: asyncio.Future[None] | None = None

    async def store(self, updates: Sequence[InboxEntry], at: datetime) -> list[InboxEntry]:
        """Stores the updates in one transaction; returns those new to the inbox, oldest first.

        An update already in the inbox, or already processed (a redelivery), is not stored again.
        """
        if not updates:
            return []
        by_id = {entry.update_id: entry for entry in updates}
        async with self._session_factory() as session:
            processed = set((await session.execute(_PROCESSED_AMONG, {"received": list(by_id)})).scalars())
            fresh = [entry for update_id, entry in sorted(by_id.items()) if update_id not in processed]
            stored: set[int] = set()
            if fresh:
                # The first run is counted as the update is stored: this instance runs it now.
                rows = [
                    {
                        "update_id": e.update_id,
                        "payload": e.payload,
                        "received_at": at,
                        "attempts": 1,
                        "leased_until": at + self._lease,
                    }
                    for e in fresh
                ]
                stored = set((await session.execute(_store(session.get_bind().dialect.name), rows)).scalars())
            await session.commit()
        return [InboxEntry(e.update_id, e.payload, runs=1) for e in fresh if e.update_id in stored]

    async def pending(self) -> list[InboxEntry]:
        """Lists the updates not processed yet, oldest first."""
        async with self._session_factory() as session:
            rows = await session.execute(
                select(InboxUpdateRow.update_id, InboxUpdateRow.payload, InboxUpdateRow.replies).order_by(
                    InboxUpdateRow.update_id
                )
            )
            return [InboxEntry(update_id, payload, replies=replies) for update_id, payload, replies in rows]

    async def reclaim(self, now: datetime, limit: int = 100) -> list[InboxEntry]:
        """Takes over updates whose lease ran out (their instance died), counting a run of each."""
        expired = (
            select(InboxUpdateRow.update_id)
            .where(InboxUpdateRow.leased_until < now)
            .order_by(InboxUpdateRow.update_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._session_factory() as session:
            stmt = (
                update(InboxUpdateRow)
                .where(InboxUpdateRow.update_id.in_(expired.scalar_subquery()))
                .values(attempts=InboxUpdateRow.attempts + 1, leased_until=now + self._lease)
                .returning(
                    InboxUpdateRow.update_id,
                    InboxUpdateRow.payload,
                    InboxUpdateRow.attempts,
                    InboxUpdateRow.replies,
                )
            )
            rows = (await session.execute(stmt)).all()
            await session.commit()
        return sorted((InboxEntry(*row) for row in rows), key=_id)

    async def begin(self, update_id: int) -> int:
        """Counts a processing run of the update; returns the runs so far (0 if it is not in the inbox)."""
        async with self._session_factory() as session:
            stmt = (
                update(InboxUpdateRow)
                .where(InboxUpdateRow.update_id == update_id)
                .values(attempts=InboxUpdateRow.attempts + 1)
                .returning(InboxUpdateRow.attempts)
            )
            attempts = (await session.execute(stmt)).scalar_one_or_none()
            await session.commit()
        return attempts or 0

    async def done(self, update_id: int) -> None:
        """Removes the update, its processing being over; raises if its removal did not commit.

        Updates that finish while a removal is under way go together in the next one (one
        transaction for many, issue 17): none waits longer than the removal ahead of it.
        """
        if self._next_removal is None:
            self._next_removal = asyncio.get_running_loop().create_future()
        removal = self._next_removal
        self._finished.append(update_id)
        async with self._removing:
            if not removal.done():
                finished, self._finished, self._next_removal = self._finished, [], None
                try:
                    await self._remove(finished)
                except BaseException as error:
                    # The rows stay: their updates' replies go again at the next start, as after a crash.
                    removal.set_exception(RuntimeError(f"inbox rows not removed ({type(error).__name__})"))
                    # Marked as seen: the updates waiting on it see it, this one raises its own error.
                    removal.exception()
                    raise
                removal.set_result(None)
        await removal

    async def _remove(self, update_ids: list[int]) -> None:
        """Deletes the updates' rows in one transaction."""
        async with self._session_factory() as session:
            await session.execute(_REMOVE_ROWS, {"finished": update_ids})
            await session.commit()


def _id(entry: InboxEntry) -> int:
    """Sort key: the update id."""
    return entry.update_id
