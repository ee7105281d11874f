"""End to end (issue 5): the outbox sender is killed mid-run and restarted; nothing committed is lost.

The bound under test (scheduler/outbox_sender.py): a message counts as delivered once its `sent` state
commits. A sender keeps at most IN_FLIGHT requests under way, each to another chat (issue 17), so when
its process dies at most that many messages have been accepted by Telegram without that commit - the
ones in flight, one per chat - and only those are sent again after the restart, once their lease
(OUTBOX_LEASE_SECONDS) runs out. Every other committed message is sent exactly once, in commit order
per chat.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from application.ports import OutboxMessage
from sandbox.server import FakeBotApi
from scheduler.outbox_sender import IN_FLIGHT
from storage.database import create_engine, create_session_factory, migrate
from storage.models import OutboxRow
from storage.outbox_queue import SENT
from storage.uow import SqlUnitOfWork
from tests.e2e.conftest import BotProcess

pytestmark = pytest.mark.e2e

StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]

CHATS = 10
MESSAGES = 300
KILL_AFTER = 30
LEASE_SECONDS = 5
MARKER = re.compile(r"^crash-test #(\d{3})$")


def database_url(tmp_path: Path) -> str:
    """The database the start_bot fixture gives the bot process."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


async def commit_messages(url: str, chat_ids: list[int]) -> None:
    """Commits MESSAGES sendMessage rows, round robin over the chats, each text carrying its number."""
    engine = create_engine(url)
    try:
        now = datetime.now(UTC)
        async with SqlUnitOfWork(create_session_factory(engine)) as uow:
            for number in range(MESSAGES):
                await uow.outbox.enqueue(
                    OutboxMessage(
                        chat_id=chat_ids[number % len(chat_ids)],
                        method="sendMessage",
                        params={"text": f"crash-test #{number:03d}"},
                        created_at=now,
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()


async def outbox_states(url: str) -> Counter[str]:
    """Counts the outbox rows per state, and those without a Telegram message id under `no id`."""
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(select(OutboxRow.state, OutboxRow.telegram_message_id))).all()
    finally:
        await engine.dispose()
    states = Counter(state for state, _ in rows)
    states["no id"] = sum(1 for _, message_id in rows if message_id is None)
    return states


def delivered(telegram: FakeBotApi) -> list[tuple[int, int]]:
    """The (chat id, message number) of every test message Telegram accepted, in the order accepted."""
    found = []
    for output in telegram.outputs:
        match = MARKER.match(output.message.get("text", ""))
        if output.kind == "sent" and match:
            found.append((output.chat_id, int(match[1])))
    return found


async def wait_for_message(telegram: FakeBotApi, chat_id: int, number: int, within: float) -> None:
    """Waits until Telegram has accepted the test message with this number in the chat."""
    text = f"crash-test #{number:03d}"
    await telegram.wait_for_bot_output(chat_id, lambda m: m.get("text") == text, within, ("sent",))


async def test_a_killed_sender_delivers_everything_after_a_restart_with_only_its_in_flight_duplicated(
    telegram: FakeBotApi, start_bot: StartBot, tmp_path: Path
) -> None:
    url = database_url(tmp_path)
    await migrate(url)
    users = [telegram.create_user(f"Customer {index}") for index in range(CHATS)]
    await commit_messages(url, [user.id for user in users])
    # Each answer comes late, so the kill most likely falls between Telegram's acceptance and the answer.
    telegram.answer_delay = 0.05
    settings = {"OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS), "LOG_LEVEL": "INFO"}

    first = await start_bot(**settings)
    # Each chat's messages go out in commit order, so the arrival of this one means the earlier arrived.
    await wait_for_message(telegram, users[(KILL_AFTER - 1) % CHATS].id, KILL_AFTER - 1, within=60)
    first.process.kill()
    await asyncio.wait_for(first.process.wait(), timeout=10)
    before_restart = delivered(telegram)
    assert len(before_restart) < MESSAGES, "the sender finished before the kill; nothing was tested"

    await start_bot(**settings)
    for number in range(MESSAGES - CHATS, MESSAGES):
        await wait_for_message(telegram, users[number % CHATS].id, number, within=120)
    # A duplicate is sent only after the lease; give a late one the chance to show.
    await asyncio.sleep(LEASE_SECONDS + 2)

    deliveries = delivered(telegram)
    counts = Counter(number for _, number in deliveries)
    assert sorted(counts) == list(range(MESSAGES)), "a committed message was never delivered"
    duplicates = [number for number, times in counts.items() if times > 1]
    assert len(duplicates) <= IN_FLIGHT and all(counts[number] == 2 for number in duplicates), counts
    # Only messages in flight at the kill may go twice: in each chat, the last one the dead process got
    # accepted (one chat's next message is claimed only after its previous one is marked sent).
    last_before_kill = {chat_id: number for chat_id, number in before_restart}
    chat_of = {number: chat_id for chat_id, number in before_restart}
    for number in duplicates:
        assert number in chat_of and last_before_kill[chat_of[number]] == number, (number, before_restart)
    per_chat: defaultdict[int, list[int]] = defaultdict(list)
    for chat_id, number in deliveries:
        if not per_chat[chat_id] or per_chat[chat_id][-1] != number:
            per_chat[chat_id].append(number)
    for index, user in enumerate(users):
        assert per_chat[user.id] == list(range(index, MESSAGES, CHATS)), "a chat's order was broken"
    states = await outbox_states(url)
    assert states[SENT] == MESSAGES and states["no id"] == 0, states
