"""The outbox as its sender sees it (claim, record the outcome) and the team chats it follows.

Claiming leases a message: it stays `pending` but its `next_attempt_at` moves to the end of the
lease, so no other sender takes it until the lease runs out; recording the outcome ends the lease.
On PostgreSQL the claim locks the rows it picks with `FOR UPDATE SKIP LOCKED`, so concurrent
senders never claim the same row; on SQLite every transaction holds the write lock from its start
(storage.database), which serialises the claims.

Only the oldest pending message of each chat can be claimed: a chat's messages go out in the
order they were committed, also across several sender processes and across retries.

Every method is one short transaction of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Update, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from application.ports import OutboxMessage
from storage.models import OutboxRow, TeamChatRow
from storage.repositories import SqlOutboxRepository, SqlUserRepository, record_from, table_of, upsert

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
BLOCKED = "blocked"

# Telegram's descriptions can be long; the column keeps what explains the failure.
_ERROR_LIMIT = 2000


def _is_chat_head() -> ColumnElement[bool]:
    """Holds for a pending message with no older pending message to the same chat."""
    older = aliased(OutboxRow)
    return ~exists().where(
        older.chat_id == OutboxRow.chat_id,
        older.state == PENDING,
        older.id < OutboxRow.id,
    )


def _to_message(row: OutboxRow) -> OutboxMessage:
    """Builds the port's message from its row (the params a copy the caller may change)."""
    return record_from(OutboxMessage, row, params=dict(row.params))


class SqlOutboxQueue:
    """Claims due outbox messages under a lease and records how each delivery ended."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[OutboxMessage]:
        """Leases up to `limit` due messages, at most one per chat, oldest first."""
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.state == PENDING, self._due(now), _is_chat_head())
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._session_factory() as session, session.begin():
            rows = (await session.scalars(stmt)).all()
            messages = [_to_message(row) for row in rows]
            if rows:
                ids = [row.id for row in rows]
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(ids)).values(next_attempt_at=lease_until)
                )
        return messages

    async def postpone(self, due_at: dict[int, datetime]) -> None:
        """Ends the leases of messages not attempted yet, making each due again at its given time."""
        if not due_at:
            return
        async with self._session_factory() as session, session.begin():
            for message_id, at in due_at.items():
                await session.execute(self._pending(message_id).values(next_attempt_at=at))

    async def mark_sent(self, message_id: int, telegram_message_id: int | None, at: datetime) -> None:
        """Records the delivery and the id Telegram gave the message."""
        await self._finish(
            message_id,
            state=SENT,
            sent_at=at,
            telegram_message_id=telegram_message_id,
            next_attempt_at=None,
        )

    async def mark_retry(self, message_id: int, next_attempt_at: datetime, error: str) -> None:
        """Records a failed attempt and when to try again."""
        await self._finish(message_id, state=PENDING, next_attempt_at=next_attempt_at, last_error=error)

    async def mark_blocked(self, message_id: int, error: str) -> None:
        """Gives the message up because the chat refuses the bot; a private chat's user is marked blocked."""
        async with self._session_factory() as session, session.begin():
            chat_id = await session.scalar(
                self._pending(message_id)
                .values(
                    state=BLOCKED,
                    attempts=OutboxRow.attempts + 1,
                    next_attempt_at=None,
                    last_error=error[:_ERROR_LIMIT],
                )
                .returning(OutboxRow.chat_id)
            )
            # A positive chat id is a private chat, whose id is the user's.
            if chat_id is not None and chat_id > 0:
                await SqlUserRepository(session).mark_blocked(chat_id)

    async def add(self, message: OutboxMessage) -> bool:
        """Queues a message the sender itself writes (a refusal's fallback), once per dedup key."""
        async with self._session_factory() as session, session.begin():
            return await SqlOutboxRepository(session).enqueue(message)

    async def mark_failed(self, message_id: int, error: str) -> None:
        """Gives the message up for good."""
        await self._finish(message_id, state=FAILED, next_attempt_at=None, last_error=error)

    async def move_chat(self, old_chat_id: int, new_chat_id: int, at: datetime) -> int:
        """Follows a group to its supergroup: team chats and pending messages; returns the messages moved."""
        async with self._session_factory() as session, session.begin():
            await session.execute(
                update(TeamChatRow)
                .where(TeamChatRow.chat_id == old_chat_id)
                .values(chat_id=new_chat_id, updated_at=at)
            )
            moved = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.chat_id == old_chat_id, OutboxRow.state == PENDING)
                .values(chat_id=new_chat_id)
                .returning(OutboxRow.id)
            )
            return len(moved.all())

    async def next_due(self) -> datetime | None:
        """Returns when the earliest claimable message is (or was) due, if any is pending."""
        # A row without a time is due at once: its creation time, not ignored by MIN (issue 17: the
        # sender idled a second after each round of a fresh backlog).
        due = func.coalesce(OutboxRow.next_attempt_at, OutboxRow.created_at)
        stmt = select(func.min(due)).where(OutboxRow.state == PENDING, _is_chat_head())
        async with self._session_factory() as session:
            return await session.scalar(stmt)

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
        """Holds for a message due at `now` (a row without a time is due at once)."""
        return OutboxRow.next_attempt_at.is_(None) | (OutboxRow.next_attempt_at <= now)

    @staticmethod
    def _pending(message_id: int) -> Update:
        """Starts an update of one message, provided nobody recorded its outcome before."""
        return update(OutboxRow).where(and_(OutboxRow.id == message_id, OutboxRow.state == PENDING))

    async def _finish(self, message_id: int, *, last_error: str | None = None, **values: object) -> None:
        """Records one attempt's outcome on a still pending message."""
        if last_error is not None:
            values["last_error"] = last_error[:_ERROR_LIMIT]
        async with self._session_factory() as session, session.begin():
            await session.execute(self._pending(message_id).values(attempts=OutboxRow.attempts + 1, **values))


class SqlTeamChats:
    """Role chats in the caller's transaction (a unit of work's session)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def seed(self, key: str, configured_chat_id: int, at: datetime) -> int:
        """Stores a configured chat; returns the id in use (a migrated id outlives an unchanged config)."""
        table = table_of(TeamChatRow)
        stmt = upsert(self._session, table).values(
            key=key, chat_id=configured_chat_id, configured_chat_id=configured_chat_id, updated_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "chat_id": stmt.excluded.chat_id,
                "configured_chat_id": stmt.excluded.configured_chat_id,
                "updated_at": stmt.excluded.updated_at,
            },
            where=table.c.configured_chat_id != stmt.excluded.configured_chat_id,
        )
        await self._session.execute(stmt)
        stored = select(TeamChatRow.chat_id).where(TeamChatRow.key == key)
        chat_id: int = (await self._session.execute(stored)).scalar_one()
        return chat_id

    async def chat_of(self, key: str) -> int | None:
        """Returns the chat id a department's messages go to, if it has one."""
        return await self._session.scalar(select(TeamChatRow.chat_id).where(TeamChatRow.key == key))

    async def all(self) -> dict[str, int]:
        """Returns every department's chat id by key."""
        rows = await self._session.execute(select(TeamChatRow.key, TeamChatRow.chat_id))
        return {key: chat_id for key, chat_id in rows}
