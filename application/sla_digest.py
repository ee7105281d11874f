"""The order desk's progress check at 09:00 and 15:00 (R-5.1): every overdue and at-risk step by department.

It is posted to the order desk's chat and logged in the tracking log once per slot, whichever
instance gets there first; a clock that cannot be judged (a bad row) is logged and left out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from application.ports import OutboxMessage, Outgoing, UnitOfWork
from domain.orders.status import Role
from domain.sla.alerts import DueClock, chat_for
from domain.sla.clocks import SlaContext, clock_left, department_of, risk_thresholds, status_of
from domain.sla.policy import ClockStatus

logger = logging.getLogger(__name__)

# Orders listed per department in the tracking log of a digest.
TRACKING_LOG_ORDERS = 50
# Clocks one digest reads at most.
DIGEST_CLOCKS = 100_000

Judged = dict[Role, dict[ClockStatus, list[DueClock]]]


class DigestTexts(Protocol):
    """Writes the digest in the order desk's language (presentation/sla_alerts.py)."""

    def digest(
        self, slot: str, judged: Mapping[Role, Mapping[ClockStatus, Sequence[DueClock]]], now: datetime
    ) -> list[Outgoing]: ...


async def post_digest(
    uow: UnitOfWork, *, now: datetime, sla: SlaContext, team_chats: Mapping[str, int], texts: DigestTexts
) -> bool:
    """Posts the progress check to the order desk and logs it; False if this slot's was done already."""
    local = now.astimezone(sla.calendar.zone)
    slot = f"{local:%Y-%m-%d}T{local:%H}:00"
    chat_id = chat_for(Role.ORDER_DESK, team_chats)
    async with uow:
        judged = judge(sla, await uow.sla.at_risk_or_breached(risk_thresholds(sla, now), DIGEST_CLOCKS), now)
        if not await uow.sla.record_digest(slot, now, tracking_content(judged, now)):
            return False
        if chat_id is not None:
            for part, message in enumerate(texts.digest(slot, judged, now), start=1):
                await uow.outbox.enqueue(
                    OutboxMessage(
                        chat_id=chat_id,
                        method=message.method,
                        params=message.params,
                        created_at=now,
                        dedup_key=f"sla-tracking:{slot}:{part}",
                    )
                )
        await uow.commit()
    return True


def judge(sla: SlaContext, clocks: Sequence[DueClock], now: datetime) -> Judged:
    """Sorts clocks into overdue and at risk per department, worst first; a failing clock is left out."""
    judged: Judged = {}
    for due in clocks:
        try:
            status = status_of(due.stage_clock(), now, policy=sla.policy, calendar=sla.calendar)
            department = department_of(sla, due.stage)
        except Exception:
            logger.exception("SLA digest: left out the %s clock of order %s", due.stage, due.order_ref)
            continue
        if status in (ClockStatus.BREACHED, ClockStatus.AT_RISK):
            lists = judged.setdefault(department, {ClockStatus.BREACHED: [], ClockStatus.AT_RISK: []})
            lists[status].append(due)
    # Worst first by the lateness the lines show: the query's due-time order misreads a paused clock.
    for lists in judged.values():
        for status in lists:
            lists[status].sort(key=lambda due: clock_left(due.stage_clock(), now))
    return judged


def tracking_content(judged: Judged, now: datetime) -> dict[str, Any]:
    """Summarises a digest for the tracking log: counts per department and the worst orders."""
    departments: dict[str, Any] = {}
    for department, lists in judged.items():
        departments[department.value] = {
            "overdue": len(lists[ClockStatus.BREACHED]),
            "at_risk": len(lists[ClockStatus.AT_RISK]),
            "orders": [
                {
                    "order": due.order_ref,
                    "stage": due.stage,
                    "status": status.value,
                    "due_at": due.due_at.isoformat(),
                }
                for status in (ClockStatus.BREACHED, ClockStatus.AT_RISK)
                for due in lists[status][:TRACKING_LOG_ORDERS]
            ],
        }
    return {
        "at": now.isoformat(),
        "overdue": sum(item["overdue"] for item in departments.values()),
        "at_risk": sum(item["at_risk"] for item in departments.values()),
        "departments": departments,
    }
