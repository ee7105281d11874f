"""The monthly supervision report (R-8.1) and the R-5.1 record: plain records and the rules over them.

Process compliance counts, for the month: late entries (offline-entry clocks closed past their
limit), steps closed past their limit by department and by the person whose action closed them,
steps still open past a limit that fell due in the month, SLA alerts by department (acknowledged,
escalated, left unacknowledged), and the 09:00 / 15:00 progress checks held against those due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.kpi import ENTRY_STAGES, KPI_DEPARTMENTS, DepartmentOf, KpiCard, Month
from domain.orders.status import Role
from domain.sla.alerts import AlertKind

# The order desk's progress checks, in company time.
CHECK_HOURS = (9, 15)


@dataclass(frozen=True)
class LateClosure:
    """Clocks of one step that one person's action closed past the limit."""

    stage: str
    actor_id: int | None
    actor_name: str | None
    count: int


@dataclass(frozen=True)
class OverdueTally:
    """Clocks of one step still running past a due time that fell in the month."""

    stage: str
    count: int


@dataclass(frozen=True)
class AlertTally:
    """SLA alerts of one kind raised for one department in the month, and what became of them."""

    department: Role
    kind: str
    total: int
    acknowledged: int
    escalated_to_head: int
    escalated_to_management: int

    @property
    def unacknowledged(self) -> int:
        """Alerts nobody took on."""
        return self.total - self.acknowledged


@dataclass(frozen=True)
class ProgressCheck:
    """One recorded 09:00 or 15:00 progress check (the tracking log)."""

    slot: str
    at: datetime
    overdue: int
    at_risk: int


class ChaseKind(StrEnum):
    """What happened to chase a step past its limit (R-5.1)."""

    WARNING = "warning"
    BREACH = "breach"
    ESCALATED_TO_HEAD = "escalated_to_head"
    ESCALATED_TO_MANAGEMENT = "escalated_to_management"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class Chase:
    """One chase of a day: an alert raised, escalated or acknowledged."""

    at: datetime
    kind: ChaseKind
    order_ref: str
    stage: str
    department: Role
    who: str | None = None


@dataclass(frozen=True)
class SurveyTally:
    """Survey answers given in the month: how many, the sum of their ratings, how many complained."""

    answers: int = 0
    rating_total: int = 0
    complaints: int = 0

    @property
    def average_rating(self) -> Decimal | None:
        """The mean rating to one decimal; None without answers."""
        if self.answers == 0:
            return None
        return (Decimal(self.rating_total) / self.answers).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ExceptionCaseTally:
    """Exception cases of one type opened and closed in the month."""

    type: str
    opened: int
    closed: int


@dataclass(frozen=True)
class ExceptionMark:
    """Orders put into exception in the month by one action of the audit trail."""

    action: str
    count: int


@dataclass(frozen=True)
class PersonLateness:
    """Steps one person closed past their limit, with the department answering for them."""

    department: Role | None
    actor_id: int | None
    actor_name: str | None
    count: int


@dataclass(frozen=True)
class DepartmentCompliance:
    """One department's compliance figures for the month."""

    department: Role
    late_closures: int = 0
    overdue_open: int = 0
    breaches: int = 0
    unacknowledged: int = 0
    escalated: int = 0


@dataclass(frozen=True)
class SupervisionFacts:
    """Everything the supervision report needs besides the KPI inputs, as the database holds it."""

    late: Sequence[LateClosure] = ()
    overdue: Sequence[OverdueTally] = ()
    alerts: Sequence[AlertTally] = ()
    checks: Sequence[ProgressCheck] = ()
    survey: SurveyTally = SurveyTally()
    exception_cases: Sequence[ExceptionCaseTally] = ()
    exceptions_marked: Sequence[ExceptionMark] = ()


@dataclass(frozen=True)
class SupervisionReport:
    """The month's supervision report: compliance, timeliness, satisfaction, exceptions and KPIs."""

    month: Month
    generated_at: datetime
    card: KpiCard
    previous: KpiCard
    late_entries: int
    people: Sequence[PersonLateness]
    departments: Sequence[DepartmentCompliance]
    checks_held: int
    checks_due: int
    missed_checks: Sequence[str]
    facts: SupervisionFacts


def check_slot(moment: datetime, zone: ZoneInfo) -> str:
    """Names a progress check's slot as the digest records it, e.g. 2026-03-16T09:00."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d}T{local:%H}:00"


def checks_due(
    days: Iterable[date], now: datetime, zone: ZoneInfo, hours: Sequence[int] = CHECK_HOURS
) -> list[str]:
    """The progress-check slots of the days that were due by now (every day, R-5.1)."""
    slots = []
    for day in days:
        for hour in hours:
            moment = datetime.combine(day, time(hour), tzinfo=zone)
            if moment <= now:
                slots.append(check_slot(moment, zone))
    return slots


def late_entries(late: Iterable[LateClosure]) -> int:
    """Offline orders entered past their entry limit (R-1.4)."""
    return sum(closure.count for closure in late if closure.stage in ENTRY_STAGES)


def lateness_by_person(late: Iterable[LateClosure], department_of: DepartmentOf) -> list[PersonLateness]:
    """Steps closed past their limit per department and person, the most first."""
    counts: dict[tuple[Role | None, int | None], int] = {}
    names: dict[int | None, str | None] = {}
    for closure in late:
        key = (department_of(closure.stage), closure.actor_id)
        counts[key] = counts.get(key, 0) + closure.count
        names[closure.actor_id] = closure.actor_name or names.get(closure.actor_id)
    people = [
        PersonLateness(department, actor_id, names.get(actor_id), count)
        for (department, actor_id), count in counts.items()
    ]
    order = {department: index for index, department in enumerate(KPI_DEPARTMENTS)}
    return sorted(
        people,
        key=lambda person: (
            -person.count,
            len(order) if person.department is None else order.get(person.department, len(order)),
            person.actor_id or 0,
        ),
    )


def compliance_by_department(
    facts: SupervisionFacts, department_of: DepartmentOf
) -> list[DepartmentCompliance]:
    """Each department's late closures, steps still overdue and alerts, in report order."""
    figures = {department: DepartmentCompliance(department) for department in KPI_DEPARTMENTS}

    def add(department: Role | None, **counts: int) -> None:
        if department is None:
            return
        current = figures.get(department, DepartmentCompliance(department))
        figures[department] = DepartmentCompliance(
            department,
            **{name: getattr(current, name) + counts.get(name, 0) for name in _COMPLIANCE_COUNTS},
        )

    for closure in facts.late:
        add(department_of(closure.stage), late_closures=closure.count)
    for tally in facts.overdue:
        add(department_of(tally.stage), overdue_open=tally.count)
    for alert in facts.alerts:
        if alert.kind == AlertKind.BREACH:
            add(
                alert.department,
                breaches=alert.total,
                unacknowledged=alert.unacknowledged,
                escalated=alert.escalated_to_head,
            )
    return list(figures.values())


_COMPLIANCE_COUNTS = ("late_closures", "overdue_open", "breaches", "unacknowledged", "escalated")


def supervision_report(
    *,
    card: KpiCard,
    previous: KpiCard,
    facts: SupervisionFacts,
    department_of: DepartmentOf,
    now: datetime,
    zone: ZoneInfo,
    hours: Sequence[int] = CHECK_HOURS,
) -> SupervisionReport:
    """Puts the month's report together from its KPI cards and facts."""
    due = checks_due(card.month.days(), now, zone, hours)
    held = {check.slot for check in facts.checks}
    return SupervisionReport(
        month=card.month,
        generated_at=now,
        card=card,
        previous=previous,
        late_entries=late_entries(facts.late),
        people=lateness_by_person(facts.late, department_of),
        departments=compliance_by_department(facts, department_of),
        checks_held=len(held & set(due)),
        checks_due=len(due),
        missed_checks=[slot for slot in due if slot not in held],
        facts=facts,
    )
