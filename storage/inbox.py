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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import InboxUpdateRow, ProcessedUpdateRow
from storage.repositories import SqlProcessedUpdates, upsert

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


class InboxProcessedUpdates(SqlProcessedUpdates):
    """Records updates processed and settles their inbox rows, in the handler's transaction."""

    async def settle(self, update_id: int, replies: str | None) -> None:
        """Removes the update's inbox row, or keeps the replies still to send in it."""
        row = InboxUpdateRow.update_id == update_id
        if replies is None:
            await self._session.execute(delete(InboxUpdateRow).where(row))
        else:
            await self._session.execute(update(InboxUpdateRow).where(row).values(replies=replies))


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
            processed = set(
                (
                    await session.execute(
                        select(ProcessedUpdateRow.update_id).where(ProcessedUpdateRow.update_id.in_(by_id))
                    )
                ).scalars()
            )
            fresh = [entry for update_id, entry in sorted(by_id.items()) if update_id not in processed]
            stored: set[int] = set()
            if fresh:
                table: Table = InboxUpdateRow.__table__  # type: ignore[assignment]
                stmt = (
                    upsert(session, table)
                    .values(
                        [
                            # The first run is counted as the update is stored: this instance runs it now.
                            {
                                "update_id": e.update_id,
                                "payload": e.payload,
                                "received_at": at,
                                "attempts": 1,
                                "leased_until": at + self._lease,
                            }
                            for e in fresh
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["update_id"])
                    .returning(InboxUpdateRow.update_id)
                )
                stored = set((await session.execute(stmt)).scalars())
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
            await session.execute(delete(InboxUpdateRow).where(InboxUpdateRow.update_id.in_(update_ids)))
            await session.commit()


def _id(entry: InboxEntry) -> int:
    """Sort key: the update id."""
    return entry.update_id
