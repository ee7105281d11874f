"""The monthly exception report worked out from facts (R-6.5): a fixed month whose figures are stated here.

The month is March 2026 in Asia/Shanghai ([2026-02-28 16:00Z, 2026-03-31 16:00Z)); now is
2026-04-02 10:00 local.

Cases opened in March: C1, C2 (delay, weather), C3 (delay, carrier capacity; closed in April),
C5 (damaged, packing; opened 23:30 on Mar 31 local), C7 (lost in transit), C8 (delay, no cause yet) = 6.
C4 (damaged, packing) opened in February and closed in March; C6 (wrong shipment) opened at 00:10
on Apr 1 local is April's.
Cases closed in March: C1 (6 h, every step in time, satisfied), C2 (24 h, its cause found late,
not satisfied), C4 (4 days, its compensation still unpaid past its due, unanswered), C7 (4 days 2 h,
satisfied) = 4; within their limits: C1, C7 = 2 / 4.
    delay: opened 4, closed 2, within limits 1 / 2, median 15 h, longest 24 h
    damaged: opened 1, closed 1, within limits 0 / 1, median = longest = 4 days
    lost: opened 1, closed 1, within limits 1 / 1, median = longest = 4 days 2 h
Steps of the cases closed: claim contact 1 / 1, compensation 0 / 1, delay cause 1 / 2, delay
notice 1 / 1, evidence 2 / 2, exception record 1 / 1.
Satisfaction: 2 satisfied of 3 answers (66.67 %, target 90 %: missed).
Compensation paid in March: payouts 500 CNY and 100 USD (at 23:00 on Mar 31 local), a coupon of
50 CNY; not March: 300 CNY at 00:30 on Apr 1 local, 200 CNY at 23:50 on Feb 28 local.
    CNY 550.00, USD 100.00
Most frequent causes: delay/weather 2 of 6, then one each (by type and name): damaged/packing,
delay/(none), delay/carrier capacity, lost/lost in transit.
Actions recorded in March: A1 on delay/weather, A2 on damaged/packing (A3, on Apr 1, is April's).
Actions of February followed up: P1 on delay/weather (recurred: 2 cases), P2 on
wrong shipment/picking error (not recurred); P3 of January is not followed up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.exception_report import (
    NO_CAUSE,
    CaseFact,
    Cause,
    CauseCount,
    CompensationTotal,
    ExceptionFacts,
    ExceptionReport,
    ImprovementAction,
    PayoutFact,
    StepFact,
    StepFigures,
    TypeFigures,
    exception_report,
    median,
    paid_per_currency,
    report_due,
)
from domain.kpi import Month, Ratio, Verdict

ZONE = ZoneInfo("Asia/Shanghai")
MARCH = Month(2026, 3)


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time of 2026 as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


NOW = local(4, 2)
WEATHER = Cause("delay", "weather")
PACKING = Cause("damaged", "packing")
PICKING = Cause("wrong_shipment", "picking_error")


def step(stage: str, due: datetime, finished: datetime | None = None, met: bool | None = None) -> StepFact:
    """A timed step of a case."""
    return StepFact(stage, due, finished, met)


CASES = (
    CaseFact(
        1,
        "delay",
        "weather",
        local(3, 2, 10),
        local(3, 2, 16),
        (
            step("delay_cause", local(3, 2, 12), local(3, 2, 11), True),
            step("delay_notice", local(3, 2, 11), local(3, 2, 10, 30), True),
            step("exception_record", local(3, 3, 16), local(3, 2, 18), True),
        ),
        satisfied=True,
    ),
    CaseFact(
        2,
        "delay",
        "weather",
        local(3, 10, 9),
        local(3, 11, 9),
        (step("delay_cause", local(3, 10, 11), local(3, 10, 13), False),),
        satisfied=False,
    ),
    CaseFact(3, "delay", "carrier_capacity", local(3, 20), local(4, 2, 9)),
    CaseFact(
        4,
        "damaged",
        "packing",
        local(2, 27),
        local(3, 3),
        (
            step("evidence", local(2, 27, 12), local(2, 27, 11), True),
            step("claim_contact", local(2, 27, 13), local(2, 27, 12), True),
            step("compensation", local(3, 5, 18)),
        ),
    ),
    CaseFact(5, "damaged", "packing", local(3, 31, 23, 30)),
    CaseFact(6, "wrong_shipment", "picking_error", local(4, 1, 0, 10)),
    CaseFact(
        7,
        "lost",
        "lost_in_transit",
        local(3, 5),
        local(3, 9, 12),
        (step("evidence", local(3, 5, 12), local(3, 5, 11), True),),
        satisfied=True,
    ),
    CaseFact(8, "delay", None, local(3, 15)),
)
PAYOUTS = (
    PayoutFact("payout", Decimal("500.00"), "CNY", local(3, 8)),
    PayoutFact("coupon", Decimal("50.00"), "CNY", local(3, 12)),
    PayoutFact("payout", Decimal("100.00"), "USD", local(3, 31, 23)),
    PayoutFact("payout", Decimal("300.00"), "CNY", local(4, 1, 0, 30)),
    PayoutFact("payout", Decimal("200.00"), "CNY", local(2, 28, 23, 50)),
)
A1 = ImprovementAction(11, WEATHER, "Book a second carrier for typhoon weeks", 301, local(3, 3))
A2 = ImprovementAction(12, PACKING, "Double boxes for glass", 301, local(3, 20))
A3 = ImprovementAction(13, WEATHER, "Too late for March", 301, local(4, 1, 9))
P1 = ImprovementAction(1, WEATHER, "Watch the typhoon forecast", 305, local(2, 10))
P2 = ImprovementAction(2, PICKING, "Scan every SKU", 305, local(2, 20))
P3 = ImprovementAction(3, PACKING, "January's", 305, local(1, 20))
FACTS = ExceptionFacts(CASES, PAYOUTS, (A1, A2, A3), (P3, P2, P1))


@pytest.fixture
def report() -> ExceptionReport:
    """March's report."""
    return exception_report(MARCH, FACTS, zone=ZONE, now=NOW)


def test_counts_by_type_and_cause_are_the_cases_opened_in_the_month(report: ExceptionReport) -> None:
    assert (report.opened, report.closed) == (6, 4)
    assert report.by_cause == (
        CauseCount(PACKING, 1),
        CauseCount(WEATHER, 2),
        CauseCount(Cause("delay", NO_CAUSE), 1),
        CauseCount(Cause("delay", "carrier_capacity"), 1),
        CauseCount(Cause("lost", "lost_in_transit"), 1),
    )


def test_time_to_resolve_per_type_against_the_limits(report: ExceptionReport) -> None:
    assert report.by_type == (
        TypeFigures("damaged", 1, 1, Ratio(0, 1), timedelta(days=4), timedelta(days=4)),
        TypeFigures("delay", 4, 2, Ratio(1, 2), timedelta(hours=15), timedelta(hours=24)),
        TypeFigures("lost", 1, 1, Ratio(1, 1), timedelta(days=4, hours=2), timedelta(days=4, hours=2)),
    )
    assert report.within_limits == Ratio(2, 4)
    assert report.steps == (
        StepFigures("claim_contact", Ratio(1, 1)),
        StepFigures("compensation", Ratio(0, 1)),
        StepFigures("delay_cause", Ratio(1, 2)),
        StepFigures("delay_notice", Ratio(1, 1)),
        StepFigures("evidence", Ratio(2, 2)),
        StepFigures("exception_record", Ratio(1, 1)),
    )


def test_compensation_paid_is_summed_per_currency_within_the_local_month(report: ExceptionReport) -> None:
    assert report.compensation == (
        CompensationTotal("coupon", "CNY", Decimal("50.00"), 1),
        CompensationTotal("payout", "CNY", Decimal("500.00"), 1),
        CompensationTotal("payout", "USD", Decimal("100.00"), 1),
    )
    assert paid_per_currency(report.compensation) == {"CNY": Decimal("550.00"), "USD": Decimal("100.00")}


def test_satisfaction_is_the_share_satisfied_of_those_who_answered(report: ExceptionReport) -> None:
    assert report.satisfaction.ratio == Ratio(2, 3)
    assert report.satisfaction.ratio.percent == Decimal("66.67")
    assert report.satisfaction.verdict is Verdict.MISSED


def test_the_most_frequent_causes_carry_the_actions_recorded_against_them(report: ExceptionReport) -> None:
    assert [(rank.cause, rank.count, rank.share) for rank in report.top_causes] == [
        (WEATHER, 2, Ratio(2, 6)),
        (PACKING, 1, Ratio(1, 6)),
        (Cause("delay", NO_CAUSE), 1, Ratio(1, 6)),
        (Cause("delay", "carrier_capacity"), 1, Ratio(1, 6)),
        (Cause("lost", "lost_in_transit"), 1, Ratio(1, 6)),
    ]
    assert report.top_causes[0].actions == (A1,)
    assert report.top_causes[1].actions == (A2,)
    assert report.actions == (A1, A2)
    top_two = exception_report(MARCH, FACTS, zone=ZONE, now=NOW, top=2)
    assert [rank.cause for rank in top_two.top_causes] == [WEATHER, PACKING]


def test_last_months_actions_say_whether_their_cause_recurred(report: ExceptionReport) -> None:
    assert [(follow.action, follow.recurrences, follow.recurred) for follow in report.follow_ups] == [
        (P1, 2, True),
        (P2, 0, False),
    ]


def test_an_empty_month_has_no_figures() -> None:
    report = exception_report(Month(2026, 1), ExceptionFacts(), zone=ZONE, now=NOW)

    assert (report.opened, report.closed, report.by_type, report.top_causes) == (0, 0, (), ())
    assert report.within_limits == Ratio(0, 0)
    assert report.satisfaction.verdict is Verdict.NO_DATA


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    hours = [timedelta(hours=value) for value in (5, 1, 3, 9)]

    assert median(hours) == timedelta(hours=4)
    assert median(hours[:3]) == timedelta(hours=3)
    assert median([]) is None


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (local(4, 1, 8, 59), None),
        (local(4, 1, 9), Month(2026, 3)),
        (local(4, 17, 3), Month(2026, 3)),
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), None),  # 00:30 on Jan 1 local
        (datetime(2027, 1, 1, 1, 0, tzinfo=UTC), Month(2026, 12)),  # 09:00 on Jan 1 local
    ],
)
def test_the_report_of_last_month_is_due_from_the_first_at_nine_local(
    now: datetime, due: Month | None
) -> None:
    assert report_due(now, ZONE) == due
