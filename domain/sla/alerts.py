"""SLA alerts as data: what the sweeps find, what they record, and where each department is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from domain.orders.model import StageClock
from domain.orders.status import TEAMS, Role


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

    def stage_clock(self) -> StageClock:
        """Rebuilds the domain clock, to judge it with the domain's rules."""
        return StageClock(self.stage, self.started_at, self.due_at, paused_at=self.paused_at)


@dataclass(frozen=True)
class NewAlert:
    """An alert to record; recording it twice (same order, clock and kind) is a no-op."""

    order_id: str
    clock_id: int
    stage: str
    kind: AlertKind
    department: Role
    created_at: datetime
    # Alerts merged into one digest message share a batch, acknowledged by one button.
    batch: str | None = None


@dataclass(frozen=True, kw_only=True)
class SlaAlert(NewAlert):
    """A recorded alert with its id, order reference and due time, and its acknowledgement and escalation."""

    id: int
    order_ref: str
    due_at: datetime
    acknowledged_by: int | None = None
    acknowledged_by_name: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: EscalationLevel = EscalationLevel.NONE
    escalated_at: datetime | None = None

    @property
    def acknowledged(self) -> bool:
        """Whether someone has taken the alert on."""
        return self.acknowledged_at is not None


def chat_for(department: Role, team_chats: Mapping[str, int]) -> int | None:
    """Returns the chat of the department (department value -> chat id), else the order desk's."""
    # The order desk watches every order, so a department without a chat is told there.
    for candidate in (department, Role.ORDER_DESK):
        chat_id = team_chats.get(candidate.value)
        if chat_id is not None:
            return chat_id
    return None


def departments_of_chat(chat_id: int, team_chats: Mapping[str, int]) -> frozenset[Role]:
    """Returns the departments whose alerts go to this chat."""
    return frozenset(team for team in TEAMS if chat_for(team, team_chats) == chat_id)
