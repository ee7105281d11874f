"""Every scheduled job runs once per tick across instances (issue 17)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.asyncio import Redis

from scheduler.job_lock import OncePerTickExecutor, RedisJobLock, tick_of


def _scheduler(redis: Redis) -> AsyncIOScheduler:
    return AsyncIOScheduler(executors={"default": OncePerTickExecutor(RedisJobLock(redis, prefix="t:jobs"))})


async def test_two_instances_run_an_interval_job_once_per_interval(redis: Redis) -> None:
    runs: list[str] = []

    async def sweep(name: str) -> None:
        runs.append(name)

    schedulers = [_scheduler(redis), _scheduler(redis)]
    for name, scheduler in zip(("a", "b"), schedulers, strict=True):
        # The two instances started at different moments: their schedules are out of phase.
        scheduler.add_job(sweep, IntervalTrigger(seconds=1), args=[name], id="sweep")
        scheduler.start()
        await asyncio.sleep(0.45)
    await asyncio.sleep(3.2)
    for scheduler in schedulers:
        scheduler.shutdown(wait=False)

    # About 3.6 s of two schedules: every 1-second slot of the epoch ran once, on one of them.
    assert 3 <= len(runs) <= 5, runs
    assert set(runs) <= {"a", "b"}


async def test_a_tick_is_claimed_once(redis: Redis) -> None:
    lock = RedisJobLock(redis, prefix="t:jobs")

    assert await lock.claim("digest", 100, 60)
    assert not await lock.claim("digest", 100, 60)
    assert await lock.claim("digest", 101, 60)
    assert await lock.claim("report", 100, 60)


def test_an_interval_tick_is_the_slot_of_the_epoch_and_a_cron_tick_its_time() -> None:
    scheduler = AsyncIOScheduler()
    interval = scheduler.add_job(print, IntervalTrigger(seconds=60), id="i")
    cron = scheduler.add_job(print, CronTrigger(hour=9, minute=0, timezone="UTC"), id="c")
    at = datetime(2026, 3, 16, 9, 0, 30, tzinfo=UTC)

    assert tick_of(interval, at) == tick_of(interval, at + timedelta(seconds=29))
    assert tick_of(interval, at)[0] != tick_of(interval, at + timedelta(seconds=30))[0]
    assert tick_of(cron, at)[0] == int(at.timestamp())
