"""The APScheduler jobs of the bot's event loop: sweeps over the database, never one timer per order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from application.sla_sweeps import SlaSweeper
from scheduler.executors import FinishingExecutor, FinishingScheduler
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
) -> FinishingScheduler:
    """Builds the scheduler (SLA sweep, progress digest, monthly report if given); start() it in the loop.

    job_lock: with several instances, each job runs once per tick across them (scheduler.job_lock).
    """
    scheduler = FinishingScheduler(
        FinishingExecutor() if job_lock is None else OncePerTickExecutor(job_lock),
        jobstores={"default": MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_time},
        timezone=timezone,
    )
    settings = sweeper.settings

    def every_sweep() -> IntervalTrigger:
        """The trigger of a job that runs on every sweep interval."""
        return IntervalTrigger(seconds=settings.sweep_seconds, timezone=timezone)

    digest_hours = ",".join(str(hour) for hour in settings.digest_hours)
    # Each job with its trigger, id and name; a feature the caller did not wire (None) has no job.
    jobs: tuple[tuple[Callable[[], Awaitable[object]] | None, BaseTrigger, str, str], ...] = (
        (
            sweeper.sweep,
            every_sweep(),
            SLA_SWEEP_JOB,
            "SLA warnings, breaches, escalations and cancelled orders completed",
        ),
        (
            sweeper.digest,
            CronTrigger(hour=digest_hours, minute=0, timezone=timezone),
            SLA_DIGEST_JOB,
            "Order desk progress check (R-5.1)",
        ),
        (
            monthly_report,
            CronTrigger(day=1, hour=9, minute=0, timezone=timezone),
            SUPERVISION_REPORT_JOB,
            "Monthly supervision report to management (R-8.1)",
        ),
        (aftersales, every_sweep(), AFTERSALES_JOB, "Completion, follow-up surveys and archives (R-7)"),
        (
            retention,
            CronTrigger(hour=RETENTION_HOUR, minute=0, timezone=timezone),
            RETENTION_JOB,
            "Retention: archives and personal data deleted after RETENTION (R-7.3)",
        ),
        # A sweep, not a cron: the first run from the 1st at 09:00 queues last month's report, and a
        # restart after a missed 09:00 catches it up (application/exception_report.py).
        (
            exception_report,
            every_sweep(),
            EXCEPTION_REPORT_JOB,
            "Monthly exception report to management (R-6.5)",
        ),
    )
    for job, trigger, job_id, name in jobs:
        if job is not None:
            scheduler.add_job(job, trigger, id=job_id, name=name, replace_existing=True)
    return scheduler
