"""The offline entry clock (R-1.4): opened at the time received, closed at entry, lateness noted."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.orders.model import Order
from domain.orders.status import Role
from domain.sla.clocks import entry_stage
from domain.sla.policy import SlaPolicy

LATE_ENTRY_ACTION = "late_entry"


def entry_limit(policy: SlaPolicy, urgent: bool) -> timedelta:
    """The R-1.4 entry time limit: 1 hour after receipt, 30 minutes when urgent (per the policy)."""
    return policy.stage(entry_stage(urgent)).limit.wall_time


def record_entry(
    order: Order, received_at: datetime, policy: SlaPolicy, actor: tuple[int | None, Role], now: datetime
) -> timedelta | None:
    """Opens and closes the entry clock of an offline order (R-1.4); returns how late it was, if it was."""
    stage = entry_stage(order.urgent).value
    limit = entry_limit(policy, order.urgent)
    order.open_clock(stage, started_at=received_at, due_at=received_at + limit)
    order.close_clock(stage, now=now)
    taken = now - received_at
    if taken <= limit:
        return None
    actor_id, role = actor
    minutes = int(taken.total_seconds() // 60)
    order.note(
        f"entered {minutes} min after receipt; the limit is {int(limit.total_seconds() // 60)} min"
        + (" (urgent)" if order.urgent else ""),
        actor_id=actor_id,
        role=role,
        now=now,
        action=LATE_ENTRY_ACTION,
    )
    return taken - limit
