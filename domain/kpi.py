"""The KPIs of R-8.2: formulas over plain records, their targets, and months in the company time zone.

Each KPI is a ratio of two counts of one month (README, "KPIs and supervision"):

- accuracy = orders received in the month with no error in entry, review or execution / orders
  received in the month. An error is one of `ErrorKind`: a rejection for a staff mistake (an
  offline order, entered by staff, rejected as inconsistent with what the customer asked), a
  correction after confirmation caused by staff, a count mismatch at picking, a wrong shipment.
  Target: at least 99.5 %.
- on-time = stage clocks closed in the month within their limit / stage clocks closed in the month.
  A clock's `met` is judged with paused time excluded (domain/sla/clocks.py), per step and per
  department answering for the step. Target: at least 98 %.
- exception satisfaction = satisfied answers / answers on exceptions closed in the month.
  Target: at least 90 %.
- complaint rate = orders completed in the month with a complaint / orders completed in the month.
  Target: at most 1 %.

A month with no denominator has no figure ("no data"), neither met nor missed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from domain.errors import DomainError
from domain.orders.status import STEP_DEPARTMENTS, TRANSITIONS, Action, Channel, OrderStatus, Role
from domain.review import RejectReason
from domain.sla.policy import SlaPolicy, Stage


class Kpi(StrEnum):
    """The four KPIs of R-8.2, in the order reports list them."""

    ACCURACY = "accuracy"
    ON_TIME = "on_time"
    EXCEPTION_SATISFACTION = "exception_satisfaction"
    COMPLAINT_RATE = "complaint_rate"


class Direction(StrEnum):
    """Whether a KPI must reach its target or stay under it."""

    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Verdict(StrEnum):
    """How a figure stands against its target."""

    MET = "met"
    MISSED = "missed"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class Ratio:
    """A KPI's numerator over its denominator."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if self.denominator < 0 or not 0 <= self.numerator <= max(self.denominator, 0):
            raise ValueError(f"{self.numerator}/{self.denominator} is not a ratio of counts")

    @property
    def percent(self) -> Decimal | None:
        """The ratio in percent, to two decimals; None without a denominator."""
        if self.denominator == 0:
            return None
        exact = Decimal(self.numerator) * 100 / Decimal(self.denominator)
        return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.numerator + other.numerator, self.denominator + other.denominator)


NO_RATIO = Ratio(0, 0)


@dataclass(frozen=True)
class Target:
    """A KPI's target in percent and whether the figure must reach it or stay under it."""

    percent: Decimal
    direction: Direction

    def verdict(self, ratio: Ratio) -> Verdict:
        """Judges the exact ratio (not its rounded percent) against the target."""
        if ratio.denominator == 0:
            return Verdict.NO_DATA
        exact = Decimal(ratio.numerator) * 100
        bound = self.percent * ratio.denominator
        met = exact >= bound if self.direction is Direction.AT_LEAST else exact <= bound
        return Verdict.MET if met else Verdict.MISSED


TARGETS: Mapping[Kpi, Target] = MappingProxyType(
    {
        Kpi.ACCURACY: Target(Decimal("99.5"), Direction.AT_LEAST),
        Kpi.ON_TIME: Target(Decimal("98"), Direction.AT_LEAST),
        Kpi.EXCEPTION_SATISFACTION: Target(Decimal("90"), Direction.AT_LEAST),
        Kpi.COMPLAINT_RATE: Target(Decimal("1"), Direction.AT_MOST),
    }
)


@dataclass(frozen=True)
class KpiFigure:
    """One KPI's ratio with its target and verdict."""

    kpi: Kpi
    ratio: Ratio

    @property
    def target(self) -> Target:
        """The KPI's target."""
        return TARGETS[self.kpi]

    @property
    def verdict(self) -> Verdict:
        """Met, missed, or no data."""
        return self.target.verdict(self.ratio)


class ErrorKind(StrEnum):
    """What counts as an error against accuracy; the value is the audit action that records it."""

    ENTRY_MISTAKE = "reject"
    STAFF_CORRECTION = "staff_correction"
    PICK_MISMATCH = "pick_mismatch"
    WRONG_SHIPMENT = "wrong_shipment"


# The department whose error it is: per-department accuracy counts only its own errors.
ERROR_DEPARTMENTS: Mapping[ErrorKind, Role] = MappingProxyType(
    {
        ErrorKind.ENTRY_MISTAKE: Role.ORDER_DESK,
        ErrorKind.STAFF_CORRECTION: Role.ORDER_DESK,
        ErrorKind.PICK_MISMATCH: Role.WAREHOUSE,
        ErrorKind.WRONG_SHIPMENT: Role.WAREHOUSE,
    }
)
# A rejection is a staff mistake when staff entered the order and it did not match the customer's needs.
ENTRY_MISTAKE_REASON = RejectReason.INCONSISTENT
OFFLINE_CHANNELS = frozenset(channel.value for channel in Channel if channel.offline)
# Errors found in the audit trail (the wrong shipment is an exception case's type).
AUDITED_ERRORS = (ErrorKind.ENTRY_MISTAKE, ErrorKind.STAFF_CORRECTION, ErrorKind.PICK_MISMATCH)

# The actions that complete an order and those that put it into exception, from the transition table.
COMPLETING_ACTIONS = frozenset(
    action for (_, action), rule in TRANSITIONS.items() if rule.target == OrderStatus.COMPLETED
)
EXCEPTION_ACTIONS = frozenset(
    action for (_, action), rule in TRANSITIONS.items() if rule.target == OrderStatus.EXCEPTION
)
ENTRY_STAGES = frozenset({Stage.ENTRY.value, Stage.ENTRY_URGENT.value})
# The departments KPIs are broken down by, in report order.
KPI_DEPARTMENTS = STEP_DEPARTMENTS


def classify_audit(action: str, note: str, channel: str) -> ErrorKind | None:
    """Says which error an audit line records on an order of the channel, if any."""
    if action == Action.REJECT.value:
        reason = note.split(":", 1)[0].strip()
        staff_entered = channel in OFFLINE_CHANNELS
        return ErrorKind.ENTRY_MISTAKE if staff_entered and reason == ENTRY_MISTAKE_REASON.value else None
    if action in (ErrorKind.STAFF_CORRECTION.value, ErrorKind.PICK_MISMATCH.value):
        return ErrorKind(action)
    return None


@dataclass(frozen=True)
class OrderError:
    """One error recorded on an order received in the month."""

    order_id: str
    kind: ErrorKind

    @property
    def department(self) -> Role:
        """The department whose error it is."""
        return ERROR_DEPARTMENTS[self.kind]


@dataclass(frozen=True)
class StageTally:
    """Stage clocks of one step closed in the month, and how many of them within the limit."""

    stage: str
    closed: int
    met: int


@dataclass(frozen=True)
class ExceptionTally:
    """Customer answers on exceptions one department handled that closed in the month."""

    department: Role
    answered: int
    satisfied: int


@dataclass(frozen=True)
class KpiInputs:
    """The counts of one month the four KPIs are worked out from."""

    orders: int = 0
    errors: Sequence[OrderError] = ()
    stages: Sequence[StageTally] = ()
    exceptions: Sequence[ExceptionTally] = ()
    completed: int = 0
    complained: int = 0


DepartmentOf = Callable[[str], Role | None]


def department_lookup(policy: SlaPolicy) -> DepartmentOf:
    """Returns the department answering for a stage key, None for a key the policy does not know."""

    def department_of(stage: str) -> Role | None:
        try:
            return policy.stage(stage).department
        except KeyError:
            return None

    return department_of


def accuracy(orders: int, errors: Iterable[OrderError], departments: frozenset[Role] | None = None) -> Ratio:
    """Orders with no error (of the departments, if named) / orders received."""
    wrong = {error.order_id for error in errors if departments is None or error.department in departments}
    return Ratio(max(orders - len(wrong), 0), orders)


def on_time(
    stages: Iterable[StageTally],
    department_of: DepartmentOf,
    departments: frozenset[Role] | None = None,
    stage: str | None = None,
) -> Ratio:
    """Stage clocks closed within their limit / stage clocks closed (of the departments or the step)."""
    total = NO_RATIO
    for tally in stages:
        if stage is not None and tally.stage != stage:
            continue
        if departments is not None and department_of(tally.stage) not in departments:
            continue
        total += Ratio(tally.met, tally.closed)
    return total


def exception_satisfaction(
    exceptions: Iterable[ExceptionTally], departments: frozenset[Role] | None = None
) -> Ratio:
    """Satisfied answers / answers on closed exceptions (of the departments, if named)."""
    total = NO_RATIO
    for tally in exceptions:
        if departments is None or tally.department in departments:
            total += Ratio(tally.satisfied, tally.answered)
    return total


def complaint_rate(completed: int, complained: int) -> Ratio:
    """Orders with a complaint / orders completed."""
    return Ratio(min(complained, completed), completed)


@dataclass(frozen=True)
class KpiCard:
    """A month's four KPIs for the company (or a set of departments), per department and per step."""

    month: Month
    figures: Mapping[Kpi, KpiFigure]
    departments: Mapping[Role, Mapping[Kpi, KpiFigure]] = field(default_factory=dict)
    steps: Mapping[str, Ratio] = field(default_factory=dict)
    scope: frozenset[Role] | None = None

    def figure(self, kpi: Kpi) -> KpiFigure:
        """One KPI's figure."""
        return self.figures[kpi]


# The KPIs that can be broken down by department (complaints belong to no department).
DEPARTMENT_KPIS = (Kpi.ACCURACY, Kpi.ON_TIME, Kpi.EXCEPTION_SATISFACTION)


def kpi_card(
    month: Month,
    inputs: KpiInputs,
    department_of: DepartmentOf,
    scope: frozenset[Role] | None = None,
) -> KpiCard:
    """Works the four KPIs out for the company, or for the departments in scope (a team chat's view)."""

    def figures(departments: frozenset[Role] | None) -> dict[Kpi, KpiFigure]:
        return {
            Kpi.ACCURACY: KpiFigure(Kpi.ACCURACY, accuracy(inputs.orders, inputs.errors, departments)),
            Kpi.ON_TIME: KpiFigure(Kpi.ON_TIME, on_time(inputs.stages, department_of, departments)),
            Kpi.EXCEPTION_SATISFACTION: KpiFigure(
                Kpi.EXCEPTION_SATISFACTION, exception_satisfaction(inputs.exceptions, departments)
            ),
            Kpi.COMPLAINT_RATE: KpiFigure(
                Kpi.COMPLAINT_RATE, complaint_rate(inputs.completed, inputs.complained)
            ),
        }

    shown = [department for department in KPI_DEPARTMENTS if scope is None or department in scope]
    by_department = {
        department: {kpi: figure for kpi, figure in figures(frozenset({department})).items()}
        for department in shown
    }
    steps: dict[str, Ratio] = {}
    for tally in sorted(inputs.stages, key=lambda tally: _stage_order(tally.stage)):
        if scope is None or department_of(tally.stage) in scope:
            steps[tally.stage] = steps.get(tally.stage, NO_RATIO) + Ratio(tally.met, tally.closed)
    return KpiCard(month, figures(scope), by_department, steps, scope)


def _stage_order(stage: str) -> tuple[int, str]:
    """Sorts stages in workflow order (the policy's), unknown ones last."""
    keys = [member.value for member in Stage]
    return (keys.index(stage), stage) if stage in keys else (len(keys), stage)


class MonthError(DomainError):
    """A month written wrongly, or one that has not begun."""


_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, whose days are judged in the company time zone."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 9998:
            raise MonthError(f"{self.year}-{self.month:02d} is not a month")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Reads YYYY-MM (e.g. 2026-03); raises MonthError otherwise."""
        match = _MONTH.match(text)
        if match is None:
            raise MonthError(f"{text!r} is not a month written as YYYY-MM")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: datetime, zone: ZoneInfo) -> Month:
        """The month a moment falls in, in the time zone."""
        local = moment.astimezone(zone)
        return cls(local.year, local.month)

    def previous(self) -> Month:
        """The month before."""
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def following(self) -> Month:
        """The month after."""
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def first_day(self) -> date:
        """The month's first day."""
        return date(self.year, self.month, 1)

    def days(self) -> list[date]:
        """Every day of the month."""
        end = self.following().first_day
        return [self.first_day + timedelta(days=offset) for offset in range((end - self.first_day).days)]

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The month as [start, end) in aware UTC: local midnight of its first day to the next month's."""
        return local_midnight(self.first_day, zone), local_midnight(self.following().first_day, zone)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def requested_month(text: str, now: datetime, zone: ZoneInfo, *, default: Month | None = None) -> Month:
    """The month a command names (else the default, else the current month); never one not begun."""
    current = Month.of(now, zone)
    month = Month.parse(text) if text.strip() else (default or current)
    if month > current:
        raise MonthError(f"{month} has not begun")
    return month


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A day as [start, end) in aware UTC, judged in the time zone."""
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The moment a day begins in the time zone, in aware UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
