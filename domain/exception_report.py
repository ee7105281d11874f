"""The monthly exception report (R-6.5): figures of one month worked out from plain facts of its cases.

For month M (local midnight of its first day to local midnight of the next month's, company time):

- counts by type and by type and cause: cases opened in M;
- time to resolve: cases closed in M, from opening to closing (wall-clock), per type the median and
  the longest; a case is *within its limits* when none of its timed steps (the SLA clocks of the
  exception steps: cause found, customer told, evidence, contact, compensation paid, record) closed
  past its limit or is still open past it; share within limits = such cases / cases closed in M;
- each timed step: steps of the cases closed in M within their limit / those steps;
- compensation paid: payouts paid in M, summed per currency;
- satisfaction with the handling: satisfied answers / answers, on cases closed in M (the exception
  satisfaction KPI, target at least 90 %);
- the most frequent causes: causes of the cases opened in M, most cases first, with the improvement
  actions the order desk recorded against them in M;
- follow-up: the actions recorded in the month before M, each with the cases of its cause opened in M
  (recurred when there is at least one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.errors import DomainError
from domain.kpi import Kpi, KpiFigure, Month, Ratio

# How many of the most frequent causes the report names.
TOP_CAUSES = 5
# The SLA stages of an exception case's steps (domain/data/sla_policy.toml, R-6.3 to ): the clocks
# of a case's order that start while the case is open, or as it closes, are its timed steps.
CASE_STAGES = ("delay_cause", "delay_notice", "evidence", "claim_contact", "compensation", "exception_record")
# A case recorded without a cause is counted under this cause name.
NO_CAUSE = ""


@dataclass(frozen=True, order=True)
class Cause:
    """A cause of the cause list of one exception type (the same name under two types is two causes)."""

    type: str
    name: str


@dataclass(frozen=True)
class StepFact:
    """One timed step of a case: its SLA stage, when it was due and how it ended (if it did)."""

    stage: str
    due_at: datetime
    finished_at: datetime | None = None
    met: bool | None = None

    def late(self, now: datetime) -> bool:
        """Closed past its limit, or still open past it."""
        if self.finished_at is not None:
            return self.met is False
        return self.due_at < now


@dataclass(frozen=True)
class CaseFact:
    """An exception case as the report reads it: type, cause, opened and closed, its steps, the answer."""

    case_id: int
    type: str
    cause: str | None
    opened_at: datetime
    closed_at: datetime | None = None
    steps: tuple[StepFact, ...] = ()
    # The customer's one-tap answer on closing; None while unanswered.
    satisfied: bool | None = None

    @property
    def cause_key(self) -> Cause:
        """The case's cause (NO_CAUSE under its type when none was recorded)."""
        return Cause(self.type, self.cause or NO_CAUSE)

    def within_limits(self, now: datetime) -> bool:
        """No timed step of the case was late."""
        return not any(step.late(now) for step in self.steps)


@dataclass(frozen=True)
class PayoutFact:
    """A compensation paid or applied for an exception: a payout, a freight discount or a coupon."""

    kind: str
    amount: Decimal
    currency: str
    paid_at: datetime


@dataclass(frozen=True)
class ImprovementAction:
    """An improvement action the order desk recorded against a cause (R-6.5 monthly review)."""

    id: int
    cause: Cause
    action: str
    recorded_by: int
    recorded_at: datetime
    recorded_by_name: str | None = None


@dataclass(frozen=True)
class ExceptionFacts:
    """What the report of a month reads: cases opened or closed in it, payouts, recorded actions."""

    cases: Sequence[CaseFact] = ()
    payouts: Sequence[PayoutFact] = ()
    # Actions recorded in the month, and in the month before it (followed up).
    actions: Sequence[ImprovementAction] = ()
    previous_actions: Sequence[ImprovementAction] = ()


@dataclass(frozen=True)
class TypeFigures:
    """One exception type's figures of the month."""

    type: str
    opened: int
    closed: int
    within_limits: Ratio
    median: timedelta | None
    longest: timedelta | None


@dataclass(frozen=True)
class CauseCount:
    """Cases of one cause opened in the month."""

    cause: Cause
    count: int


@dataclass(frozen=True)
class StepFigures:
    """One timed step's share within its limit, over the cases closed in the month."""

    stage: str
    within_limit: Ratio


@dataclass(frozen=True)
class CompensationTotal:
    """Compensation of one kind paid or applied in the month in one currency."""

    kind: str
    currency: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class CauseRank:
    """One of the most frequent causes, its share of the month's cases, and the actions against it."""

    cause: Cause
    count: int
    share: Ratio
    actions: tuple[ImprovementAction, ...]


@dataclass(frozen=True)
class FollowUp:
    """An action of the month before, and how many cases of its cause opened this month."""

    action: ImprovementAction
    recurrences: int

    @property
    def recurred(self) -> bool:
        """The cause came back this month."""
        return self.recurrences > 0


@dataclass(frozen=True)
class ExceptionReport:
    """The month's exception report."""

    month: Month
    generated_at: datetime
    opened: int
    closed: int
    by_type: tuple[TypeFigures, ...]
    by_cause: tuple[CauseCount, ...]
    within_limits: Ratio
    steps: tuple[StepFigures, ...]
    compensation: tuple[CompensationTotal, ...]
    satisfaction: KpiFigure
    top_causes: tuple[CauseRank, ...]
    follow_ups: tuple[FollowUp, ...]
    actions: tuple[ImprovementAction, ...]


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    """Whether a moment falls in [start, end)."""
    return moment is not None and start <= moment < end


def _recorded_order(action: ImprovementAction) -> tuple[datetime, int]:
    """Sorts actions as they were recorded (by id within the same moment)."""
    return action.recorded_at, action.id


def _recorded_between(
    actions: Iterable[ImprovementAction], start: datetime, end: datetime
) -> list[ImprovementAction]:
    """The actions recorded in [start, end), in the order they were recorded."""
    return sorted(
        (action for action in actions if _within(action.recorded_at, start, end)), key=_recorded_order
    )


def median(spans: Sequence[timedelta]) -> timedelta | None:
    """The middle span (the mean of the two middle ones for an even count); None without spans."""
    if not spans:
        return None
    ordered = sorted(spans)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _share_within_limits(cases: Sequence[CaseFact], now: datetime) -> Ratio:
    """The cases none of whose timed steps was late, over all the cases."""
    return Ratio(sum(case.within_limits(now) for case in cases), len(cases))


def _type_figures(opened: Sequence[CaseFact], closed: Sequence[CaseFact], now: datetime) -> list[TypeFigures]:
    """Per type: opened, closed, closed within limits, median and longest time to resolve."""
    opened_by_type = Counter(case.type for case in opened)
    closed_by_type: dict[str, list[CaseFact]] = defaultdict(list)
    for case in closed:
        closed_by_type[case.type].append(case)
    figures = []
    for kind in sorted(set(opened_by_type) | set(closed_by_type)):
        cases = closed_by_type.get(kind, [])
        spans = [case.closed_at - case.opened_at for case in cases if case.closed_at is not None]
        figures.append(
            TypeFigures(
                type=kind,
                opened=opened_by_type.get(kind, 0),
                closed=len(cases),
                within_limits=_share_within_limits(cases, now),
                median=median(spans),
                longest=max(spans) if spans else None,
            )
        )
    return figures


def _step_figures(closed: Iterable[CaseFact], now: datetime) -> list[StepFigures]:
    """Per timed step of the cases closed: how many were within their limit."""
    met: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case in closed:
        for step in case.steps:
            total[step.stage] += 1
            met[step.stage] += not step.late(now)
    return [StepFigures(stage, Ratio(met[stage], total[stage])) for stage in sorted(total)]


def _compensation(payouts: Iterable[PayoutFact]) -> list[CompensationTotal]:
    """Compensation summed per kind and currency."""
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    counts: Counter[tuple[str, str]] = Counter()
    for payout in payouts:
        amounts[payout.kind, payout.currency] += payout.amount
        counts[payout.kind, payout.currency] += 1
    return [
        CompensationTotal(kind, currency, amounts[kind, currency], counts[kind, currency])
        for kind, currency in sorted(amounts)
    ]


def paid_per_currency(totals: Iterable[CompensationTotal]) -> dict[str, Decimal]:
    """Every kind of compensation summed per currency, currencies in order."""
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for total in totals:
        amounts[total.currency] += total.amount
    return {currency: amounts[currency] for currency in sorted(amounts)}


def _ranked_causes(
    opened: Sequence[CaseFact], actions: Sequence[ImprovementAction], limit: int
) -> list[CauseRank]:
    """The most frequent causes of the cases opened (ties by name), with the actions recorded against them."""
    counts = Counter(case.cause_key for case in opened)
    against: dict[Cause, list[ImprovementAction]] = defaultdict(list)
    for action in sorted(actions, key=_recorded_order):
        against[action.cause].append(action)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [
        CauseRank(cause, number, Ratio(number, len(opened)), tuple(against.get(cause, ())))
        for cause, number in ranked
    ]


def exception_report(
    month: Month,
    facts: ExceptionFacts,
    *,
    zone: ZoneInfo,
    now: datetime,
    top: int = TOP_CAUSES,
) -> ExceptionReport:
    """Works the month's figures out of the facts (facts outside the month are ignored)."""
    start, end = month.bounds(zone)
    opened = [case for case in facts.cases if _within(case.opened_at, start, end)]
    closed = [case for case in facts.cases if _within(case.closed_at, start, end)]
    answered = [case for case in closed if case.satisfied is not None]
    previous_start, _ = month.previous().bounds(zone)
    previous_actions = _recorded_between(facts.previous_actions, previous_start, start)
    actions = tuple(_recorded_between(facts.actions, start, end))
    by_cause = Counter(case.cause_key for case in opened)
    return ExceptionReport(
        month=month,
        generated_at=now,
        opened=len(opened),
        closed=len(closed),
        by_type=tuple(_type_figures(opened, closed, now)),
        # Per type, its most frequent causes first.
        by_cause=tuple(
            CauseCount(cause, number)
            for cause, number in sorted(
                by_cause.items(), key=lambda item: (item[0].type, -item[1], item[0].name)
            )
        ),
        within_limits=_share_within_limits(closed, now),
        steps=tuple(_step_figures(closed, now)),
        compensation=tuple(
            _compensation(payout for payout in facts.payouts if _within(payout.paid_at, start, end))
        ),
        satisfaction=KpiFigure(
            Kpi.EXCEPTION_SATISFACTION, Ratio(sum(bool(case.satisfied) for case in answered), len(answered))
        ),
        top_causes=tuple(_ranked_causes(opened, actions, top)),
        follow_ups=tuple(FollowUp(action, by_cause.get(action.cause, 0)) for action in previous_actions),
        actions=actions,
    )


def report_due(now: datetime, zone: ZoneInfo, hour: int = 9) -> Month | None:
    """The month whose report is due by now: last month's from the 1st at `hour` local; None before."""
    local = now.astimezone(zone)
    if local.day == 1 and local.hour < hour:
        return None
    return Month.of(now, zone).previous()


# The most characters an improvement action keeps (the report lists it whole).
ACTION_MAX = 500


class ActionTextError(DomainError):
    """An improvement action that is empty or too long."""

    def __init__(self, length: int) -> None:
        self.length = length
        super().__init__(f"an improvement action needs 1 to {ACTION_MAX} characters, not {length}")


def check_action(text: str) -> str:
    """The action's text on one line, white space folded; raises ActionTextError if empty or too long."""
    folded = " ".join(text.split())
    if not folded or len(folded) > ACTION_MAX:
        raise ActionTextError(len(folded))
    return folded
