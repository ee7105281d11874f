"""The digest lists each department's orders worst first, by the lateness its lines show (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.sla_digest import judge
from domain.orders.status import Role
from domain.sla.alerts import DueClock
from domain.sla.policy import ClockStatus, Stage
from tests.sla.conftest import SLA

NOW = datetime(2026, 3, 18, 6, tzinfo=UTC)


def _due(ref: str, due_at: datetime, paused_at: datetime | None = None) -> DueClock:
    """A picking clock of an order, started a day before it is due."""
    return DueClock(
        clock_id=len(ref),
        order_id=ref,
        order_ref=ref,
        stage=Stage.PICKING.value,
        started_at=due_at - timedelta(days=1),
        due_at=due_at,
        paused_at=paused_at,
    )


def test_a_paused_clock_due_earlier_but_barely_late_comes_after_the_later_but_latest() -> None:
    """Due earliest yet paused ten minutes past due: it follows the clock three hours late."""
    paused = _due("R-PAUSED", NOW - timedelta(hours=5), paused_at=NOW - timedelta(hours=4, minutes=50))
    latest = _due("R-LATEST", NOW - timedelta(hours=3))
    middle = _due("R-MIDDLE", NOW - timedelta(hours=1))
    judged = judge(SLA, [paused, latest, middle], NOW)
    overdue = judged[Role.WAREHOUSE][ClockStatus.BREACHED]
    assert [due.order_ref for due in overdue] == ["R-LATEST", "R-MIDDLE", "R-PAUSED"]
