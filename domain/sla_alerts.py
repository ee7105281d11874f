"""SLA alerts as data: what the sweeps find, what they record, and where each department is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from domain.sla import Department


class AlertKind(StrEnum):
    """A stage clock at 80 % of its time, or past its due time."""

    WARNING = "warning"
    BREACH = "breach"


class EscalationLevel(IntEnum):
    """Who has been told about an unacknowledged alert, beyond the responsible department."""

    NONE = 0
    ORDER_DESK_HEAD = 1
    MANAGEMENT = 2


@dataclass(frozen=True)
class LastAction:
    """The last line of an order's audit trail: who acted last, as what, and when."""

    actor_id: int | None
    actor_role: str
    action: str
    at: datetime
    actor_name: str | None = None


@dataclass(frozen=True)
class DueClock:
    """A running stage clock the sweep looks at, with what an alert about it shows."""

    clock_id: int
    order_id: str
    order_ref: str
    stage: str
    started_at: datetime
    due_at: datetime
    paused_at: datetime | None = None
    last_action: LastAction | None = None


@dataclass(frozen=True)
class NewAlert:
    """An alert to record; recording it twice (same order, clock and kind) is a no-op."""

    order_id: str
    clock_id: int
    stage: str
    kind: AlertKind
    department: Department
    created_at: datetime
    # Alerts merged into one digest message share a batch, acknowledged by one button.
    batch: str | None = None


@dataclass(frozen=True)
class SlaAlert:
    """A recorded alert, with its acknowledgement and escalation state."""

    id: int
    order_id: str
    order_ref: str
    clock_id: int
    stage: str
    kind: AlertKind
    department: Department
    created_at: datetime
    due_at: datetime
    batch: str | None = None
    acknowledged_by: int | None = None
    acknowledged_by_name: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: EscalationLevel = EscalationLevel.NONE
    escalated_at: datetime | None = None

    @property
    def acknowledged(self) -> bool:
        """Whether someone has taken the alert on."""
        return self.acknowledged_at is not None


def chat_for(department: Department, team_chats: Mapping[str, int]) -> int | None:
    """Returns the chat of the department (department value -> chat id), else the order desk's."""
    # The order desk watches every order, so a department without a chat is told there.
    for candidate in (department, Department.ORDER_DESK):
        chat_id = team_chats.get(candidate.value)
        if chat_id is not None:
            return chat_id
    return None


def departments_of_chat(chat_id: int, team_chats: Mapping[str, int]) -> frozenset[Department]:
    """Returns the departments whose alerts go to this chat."""
    return frozenset(department for department in Department if chat_for(department, team_chats) == chat_id)


def format_span(span: timedelta) -> str:
    """Writes a length of time as 2d 3h 5m (minutes rounded down, at least 0m)."""
    minutes = max(int(span.total_seconds()) // 60, 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes or not parts:
        parts.append(f"{minutes}m")
    return " ".join(parts)


def N_(message: str) -> str:
    """Marks a message for the catalogs without translating it (it is translated where shown)."""
    return message


# English labels (translation msgids) of stages and departments in alerts, /sla and the digest.
STAGE_LABELS: Mapping[str, str] = {
    "entry": N_("offline entry"),
    "entry_urgent": N_("urgent offline entry"),
    "first_review": N_("first review"),
    "second_review": N_("second review"),
    "confirmation": N_("confirmation"),
    "picking": N_("picking"),
    "picking_overseas": N_("overseas picking"),
    "outbound": N_("outbound scan"),
    "booking": N_("booking and customs declaration"),
    "clearance": N_("customs clearance"),
    "last_mile": N_("last-mile start"),
    "customer_notice": N_("customer told of status change"),
    "cancel_check": N_("cancellation check"),
    "cancel_done": N_("cancellation done"),
    "refund": N_("refund"),
    "modification": N_("modification"),
    "delay_cause": N_("delay cause"),
    "delay_notice": N_("delay told to customer"),
    "evidence": N_("damage or loss evidence"),
    "claim_contact": N_("customer contacted about claim"),
    "compensation": N_("compensation paid"),
    "exception_record": N_("exception record"),
    "completion": N_("completion"),
    "survey": N_("follow-up survey"),
    "archive": N_("archive"),
}
DEPARTMENT_LABELS: Mapping[str, str] = {
    "order_desk": N_("order desk"),
    "order_desk_head": N_("order desk head"),
    "warehouse": N_("warehouse"),
    "logistics": N_("logistics"),
    "customer_service": N_("customer service"),
    "finance": N_("finance"),
    "management": N_("management"),
}
