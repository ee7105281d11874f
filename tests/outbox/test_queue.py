"""The SQL outbox queue on SQLite and PostgreSQL: claims under a lease, outcomes, chat moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import OutboxMessage
from storage.models import OutboxRow, UserRow
from storage.outbox_queue import SqlOutboxQueue, SqlTeamChats
from storage.uow import SqlUnitOfWork
from tests.outbox.conftest import T0

NewUow = Callable[[], SqlUnitOfWork]
LEASE = timedelta(minutes=3)


def message(chat_id: int, text: str, *, at: datetime = T0, dedup_key: str | None = None) -> OutboxMessage:
    """Makes a sendMessage to a chat."""
    return OutboxMessage(
        chat_id=chat_id, method="sendMessage", params={"text": text}, created_at=at, dedup_key=dedup_key
    )


async def enqueue(new_uow: NewUow, *messages: OutboxMessage) -> list[int]:
    """Commits the messages to the outbox and returns their ids."""
    async with new_uow() as uow:
        for item in messages:
            await uow.outbox.enqueue(item)
        await uow.commit()
    return [item.id for item in messages if item.id is not None]


async def rows(session_factory: async_sessionmaker[AsyncSession]) -> dict[int, OutboxRow]:
    """Reads every outbox row by id."""
    async with session_factory() as session:
        return {row.id: row for row in (await session.scalars(select(OutboxRow))).all()}


async def test_a_claim_leases_the_oldest_message_of_each_chat_until_the_lease_runs_out(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    first, second, other, future = await enqueue(
        new_uow,
        message(1, "first"),
        message(1, "second"),
        message(2, "other"),
        message(3, "later", at=T0 + timedelta(minutes=1)),
    )

    claimed = await queue.claim_due(T0, 10, T0 + LEASE)

    assert [item.id for item in claimed] == [first, other]
    assert claimed[0].params == {"text": "first"} and claimed[0].chat_id == 1
    # Leased messages block their chat; the chat's next message waits behind them.
    assert await queue.claim_due(T0 + timedelta(seconds=30), 10, T0 + LEASE) == []
    assert await queue.next_due() == T0 + timedelta(minutes=1)
    later = await queue.claim_due(T0 + timedelta(minutes=1), 10, T0 + LEASE)
    assert [item.id for item in later] == [future]
    # A sender that died leaves its lease to run out; then its messages are due again.
    again = await queue.claim_due(T0 + LEASE, 10, T0 + 2 * LEASE)
    assert [item.id for item in again] == [first, other, future]
    assert second not in [item.id for item in again]


async def test_outcomes_are_recorded_once_and_release_the_chat(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    first, second, third = await enqueue(new_uow, message(1, "a"), message(1, "b"), message(2, "c"))
    await queue.claim_due(T0, 10, T0 + LEASE)

    await queue.mark_sent(first, 501, T0 + timedelta(seconds=1))
    await queue.mark_retry(third, T0 + timedelta(seconds=30), "Telegram server says - Too Many Requests")
    # A late outcome from a sender whose lease ran out changes nothing any more.
    await queue.mark_failed(first, "late")

    stored = await rows(session_factory)
    assert (stored[first].state, stored[first].telegram_message_id, stored[first].attempts) == (
        "sent",
        501,
        1,
    )
    assert stored[first].sent_at == T0 + timedelta(seconds=1) and stored[first].last_error is None
    assert (stored[third].state, stored[third].attempts) == ("pending", 1)
    assert stored[third].next_attempt_at == T0 + timedelta(seconds=30)
    error = stored[third].last_error
    assert error is not None and "Too Many Requests" in error
    claimed = await queue.claim_due(T0 + timedelta(seconds=2), 10, T0 + LEASE)
    assert [item.id for item in claimed] == [second]
    assert [item.id for item in await queue.claim_due(T0 + timedelta(seconds=30), 10, T0 + LEASE)] == [third]


async def test_postponing_ends_the_lease_without_counting_an_attempt(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    (only,) = await enqueue(new_uow, message(-100, "card"))
    await queue.claim_due(T0, 10, T0 + LEASE)

    await queue.postpone({only: T0 + timedelta(seconds=3)})

    assert await queue.next_due() == T0 + timedelta(seconds=3)
    assert await queue.claim_due(T0 + timedelta(seconds=2), 10, T0 + LEASE) == []
    (claimed,) = await queue.claim_due(T0 + timedelta(seconds=3), 10, T0 + LEASE)
    assert claimed.id == only and claimed.attempts == 0


async def test_a_blocked_private_chat_marks_its_user_but_a_group_marks_no_one(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    private, group = await enqueue(new_uow, message(4242, "hi"), message(-100, "card"))
    await queue.claim_due(T0, 10, T0 + LEASE)

    await queue.mark_blocked(private, "Forbidden: bot was blocked by the user")
    await queue.mark_blocked(group, "Forbidden: bot was kicked from the group chat")

    stored = await rows(session_factory)
    assert stored[private].state == stored[group].state == "blocked"
    async with session_factory() as session:
        users = {row.id: row.blocked for row in (await session.scalars(select(UserRow))).all()}
    assert users == {4242: True}


async def test_a_repeated_dedup_key_is_queued_once(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    await enqueue(new_uow, message(1, "breach", dedup_key="sla:o-1:pick:breach"))
    await enqueue(new_uow, message(1, "breach again", dedup_key="sla:o-1:pick:breach"))

    claimed = await queue.claim_due(T0, 10, T0 + LEASE)

    assert [item.params["text"] for item in claimed] == ["breach"]
    assert len(await rows(session_factory)) == 1


async def test_moving_a_chat_moves_its_team_chats_and_pending_messages_only(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    queue = SqlOutboxQueue(session_factory)
    async with new_uow() as uow:
        chats = SqlTeamChats(uow.session)
        await chats.seed("warehouse", -100, T0)
        await chats.seed("logistics", -100, T0)
        await chats.seed("finance", -200, T0)
        await uow.commit()
    sent, pending, elsewhere = await enqueue(
        new_uow, message(-100, "a"), message(-100, "b"), message(-200, "c")
    )
    await queue.claim_due(T0, 10, T0 + LEASE)
    await queue.mark_sent(sent, 1, T0)

    assert await queue.move_chat(-100, -1001234, T0) == 1

    stored = await rows(session_factory)
    assert (stored[sent].chat_id, stored[pending].chat_id, stored[elsewhere].chat_id) == (
        -100,
        -1001234,
        -200,
    )
    async with new_uow() as uow:
        assert await SqlTeamChats(uow.session).all() == {
            "warehouse": -1001234,
            "logistics": -1001234,
            "finance": -200,
        }


async def test_seeding_keeps_a_migrated_chat_until_the_configuration_changes(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        assert await SqlTeamChats(uow.session).seed("warehouse", -100, T0) == -100
        await uow.commit()
    await SqlOutboxQueue(uow_session_factory(new_uow)).move_chat(-100, -1001234, T0)

    async with new_uow() as uow:
        chats = SqlTeamChats(uow.session)
        assert await chats.seed("warehouse", -100, T0) == -1001234
        assert await chats.chat_of("warehouse") == -1001234
        assert await chats.seed("warehouse", -300, T0) == -300
        assert await chats.chat_of("customer_service") is None
        await uow.commit()


def uow_session_factory(new_uow: NewUow) -> async_sessionmaker[AsyncSession]:
    """Returns the session factory a unit of work opens its sessions from."""
    factory: async_sessionmaker[AsyncSession] = new_uow()._session_factory
    return factory


async def test_concurrent_claimers_never_get_the_same_message(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await enqueue(new_uow, *(message(chat, f"m{chat}") for chat in range(1, 201)))
    queues = [SqlOutboxQueue(session_factory) for _ in range(4)]

    batches = await asyncio.gather(*(queue.claim_due(T0, 60, T0 + LEASE) for queue in queues))

    ids = [item.id for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 200


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_claim_skips_rows_another_claimer_holds_locked_without_waiting(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await enqueue(new_uow, *(message(chat, f"m{chat}") for chat in range(1, 7)))
    queue = SqlOutboxQueue(session_factory)
    async with session_factory() as holder, holder.begin():
        # Another sender is in the middle of its claim of the first three messages.
        locked = select(OutboxRow).where(OutboxRow.id.in_(ids[:3])).with_for_update()
        await holder.execute(locked)

        claimed = await asyncio.wait_for(queue.claim_due(T0, 10, T0 + LEASE), timeout=5)

    assert [item.id for item in claimed] == ids[3:]


async def test_a_message_without_an_attempt_time_counts_as_due_at_its_creation(
    new_uow: NewUow, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # A message moved to a supergroup (or bulk-loaded) has no attempt time: it is due at once, and
    # the sender must not idle before the next round because MIN skipped it (issue 17).
    queue = SqlOutboxQueue(session_factory)
    (moved,) = await enqueue(new_uow, message(1, "moved"))
    async with session_factory() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.id == moved).values(next_attempt_at=None))

    assert await queue.next_due() == T0
