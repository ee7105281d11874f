"""Drains an outbox backlog against the lean fake Bot API and prints the rate beside Telegram's limit.

    .venv/bin/python -m bench.outbox_drain                       # 5,000 messages, SQLite and PostgreSQL
    .venv/bin/python -m bench.outbox_drain --messages 1500 --no-sqlite --redis redis://127.0.0.1:6379/13

The backlog goes to as many private chats as messages (so the overall 30 messages/s is the binding
limit) and is bulk-inserted (executemany on SQLite, COPY on PostgreSQL). The sender runs with its
in-process limiter, or with --redis the limiter shared in Redis (scheduler.shared_rate_limit).
Targets (issue 17): at least 95 % of the allowed rate, and no sliding window above a limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from bench.databases import Batch, run_benchmarks
from bench.fake_telegram import LeanBotApi, window_violations
from bot.dispatcher import build_bot
from domain.clock import SystemClock
from scheduler.outbox_sender import OutboxSender
from scheduler.shared_rate_limit import SharedRateLimiter
from storage.database import create_engine, create_session_factory
from storage.outbox_queue import SqlOutboxQueue

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
OVERALL = 30.0
TARGET = 0.95


def backlog(count: int, now: datetime) -> Iterator[Batch]:
    """The outbox rows, one private chat each, in batches of 5,000."""
    rows = [
        {
            "chat_id": 40_000 + i,
            "method": "sendMessage",
            # COPY takes the JSON column as text; SQLite stores it as text anyway.
            "params": json.dumps({"text": f"backlog {i}"}),
            "created_at": now,
            "attempts": 0,
            "state": "pending",
        }
        for i in range(count)
    ]
    for start in range(0, count, 5_000):
        yield {"outbox": rows[start : start + 5_000]}


async def drain(url: str, count: int, redis_url: str | None) -> None:
    """Runs one sender until the backlog is sent; prints its rate and any window over a limit."""
    api = LeanBotApi()
    await api.start()
    engine = create_engine(url)
    queue = SqlOutboxQueue(create_session_factory(engine))
    bot = build_bot(TOKEN, api.base_url, AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
    shared = None
    if redis_url is not None:
        redis = Redis.from_url(redis_url)
        await redis.flushdb()
        shared = SharedRateLimiter(redis, prefix="bench:limits")
    sender = OutboxSender(queue, bot, SystemClock(), shared_limiter=shared)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(sender.run_forever(stop))
    try:
        await api.wait_count("sendMessage", count, within=count / OVERALL * 2 + 60)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
        await bot.session.close()
        if shared is not None:
            await shared.close()
        await engine.dispose()
        await api.close()
    sends = api.sent()
    # The rate between the first and the last send: the allowed rate is 30/s from the first one on.
    span = sends[-1].at - sends[0].at
    rate = (len(sends) - 1) / span if span > 0 else float("inf")
    share = rate / OVERALL
    problems = window_violations(sends, overall=30, per_private=1, per_group_minute=20)
    limiter = "shared (Redis)" if shared is not None else "in-process"
    verdict = "ok" if share >= TARGET else "BELOW TARGET"
    print(
        f"  {len(sends)} messages in {elapsed:.1f} s, limiter {limiter}: {rate:.2f} messages/s = "
        f"{share:.1%} of the allowed 30/s (target >= {TARGET:.0%}) {verdict}; "
        f"windows over a limit: {len(problems)} (target 0) {'ok' if not problems else problems[:3]}"
    )


async def main(args: argparse.Namespace) -> None:
    """Seeds the backlog in each database and drains it."""
    now = datetime.now(UTC)

    async def measure(url: str) -> None:
        await drain(url, args.messages, args.redis)

    def batches() -> Iterator[Batch]:
        return backlog(args.messages, now)

    await run_benchmarks(args, batches, f"{args.messages:,} outbox messages", measure)


def parse_args() -> argparse.Namespace:
    """--messages, --redis URL, --no-sqlite, --no-postgres."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--redis", default=None, help="use the Redis-shared limiter at this URL")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
