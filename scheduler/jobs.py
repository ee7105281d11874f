"""The APScheduler jobs of the bot's event loop: sweeps over the database, never one timer per order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from application.sla_sweeps import SlaSweeper
from scheduler.job_lock import OncePerTickExecutor, RedisJobLock

SLA_SWEEP_JOB = "sla-sweep"
SLA_DIGEST_JOB = "sla-digest"
SUPERVISION_REPORT_JOB = "supervision-report"
AFTERSALES_JOB = "aftersales-sweep"
RETENTION_JOB = "retention"
EXCEPTION_REPORT_JOB = "exception-report"
# The retention job runs once a day at this local hour, when nobody works.
RETENTION_HOUR = 3
# A digest or sweep that could not start on time (event loop busy, process suspended) still runs
# within this many seconds; a later one is skipped, and the next run catches up from the database.
DEFAULT_MISFIRE_GRACE_SECONDS = 300


def build_scheduler(
    sweeper: SlaSweeper,
    *,
    timezone: str,
    misfire_grace_time: int = DEFAULT_MISFIRE_GRACE_SECONDS,
    monthly_report: Callable[[], Awaitable[object]] | None = None,
    aftersales: Callable[[], Awaitable[object]] | None = None,
    retention: Callable[[], Awaitable[object]] | None = None,
    exception_report: Callable[[], Awaitable[object]] | None = None,
    job_lock: RedisJobLock | None = None,
) -> AsyncIOScheduler:
    """Builds the scheduler (SLA sweep, progress digest, monthly report if given); start() it in the loop.

    job_lock: with several instances, each job runs once per tick across them (scheduler.job_lock).
    """
    scheduler = AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": AsyncIOExecutor() if job_lock is None else OncePerTickExecutor(job_lock)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_time},
        timezone=timezone,
    )
    settings = sweeper.settings
    scheduler.add_job(
        sweeper.sweep,
        IntervalTrigger(seconds=settings.sweep_seconds, timezone=timezone),
        id=SLA_SWEEP_JOB,
        name="SLA warnings, breaches, escalations and cancelled orders completed",
        replace_existing=True,
    )
    scheduler.add_job(
        sweeper.digest,
        CronTrigger(hour=",".join(str(hour) for hour in settings.digest_hours), minute=0, timezone=timezone),
        id=SLA_DIGEST_JOB,
        name="Order desk progress check (R-5.1)",
        replace_existing=True,
    )
    if monthly_report is not None:
        scheduler.add_job(
            monthly_report,
            CronTrigger(day=1, hour=9, minute=0, timezone=timezone),
            id=SUPERVISION_REPORT_JOB,
            name="Monthly supervision report to management (R-8.1)",
            replace_existing=True,
        )
    if aftersales is not None:
        scheduler.add_job(
            aftersales,
            IntervalTrigger(seconds=settings.sweep_seconds, timezone=timezone),
            id=AFTERSALES_JOB,
            name="Completion, follow-up surveys and archives (R-7)",
            replace_existing=True,
        )
    if retention is not None:
        scheduler.add_job(
            retention,
            CronTrigger(hour=RETENTION_HOUR, minute=0, timezone=timezone),
            id=RETENTION_JOB,
            name="Retention: archives and personal data deleted after RETENTION (R-7.3)",
            replace_existing=True,
        )
    if exception_report is not None:
        # A sweep, not a cron: the first run from the 1st at 09:00 queues last month's report, and a
        # restart after a missed 09:00 catches it up (application/exception_report.py).
        scheduler.add_job(
            exception_report,
            IntervalTrigger(seconds=settings.sweep_seconds, timezone=timezone),
            id=EXCEPTION_REPORT_JOB,
            name="Monthly exception report to management (R-6.5)",
            replace_existing=True,
        )
    return scheduler
