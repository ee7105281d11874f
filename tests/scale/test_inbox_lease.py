"""The shared inbox (issue 17): an update is leased to the instance that stored it, then taken over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.database import create_engine, create_session_factory, migrate
from storage.inbox import InboxEntry, InboxProcessedUpdates, SqlUpdateInbox
from storage.uow import SqlUnitOfWork

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
LEASE = timedelta(seconds=10)


async def test_an_update_is_taken_over_only_once_its_lease_has_run_out(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        inbox = SqlUpdateInbox(create_session_factory(engine), lease=LEASE)
        stored = await inbox.store([InboxEntry(7, '{"update_id": 7}')], NOW)

        assert stored == [InboxEntry(7, '{"update_id": 7}', runs=1)]
        assert await inbox.reclaim(NOW + LEASE - timedelta(seconds=1)) == []
        taken = await inbox.reclaim(NOW + LEASE + timedelta(seconds=1))
        assert taken == [InboxEntry(7, '{"update_id": 7}', runs=2)]
        # The new holder has a lease of its own.
        assert await inbox.reclaim(NOW + LEASE + timedelta(seconds=2)) == []
    finally:
        await engine.dispose()


async def test_a_committed_run_keeps_its_replies_in_the_row_until_done(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        sessions = create_session_factory(engine)
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
    finally:
        await engine.dispose()
