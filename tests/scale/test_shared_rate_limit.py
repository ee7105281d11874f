"""The sending limits shared in Redis by every outbox sender (issue 17)."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from scheduler.shared_rate_limit import SharedRateLimiter


def _limiter(redis: Redis, overall_per_second: float = 30.0, catch_up: float = 0.0) -> SharedRateLimiter:
    return SharedRateLimiter(
        redis, prefix="t:limits", margin=0.0, overall_per_second=overall_per_second, catch_up=catch_up
    )


async def test_a_private_chat_gets_one_message_a_second_across_limiters(redis: Redis) -> None:
    first, second = _limiter(redis), _limiter(redis)

    assert await first.acquire(7) == 0
    wait = await second.acquire(7)

    assert 0.9 < wait <= 1.0
    assert await second.acquire(8) == 0


async def test_a_group_gets_twenty_a_minute(redis: Redis) -> None:
    limiter = _limiter(redis)

    assert await limiter.acquire(-100) == 0
    assert 2.9 < await limiter.acquire(-100) <= 3.0


async def test_the_overall_limit_spaces_messages_of_all_limiters(redis: Redis) -> None:
    limiters = [_limiter(redis, overall_per_second=20.0) for _ in range(3)]
    granted: list[float] = []

    async def send(limiter: SharedRateLimiter, chat: int) -> None:
        assert await limiter.acquire(chat) == 0
        granted.append(time.monotonic())

    await asyncio.gather(*(send(limiters[i % 3], 1000 + i) for i in range(41)))

    granted.sort()
    # 41 messages at 20/s: any 21 in a row span a second, so no one-second window holds more than 20.
    # (Measured as the senders see their grants, so allowing the event loop's lag of a busy machine.)
    assert min(last - first for first, last in zip(granted, granted[20:], strict=False)) >= 0.95
    assert granted[-1] - granted[0] >= 1.95


async def test_a_429_pauses_every_limiter(redis: Redis) -> None:
    first, second = _limiter(redis), _limiter(redis)

    await first.pause(2)
    wait = await second.acquire(9)

    assert 1.9 < wait <= 2.0


async def test_a_late_ask_is_scheduled_from_its_moment_not_from_now(redis: Redis) -> None:
    """The overall bucket moves on from a quarter interval back, so the lateness of an ask is not lost."""
    limiter = SharedRateLimiter(redis, prefix="t:late", overall_per_second=20.0)
    step = 1.03 / 20

    assert await limiter.acquire(3000) == 0
    seconds, micros = await redis.time()
    next_moment = int(await redis.get("t:late:overall")) / 1_000_000

    assert next_moment - (seconds + micros / 1_000_000) == pytest.approx(step * 0.75, abs=0.005)


async def test_with_the_catch_up_no_second_holds_more_than_the_limit(redis: Redis) -> None:
    """Asking a few ms after each moment (as a sender does after its send), any 21 grants span over 1 s."""
    limiter = SharedRateLimiter(redis, prefix="t:window", overall_per_second=20.0)
    granted: list[float] = []
    for chat in range(2000, 2041):
        assert await limiter.acquire(chat) == 0
        granted.append(time.monotonic())
        await asyncio.sleep(0.004)

    assert all(b - a > 1.0 for a, b in zip(granted, granted[20:], strict=False))


async def test_the_margin_leaves_room_for_a_message_to_arrive_late(redis: Redis) -> None:
    """At the shipped 30/s, each grant moves the next free moment on by 3 % more than 1/30 s.

    So 31 grants span over 1.02 s (30 steps less the quarter-step catch-up), asked promptly or a
    little late, which lets a message reach Telegram some milliseconds after its grant (the
    sender's event loop, the network) without 31 landing in one second: the multi-instance
    end-to-end test relies on it when it allows arrival jitter. Read from the moments the limiter
    keeps in Redis, so the test's own timing does not enter.
    """
    limiter = SharedRateLimiter(redis, prefix="t:margin")
    moments: list[float] = []
    for chat in range(4000, 4062):
        assert await limiter.acquire(chat) == 0
        moments.append(int(await redis.get("t:margin:overall")) / 1_000_000)
        if chat % 2:
            await asyncio.sleep(0.004)

    assert min(b - a for a, b in zip(moments, moments[30:], strict=False)) >= 1.025
