"""The outbox sender against a fake Bot API on a controlled clock, on SQLite and PostgreSQL.

Issue 5 part 3: customer updates (R-5.2) and team cards leave through the outbox, within
Telegram's limits, and survive 429s, blocked users, group migrations, network errors and crashes.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram.methods import TelegramMethod
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import OutboxMessage
from bot.i18n import create_i18n
from domain.clock import FixedClock, SystemClock
from presentation.outbox_refusals import TelegramRefusalNotices
from scheduler.outbox_sender import OutboxSender
from storage.models import OutboxRow, UserRow
from storage.outbox_queue import SqlOutboxQueue, SqlTeamChats
from storage.uow import SqlUnitOfWork
from tests.outbox.conftest import T0, fake_sleep
from tests.outbox.fake_telegram import (
    CRASH_AFTER_TELEGRAM_ACCEPTED,
    CRASH_BEFORE_SENDING,
    OK,
    Answer,
    FakeTelegram,
    Request,
    SimulatedCrash,
    bad_request,
    blocked,
    fake_bot,
    migrated,
    network_error,
    retry_after,
)

NewUow = Callable[[], SqlUnitOfWork]
SessionFactory = async_sessionmaker[AsyncSession]


def make_sender(
    session_factory: SessionFactory, telegram: FakeTelegram, clock: FixedClock, **options: Any
) -> tuple[OutboxSender, SqlOutboxQueue]:
    """Builds a sender on the test database, the fake Bot API and the controlled clock."""
    queue = SqlOutboxQueue(session_factory)
    options.setdefault("rng", random.Random(1))
    sender = OutboxSender(queue, fake_bot(telegram), clock, sleep=fake_sleep(clock), **options)
    return sender, queue


async def enqueue(new_uow: NewUow, targets: list[tuple[int, str]], at: datetime = T0) -> list[int]:
    """Commits a sendMessage per (chat, text) and returns the outbox ids."""
    messages = [
        OutboxMessage(chat_id=chat, method="sendMessage", params={"text": text}, created_at=at)
        for chat, text in targets
    ]
    async with new_uow() as uow:
        for message in messages:
            await uow.outbox.enqueue(message)
        await uow.commit()
    return [message.id for message in messages if message.id is not None]


async def drain(sender: OutboxSender, queue: SqlOutboxQueue, clock: FixedClock, rounds: int = 20_000) -> None:
    """Runs the sender round after round, jumping the clock to the next due message, until none is pending."""
    for _ in range(rounds):
        await sender.run_once()
        due = await queue.next_due()
        if due is None:
            return
        clock.current = max(clock.current, due)
    raise AssertionError("the outbox did not drain")


async def stored(session_factory: SessionFactory) -> dict[int, OutboxRow]:
    """Reads every outbox row by id."""
    async with session_factory() as session:
        return {row.id: row for row in (await session.scalars(select(OutboxRow))).all()}


def by_chat(requests: list[Request]) -> dict[int, list[Request]]:
    """Groups requests by chat, keeping their order."""
    grouped: defaultdict[int, list[Request]] = defaultdict(list)
    for request in requests:
        assert request.chat_id is not None
        grouped[request.chat_id].append(request)
    return grouped


def most_in_any_window(times: list[datetime], window: timedelta) -> int:
    """Returns the largest number of times that fall in one half-open window [t, t + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, time in enumerate(times):
        while time - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_500_messages_arrive_once_in_order_within_limits_while_30_percent_get_429(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    rng = random.Random(2026)
    groups = [-1001000000000 - number for number in range(10)]
    customers = [700_000 + number for number in range(100)]
    targets = [chat for chat in groups for _ in range(20)] + [chat for chat in customers for _ in range(3)]
    rng.shuffle(targets)
    texts = [(chat, f"message {number}") for number, chat in enumerate(targets)]
    ids = await enqueue(new_uow, texts)

    def flood_control(_method: TelegramMethod[Any]) -> Answer:
        return retry_after(rng.randint(1, 3)) if rng.random() < 0.3 else OK

    telegram = FakeTelegram(clock, flood_control)
    sender, queue = make_sender(session_factory, telegram, clock)
    await drain(sender, queue, clock)

    rows = await stored(session_factory)
    assert {row.state for row in rows.values()} == {"sent"}
    delivered = telegram.delivered()
    assert sorted((request.chat_id, request.text) for request in delivered) == sorted(texts)
    assert len({rows[message_id].telegram_message_id for message_id in ids}) == 500
    refused = [request for request in telegram.requests if request.answer.error_code == 429]
    assert len(refused) > 150, "the fake must really have answered about 30 % with 429"
    for chat, requests in by_chat(telegram.requests).items():
        # Nothing goes to a chat before the retry_after of its last 429 has passed.
        for refusal, following in itertools.pairwise(requests):
            if refusal.answer.error_code == 429:
                assert refusal.answer.parameters is not None
                assert following.at - refusal.at >= timedelta(
                    seconds=refusal.answer.parameters["retry_after"]
                )
        times = [request.at for request in requests]
        if chat < 0:
            assert most_in_any_window(times, timedelta(minutes=1)) <= 20
        else:
            assert most_in_any_window(times, timedelta(seconds=1)) <= 1
        # A chat's messages arrive in the order they were committed.
        sent_texts = [request.text for request in requests if request.answer.ok]
        assert sent_texts == [text for target, text in texts if target == chat]
    assert most_in_any_window([request.at for request in telegram.requests], timedelta(seconds=1)) <= 30
    # Twenty messages per group at 20 a minute, plus the flood waits: minutes, not hours.
    assert clock.now() - T0 < timedelta(minutes=5)


async def test_a_blocked_customer_is_marked_and_not_retried_while_others_get_their_messages(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    blocker, other = 4242, 5151
    first, second, theirs = await enqueue(new_uow, [(blocker, "one"), (blocker, "two"), (other, "hello")])
    telegram = FakeTelegram(clock, lambda method: blocked() if method.chat_id == blocker else OK)  # type: ignore[attr-defined]
    sender, queue = make_sender(session_factory, telegram, clock)

    await drain(sender, queue, clock)
    clock.advance(timedelta(hours=1))
    await sender.run_once()

    rows = await stored(session_factory)
    assert (rows[first].state, rows[second].state, rows[theirs].state) == ("blocked", "blocked", "sent")
    assert rows[first].attempts == rows[second].attempts == 1
    assert [request.text for request in telegram.requests if request.chat_id == blocker] == ["one", "two"]
    async with session_factory() as session:
        assert await session.scalar(select(UserRow.blocked).where(UserRow.id == blocker)) is True


async def test_a_group_that_became_a_supergroup_is_followed_with_its_team_chat(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    old, new = -4001, -1004001
    async with new_uow() as uow:
        await SqlTeamChats(uow.session).seed("warehouse", old, T0)
        await uow.commit()
    card, reminder = await enqueue(new_uow, [(old, "card"), (old, "reminder")])
    telegram = FakeTelegram(clock, lambda method: migrated(new) if method.chat_id == old else OK)  # type: ignore[attr-defined]
    sender, queue = make_sender(session_factory, telegram, clock)

    await drain(sender, queue, clock)

    assert [(request.chat_id, request.text) for request in telegram.delivered()] == [
        (new, "card"),
        (new, "reminder"),
    ]
    rows = await stored(session_factory)
    assert rows[card].chat_id == rows[reminder].chat_id == new
    assert {rows[card].state, rows[reminder].state} == {"sent"}
    async with new_uow() as uow:
        assert await SqlTeamChats(uow.session).chat_of("warehouse") == new


async def test_network_errors_are_retried_with_a_growing_backoff_then_given_up(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    flaky, dead = 601, 602
    attempts: defaultdict[int, int] = defaultdict(int)

    def connection_trouble(method: TelegramMethod[Any]) -> Answer | Exception:
        chat_id: int = method.chat_id  # type: ignore[attr-defined]
        attempts[chat_id] += 1
        # The fake records only what reached Telegram; every attempt's time is noted here.
        tried_at[chat_id].append(clock.now())
        if chat_id == dead or attempts[chat_id] <= 3:
            return network_error(method)
        return OK

    tried_at: defaultdict[int, list[datetime]] = defaultdict(list)
    recovered, lost = await enqueue(new_uow, [(flaky, "eventually"), (dead, "never")])
    telegram = FakeTelegram(clock, connection_trouble)
    sender, queue = make_sender(session_factory, telegram, clock, max_attempts=5, backoff_base=2.0)

    await drain(sender, queue, clock)

    rows = await stored(session_factory)
    assert (rows[recovered].state, rows[recovered].attempts) == ("sent", 4)
    assert [request.text for request in telegram.delivered()] == ["eventually"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(tried_at[flaky])]
    # Backoff 2 s, 4 s, 8 s after the first, second and third failure, less up to half of it as jitter.
    assert len(gaps) == 3
    for gap, backoff in zip(gaps, (2, 4, 8), strict=True):
        assert timedelta(seconds=backoff / 2) <= gap <= timedelta(seconds=backoff, microseconds=1)
    assert (rows[lost].state, rows[lost].attempts) == ("failed", 5)
    error = rows[lost].last_error
    assert error is not None and "gave up after 5 attempts" in error


async def test_a_sender_that_dies_mid_round_is_resumed_by_a_new_one_with_at_most_one_duplicate(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    customers = list(range(801, 811))
    texts = [(chat, f"update for {chat}") for chat in customers]
    ids = await enqueue(new_uow, texts)
    requests = 0

    def dies_on_the_fourth(_method: TelegramMethod[Any]) -> Answer:
        nonlocal requests
        requests += 1
        return CRASH_AFTER_TELEGRAM_ACCEPTED if requests == 4 else OK

    telegram = FakeTelegram(clock, dies_on_the_fourth)
    first, queue = make_sender(session_factory, telegram, clock)
    try:
        await first.run_once()
    except SimulatedCrash:
        pass
    else:
        raise AssertionError("the first sender should have died")
    assert len(telegram.delivered()) == 4
    rows = await stored(session_factory)
    assert [rows[message_id].state for message_id in ids].count("sent") == 3

    # A restarted process: a new sender, which must wait for the dead one's lease to run out.
    second, queue = make_sender(session_factory, telegram, clock)
    await second.run_once()
    assert len(telegram.delivered()) == 4
    await drain(second, queue, clock)

    delivered = [(request.chat_id, request.text) for request in telegram.delivered()]
    assert sorted(delivered) == sorted([*texts, texts[3]])
    assert {row.state for row in (await stored(session_factory)).values()} == {"sent"}


async def test_messages_committed_before_a_crash_that_never_reached_telegram_arrive_exactly_once(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    texts = [(chat, f"update for {chat}") for chat in range(901, 906)]
    await enqueue(new_uow, texts)
    answers = iter([CRASH_BEFORE_SENDING])
    telegram = FakeTelegram(clock, lambda _method: next(answers, OK))
    first, queue = make_sender(session_factory, telegram, clock)
    try:
        await first.run_once()
    except SimulatedCrash:
        pass

    second, queue = make_sender(session_factory, telegram, clock)
    await drain(second, queue, clock)

    assert sorted((request.chat_id, request.text) for request in telegram.requests) == sorted(texts)


async def test_a_refused_request_fails_with_its_reason_and_not_modified_counts_as_delivered(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    async with new_uow() as uow:
        refused = OutboxMessage(chat_id=11, method="sendMessage", params={"text": "x"}, created_at=T0)
        edit = OutboxMessage(
            chat_id=12, method="editMessageText", params={"message_id": 77, "text": "same"}, created_at=T0
        )
        unknown = OutboxMessage(chat_id=13, method="sendTelepathy", params={}, created_at=T0)
        for message in (refused, edit, unknown):
            await uow.outbox.enqueue(message)
        await uow.commit()
    answers = {
        11: bad_request("chat not found"),
        12: bad_request("message is not modified: specified new message content is the same"),
    }
    telegram = FakeTelegram(clock, lambda method: answers[method.chat_id])  # type: ignore[attr-defined]
    sender, queue = make_sender(session_factory, telegram, clock)

    await drain(sender, queue, clock)

    rows = await stored(session_factory)
    assert refused.id and edit.id and unknown.id
    assert rows[refused.id].state == "failed" and "chat not found" in (rows[refused.id].last_error or "")
    assert (rows[edit.id].state, rows[edit.id].telegram_message_id) == ("sent", 77)
    assert rows[unknown.id].state == "failed" and "sendTelepathy" in (rows[unknown.id].last_error or "")
    assert [request.chat_id for request in telegram.requests] == [11, 12]


async def test_run_forever_delivers_what_is_committed_while_it_runs_and_stops_when_asked(
    new_uow: NewUow, session_factory: SessionFactory
) -> None:
    clock = SystemClock()
    telegram = FakeTelegram(clock)
    queue = SqlOutboxQueue(session_factory)
    sender = OutboxSender(queue, fake_bot(telegram), clock, idle_interval=0.02)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run_forever(stop))

    await enqueue(new_uow, [(31, "a"), (32, "b"), (31, "c")], at=clock.now())
    await asyncio.wait_for(telegram.wait_delivered(3), timeout=5)
    stop.set()
    await asyncio.wait_for(running, timeout=1)

    assert [(request.chat_id, request.text) for request in telegram.delivered()] == [
        (31, "a"),
        (32, "b"),
        (31, "c"),
    ]
    by_chat_31 = [request.at for request in telegram.delivered() if request.chat_id == 31]
    assert by_chat_31[1] - by_chat_31[0] >= timedelta(seconds=1)


async def test_a_message_refused_for_its_content_is_replaced_by_a_fallback_and_the_desk_is_told(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    """Issue 11 finding 1: a refusal is never silent; a refused fallback starts no chain."""
    desk_chat = -100777
    [too_long] = await enqueue(new_uow, [(21, "x" * 5000)])
    answers = {21: bad_request("message is too long"), desk_chat: OK}
    attempts: defaultdict[int, int] = defaultdict(int)

    def answer(method: TelegramMethod[Any]) -> Answer:
        chat = method.chat_id  # type: ignore[attr-defined]
        attempts[chat] += 1
        # The customer's chat refuses its fallback too: it must be given up without another notice.
        return answers[chat]

    telegram = FakeTelegram(clock, answer)
    notices = TelegramRefusalNotices(create_i18n("en"), "zh", desk_chat)
    sender, queue = make_sender(session_factory, telegram, clock, refusals=notices)

    await drain(sender, queue, clock)

    rows = await stored(session_factory)
    assert rows[too_long].state == "failed" and "too long" in (rows[too_long].last_error or "")
    fallback = next(row for row in rows.values() if row.dedup_key == f"refused:{too_long}")
    desk = next(row for row in rows.values() if row.dedup_key == f"refused-desk:{too_long}")
    assert fallback.state == "failed" and fallback.chat_id == 21
    assert desk.state == "sent" and "/failed" in desk.params["text"] and "Telegram" in desk.params["text"]
    assert len(rows) == 3 and attempts[21] == 2
    async with new_uow() as uow:
        failed = await uow.outbox.failed()
    assert [dead.id for dead in failed] == [fallback.id, too_long]
    assert "too long" in failed[1].error
