"""What the SLA sweeps (application/sla_sweeps.py) are given and report: their texts, settings, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from application.ports import Outgoing
from application.sla_digest import DigestTexts
from domain.orders.status import Role
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, SlaAlert

# A Telegram group takes about 20 messages a minute.
GROUP_MESSAGES_PER_MINUTE = 20


class AlertTexts(DigestTexts, Protocol):
    """Writes the sweeps' messages in the team chats' language (presentation/sla_alerts.py)."""

    def alert(
        self, kind: AlertKind, due: DueClock, department: Role, alert_id: int, now: datetime
    ) -> Outgoing: ...

    def escalation(
        self, alert: SlaAlert, level: EscalationLevel, mentioned: Sequence[int], now: datetime
    ) -> Outgoing: ...

    def alert_line(self, kind: AlertKind, due: DueClock, now: datetime) -> str: ...

    def escalation_line(self, alert: SlaAlert, now: datetime) -> str: ...

    def merged_room(self) -> int: ...

    def merged(self, lines: Sequence[str], part: int, parts: int, batch: str | None) -> Outgoing: ...


@dataclass(frozen=True)
class SweepSettings:
    """How often and how much the sweeps do."""

    sweep_seconds: int = 60
    escalate_after: timedelta = timedelta(minutes=30)
    # More alerts than this for one chat in one sweep are merged into digest messages.
    merge_above: int = 10
    # Messages one chat gets from one sweep at most; the rest waits for the next sweep.
    max_messages_per_chat: int = GROUP_MESSAGES_PER_MINUTE
    # Clocks or alerts read per query in one sweep.
    batch_limit: int = 1000
    # Chats told side by side, each in its own transactions (issue 17: the database works on one
    # chat's alerts while the next chat's are prepared); 1 tells them one after another.
    parallel_chats: int = 1
    # Cancelled orders completed per sweep.
    completions: int = 100
    digest_hours: tuple[int, ...] = (9, 15)

    @property
    def messages_per_sweep(self) -> int:
        """Messages a chat may get from one sweep without passing the per-minute limit of a group."""
        per_minute_share = GROUP_MESSAGES_PER_MINUTE * self.sweep_seconds // 60
        return max(1, min(self.max_messages_per_chat, per_minute_share))


@dataclass
class SweepReport:
    """What one sweep did."""

    locked: bool = True
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    messages: int = 0
    deferred: int = 0
    completed: int = 0
    failed: int = 0
