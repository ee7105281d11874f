"""Every scheduled job runs once per tick across instances (issue 17): a Redis key per job and tick.

Each instance runs the same APScheduler jobs. Before a run, its executor claims the run's tick
with `SET key NX`: the first instance to claim it runs the job, the others skip that tick. A cron
job's tick is its scheduled time, the same on every instance. An interval job's schedule starts
when its instance started, so its tick is the interval-long slot of the epoch its run falls in:
each slot holds one run of every instance, and one of them runs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.base import run_coroutine_job
from apscheduler.job import Job
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import iscoroutinefunction_partial

from scheduler.executors import FinishingExecutor

if TYPE_CHECKING:
    # redis is imported where a connection is made: an instance without Redis never loads it (issue 17).
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

# How long a cron tick's claim is kept: well beyond any misfire grace.
_CRON_CLAIM_SECONDS = 2 * 86400


class RedisJobLock:
    """Claims a job's tick in Redis; the first claim wins."""

    def __init__(self, redis: Redis, prefix: str = "orderdesk:jobs") -> None:
        self._redis = redis
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisJobLock:
        """Connects to the Redis at url."""
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), **kwargs)

    async def claim(self, job_id: str, tick: int, ttl_seconds: int) -> bool:
        """Whether this instance got the job's tick."""
        return bool(await self._redis.set(f"{self._prefix}:{job_id}:{tick}", "1", nx=True, ex=ttl_seconds))

    async def close(self) -> None:
        """Closes the Redis connection."""
        await self._redis.aclose()


def tick_of(job: Job, run_time: datetime) -> tuple[int, int]:
    """The job's tick for a scheduled run, and how long to keep its claim (seconds)."""
    trigger = job.trigger
    if isinstance(trigger, IntervalTrigger):
        interval = trigger.interval.total_seconds()
        return math.floor(run_time.timestamp() / interval), max(60, math.ceil(2 * interval))
    return math.floor(run_time.timestamp()), _CRON_CLAIM_SECONDS


class OncePerTickExecutor(FinishingExecutor):
    """The asyncio executor, running a coroutine job only for the ticks this instance claimed."""

    def __init__(self, lock: RedisJobLock) -> None:
        super().__init__()
        # Not _lock: the base executor's own thread lock has that name.
        self._ticks = lock

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        """Claims the run times' ticks first; runs the job for those won."""
        if not iscoroutinefunction_partial(job.func):
            super()._do_submit_job(job, run_times)
            return

        def finished(future: Any) -> None:
            self._pending_futures.discard(future)
            try:
                events = future.result()
            except BaseException as error:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, events)

        task = self._eventloop.create_task(self._run_claimed(job, run_times))
        task.add_done_callback(finished)
        self._pending_futures.add(task)

    async def _run_claimed(self, job: Job, run_times: Iterable[datetime]) -> list[Any]:
        """Runs the job for the run times whose tick this instance claimed."""
        won = []
        for run_time in run_times:
            tick, ttl = tick_of(job, run_time)
            try:
                claimed = await self._ticks.claim(job.id, tick, ttl)
            except Exception as error:
                # Redis down: skipping is safer than running every job on every instance.
                logger.warning(
                    "Job %s skipped: its tick could not be claimed (%s)", job.id, type(error).__name__
                )
                continue
            if claimed:
                won.append(run_time)
        if not won:
            return []
        logger.info("Scheduled job %s runs here for tick %s", job.id, tick_of(job, won[-1])[0])
        events: list[Any] = await run_coroutine_job(job, job._jobstore_alias, won, self._logger.name)
        return events
