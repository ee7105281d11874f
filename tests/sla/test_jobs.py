"""The APScheduler wiring: one sweep job and the 09:00/15:00 digest, coalesced, one instance, in memory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore

from application.sla_sweep_settings import SweepReport, SweepSettings
from application.sla_sweeps import SlaSweeper
from domain.clock import FixedClock
from presentation.sla_alerts import SlaAlertTexts
from scheduler.executors import FinishingScheduler
from scheduler.jobs import SLA_DIGEST_JOB, SLA_SWEEP_JOB, build_scheduler
from tests.fakes import FakeDatabase
from tests.sla.conftest import SLA, TEAM_CHATS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def untranslated(msgid: str, locale: str, /, **params: Any) -> str:
    """Renders a text as its msgid."""
    return msgid


class CountingSweeper(SlaSweeper):
    """A sweeper that only counts its runs."""

    def __init__(self, settings: SweepSettings) -> None:
        super().__init__(
            uow_factory=FakeDatabase().unit_of_work,
            clock=FixedClock(datetime(2026, 3, 16, tzinfo=UTC)),
            sla=SLA,
            team_chats=TEAM_CHATS,
            texts=SlaAlertTexts(untranslated),
            settings=settings,
        )
        self.sweeps = 0

    async def sweep(self) -> SweepReport:
        """Counts a sweep."""
        self.sweeps += 1
        return SweepReport()


async def _no_report() -> bool:
    """A report job that does nothing."""
    return True


def wired_job(job_id: str, *, monthly_report: bool = False, exception_report: bool = False) -> Any:
    """A job as the scheduler stores it (with its defaults), the report jobs wired as asked doing nothing."""
    scheduler = build_scheduler(
        CountingSweeper(SweepSettings()),
        timezone="Asia/Shanghai",
        monthly_report=_no_report if monthly_report else None,
        exception_report=_no_report if exception_report else None,
    )
    scheduler.start(paused=True)  # jobs get their defaults when the scheduler adds them to the store
    scheduler.shutdown(wait=False)
    return scheduler.get_job(job_id)


async def test_the_jobs_are_configured_as_the_issue_asks() -> None:
    scheduler = build_scheduler(CountingSweeper(SweepSettings(sweep_seconds=60)), timezone="Asia/Shanghai")
    scheduler.start(paused=True)  # jobs get their defaults when the scheduler adds them to the store
    scheduler.shutdown(wait=False)

    sweep, digest = scheduler.get_job(SLA_SWEEP_JOB), scheduler.get_job(SLA_DIGEST_JOB)
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)
    for job in (sweep, digest):
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 300)
    assert sweep.trigger.interval.total_seconds() == 60
    fire = digest.trigger.get_next_fire_time(None, datetime(2026, 3, 16, 9, 30, tzinfo=SHANGHAI))
    assert fire == datetime(2026, 3, 16, 15, tzinfo=SHANGHAI)
    fire = digest.trigger.get_next_fire_time(None, datetime(2026, 3, 16, 15, 1, tzinfo=SHANGHAI))
    assert fire == datetime(2026, 3, 17, 9, tzinfo=SHANGHAI)


async def test_the_sweep_runs_in_the_event_loop_every_interval() -> None:
    sweeper = CountingSweeper(SweepSettings(sweep_seconds=1))
    scheduler = build_scheduler(sweeper, timezone="Asia/Shanghai")
    scheduler.start()
    try:
        for _ in range(40):
            await asyncio.sleep(0.1)
            if sweeper.sweeps >= 2:
                break
    finally:
        scheduler.shutdown(wait=False)
    assert sweeper.sweeps >= 2


def test_a_short_sweep_interval_keeps_a_chat_under_20_messages_a_minute() -> None:
    assert SweepSettings(sweep_seconds=60).messages_per_sweep == 20
    assert SweepSettings(sweep_seconds=5).messages_per_sweep == 1
    assert SweepSettings(sweep_seconds=30).messages_per_sweep == 10


class SlowSweeper(CountingSweeper):
    """A sweeper whose sweep takes `seconds` and records whether it ended or was cut off."""

    def __init__(self, seconds: float) -> None:
        super().__init__(SweepSettings(sweep_seconds=1))
        self.seconds = seconds
        self.started = asyncio.Event()
        self.ended: list[str] = []

    async def sweep(self) -> SweepReport:
        """Sleeps through the sweep."""
        self.sweeps += 1
        self.started.set()
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.ended.append("cancelled")
            raise
        self.ended.append("finished")
        return SweepReport()


async def sweeping(seconds: float) -> tuple[SlowSweeper, FinishingScheduler]:
    """A started scheduler whose sweep, taking `seconds`, is running now."""
    sweeper = SlowSweeper(seconds)
    scheduler = build_scheduler(sweeper, timezone="Asia/Shanghai")
    scheduler.start()
    scheduler.modify_job(SLA_SWEEP_JOB, next_run_time=datetime.now(UTC))
    await asyncio.wait_for(sweeper.started.wait(), timeout=5)
    return sweeper, scheduler


async def test_a_sweep_running_when_the_bot_stops_finishes_and_no_other_starts() -> None:
    sweeper, scheduler = await sweeping(seconds=0.5)

    await scheduler.stop(within=5)

    assert sweeper.ended == ["finished"]
    assert not scheduler.running
    await asyncio.sleep(1.2)  # past the next interval
    assert sweeper.sweeps == 1


async def test_a_sweep_that_outlasts_the_grace_is_cancelled() -> None:
    sweeper, scheduler = await sweeping(seconds=30)

    await scheduler.stop(within=0.2)

    assert sweeper.ended == ["cancelled"]
