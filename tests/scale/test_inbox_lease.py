"""The shared inbox (issue 17): an update is leased to the instance that stored it, then taken over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.inbox import InboxEntry, InboxProcessedUpdates, SqlUpdateInbox
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import migrated_sqlite

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
LEASE = timedelta(seconds=10)
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    """A migrated SQLite database."""
    async with migrated_sqlite(tmp_path / "bot.sqlite3") as sessions:
        yield sessions


async def test_an_update_is_taken_over_only_once_its_lease_has_run_out(sessions: Sessions) -> None:
    inbox = SqlUpdateInbox(sessions, lease=LEASE)
    stored = await inbox.store([InboxEntry(7, '{"update_id": 7}')], NOW)

    assert stored == [InboxEntry(7, '{"update_id": 7}', runs=1)]
    assert await inbox.reclaim(NOW + LEASE - timedelta(seconds=1)) == []
    taken = await inbox.reclaim(NOW + LEASE + timedelta(seconds=1))
    assert taken == [InboxEntry(7, '{"update_id": 7}', runs=2)]
    # The new holder has a lease of its own.
    assert await inbox.reclaim(NOW + LEASE + timedelta(seconds=2)) == []


async def test_a_committed_run_keeps_its_replies_in_the_row_until_done(sessions: Sessions) -> None:
    inbox = SqlUpdateInbox(sessions, lease=LEASE)
    await inbox.store([InboxEntry(8, "{}"), InboxEntry(9, "{}")], NOW)
    async with SqlUnitOfWork(sessions) as uow:
        assert await uow.updates.mark(8)
        assert await uow.updates.mark(9)
        assert isinstance(uow.updates, InboxProcessedUpdates)
        await uow.updates.settle(8, '[{"method": "SendMessage", "params": {"chat_id": 1, "text": "hi"}}]')
        await uow.updates.settle(9, None)
        await uow.commit()

    pending = await inbox.pending()
    assert [(entry.update_id, entry.replies is not None) for entry in pending] == [(8, True)]
    await inbox.done(8)
    assert await inbox.pending() == []
