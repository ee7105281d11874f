"""The update inbox: Telegram updates stored as received, before Telegram is told they arrived.

A row lives from the moment its update is received until the update's processing is over; what
is left at a start was interrupted by a crash and is processed again (the processed-updates
record, written in the handler's own transaction, keeps a second run from changing anything
twice). Rows are deleted when done, so no message text is kept longer than needed.

Every method is one short transaction of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import InboxUpdateRow, ProcessedUpdateRow
from storage.repositories import upsert


@dataclass(frozen=True)
class InboxEntry:
    """A stored update: its id and its JSON as Telegram sent it."""

    update_id: int
    payload: str


class SqlUpdateInbox:
    """The inbox in the bot's database."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

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
                            {"update_id": e.update_id, "payload": e.payload, "received_at": at, "attempts": 0}
                            for e in fresh
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["update_id"])
                    .returning(InboxUpdateRow.update_id)
                )
                stored = set((await session.execute(stmt)).scalars())
            await session.commit()
        return [entry for entry in fresh if entry.update_id in stored]

    async def pending(self) -> list[InboxEntry]:
        """Lists the updates not processed yet, oldest first."""
        async with self._session_factory() as session:
            rows = await session.execute(
                select(InboxUpdateRow.update_id, InboxUpdateRow.payload).order_by(InboxUpdateRow.update_id)
            )
            return [InboxEntry(update_id, payload) for update_id, payload in rows]

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
        """Removes the update, its processing being over."""
        async with self._session_factory() as session:
            await session.execute(delete(InboxUpdateRow).where(InboxUpdateRow.update_id == update_id))
            await session.commit()
