"""The KPI formulas, targets and months as pure rules (R-8.2), without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.kpi import (
    COMPLETING_ACTIONS,
    EXCEPTION_ACTIONS,
    TARGETS,
    ErrorKind,
    ExceptionTally,
    Kpi,
    KpiInputs,
    Month,
    MonthError,
    OrderError,
    Ratio,
    StageTally,
    Verdict,
    accuracy,
    classify_audit,
    department_lookup,
    kpi_card,
    on_time,
    requested_month,
)
from domain.kpi_report import LateClosure, checks_due, lateness_by_person
from domain.orders.status import Action, Role
from domain.sla.policy_file import load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENT_OF = department_lookup(load_policy())


@pytest.mark.parametrize(
    ("kpi", "ratio", "verdict"),
    [
        (Kpi.ACCURACY, Ratio(199, 200), Verdict.MET),  # exactly 99.5 %
        (Kpi.ACCURACY, Ratio(1989, 2000), Verdict.MISSED),  # 99.45 %
        (Kpi.ON_TIME, Ratio(49, 50), Verdict.MET),  # exactly 98 %
        (Kpi.ON_TIME, Ratio(97, 99), Verdict.MISSED),  # 97.98 %
        (Kpi.EXCEPTION_SATISFACTION, Ratio(9, 10), Verdict.MET),
        (Kpi.EXCEPTION_SATISFACTION, Ratio(8, 9), Verdict.MISSED),
        (Kpi.COMPLAINT_RATE, Ratio(1, 100), Verdict.MET),  # at most 1 %
        (Kpi.COMPLAINT_RATE, Ratio(2, 199), Verdict.MISSED),  # 1.005 %
        (Kpi.COMPLAINT_RATE, Ratio(0, 0), Verdict.NO_DATA),
    ],
)
def test_targets_judge_the_exact_ratio(kpi: Kpi, ratio: Ratio, verdict: Verdict) -> None:
    assert TARGETS[kpi].verdict(ratio) is verdict


def test_targets_are_the_ones_of_the_requirements() -> None:
    assert {kpi: (target.percent, target.direction.value) for kpi, target in TARGETS.items()} == {
        Kpi.ACCURACY: (Decimal("99.5"), "at_least"),
        Kpi.ON_TIME: (Decimal("98"), "at_least"),
        Kpi.EXCEPTION_SATISFACTION: (Decimal("90"), "at_least"),
        Kpi.COMPLAINT_RATE: (Decimal("1"), "at_most"),
    }


def test_a_ratio_reads_as_a_percent_to_two_decimals() -> None:
    assert Ratio(2, 3).percent == Decimal("66.67")
    assert Ratio(1, 8).percent == Decimal("12.50")
    assert Ratio(0, 0).percent is None
    with pytest.raises(ValueError):
        Ratio(3, 2)


@pytest.mark.parametrize(
    ("action", "note", "channel", "kind"),
    [
        ("reject", "inconsistent: wrong postcode", "hotline", ErrorKind.ENTRY_MISTAKE),
        ("reject", "inconsistent", "email", ErrorKind.ENTRY_MISTAKE),
        ("reject", "inconsistent", "telegram", None),  # the customer entered it
        ("reject", "not_paid", "hotline", None),  # the customer's to fix
        ("pick_mismatch", "", "telegram", ErrorKind.PICK_MISMATCH),
        ("staff_correction", "address", "platform_api", ErrorKind.STAFF_CORRECTION),
        ("approve", "", "hotline", None),
    ],
)
def test_which_audit_lines_are_errors(action: str, note: str, channel: str, kind: ErrorKind | None) -> None:
    assert classify_audit(action, note, channel) is kind


def test_an_order_with_two_errors_counts_once() -> None:
    errors = [OrderError("a", ErrorKind.PICK_MISMATCH), OrderError("a", ErrorKind.WRONG_SHIPMENT)]

    assert accuracy(10, errors) == Ratio(9, 10)
    assert accuracy(10, errors, frozenset({Role.ORDER_DESK})) == Ratio(10, 10)


def test_on_time_is_per_step_and_per_department_of_the_policy() -> None:
    stages = [StageTally("first_review", 10, 9), StageTally("picking", 4, 4), StageTally("old_stage", 2, 0)]

    assert on_time(stages, DEPARTMENT_OF) == Ratio(13, 16)
    assert on_time(stages, DEPARTMENT_OF, frozenset({Role.WAREHOUSE})) == Ratio(4, 4)
    assert on_time(stages, DEPARTMENT_OF, stage="first_review") == Ratio(9, 10)


def test_a_month_without_records_has_no_figures() -> None:
    card = kpi_card(Month(2026, 3), KpiInputs(), DEPARTMENT_OF)

    assert {figure.verdict for figure in card.figures.values()} == {Verdict.NO_DATA}
    assert card.steps == {}


def test_exception_satisfaction_counts_answers_of_the_scope() -> None:
    inputs = KpiInputs(
        exceptions=[ExceptionTally(Role.LOGISTICS, 4, 3), ExceptionTally(Role.WAREHOUSE, 1, 1)]
    )

    card = kpi_card(Month(2026, 3), inputs, DEPARTMENT_OF, frozenset({Role.LOGISTICS}))

    assert card.figure(Kpi.EXCEPTION_SATISFACTION).ratio == Ratio(3, 4)


def test_completions_and_exceptions_come_from_the_transition_table() -> None:
    assert frozenset({Action.CONFIRM_RECEIPT, Action.COMPLETE}) == COMPLETING_ACTIONS
    assert frozenset({Action.HOLD_AT_CUSTOMS, Action.RAISE_EXCEPTION}) == EXCEPTION_ACTIONS


def test_a_month_starts_at_local_midnight() -> None:
    start, end = Month(2026, 3).bounds(SHANGHAI)

    assert (start, end) == (datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC))
    assert Month.of(datetime(2026, 3, 31, 16, 10, tzinfo=UTC), SHANGHAI) == Month(2026, 4)
    assert Month(2026, 1).previous() == Month(2025, 12)
    assert len(Month(2028, 2).days()) == 29


@pytest.mark.parametrize("text", ["2026-13", "March", "26-03", "2026/03"])
def test_a_month_written_wrongly_is_refused(text: str) -> None:
    with pytest.raises(MonthError):
        Month.parse(text)


def test_the_month_asked_for_is_this_one_by_default_and_never_a_future_one() -> None:
    now = datetime(2026, 3, 31, 17, tzinfo=UTC)  # Apr 1, 01:00 in Shanghai

    assert requested_month("", now, SHANGHAI) == Month(2026, 4)
    assert requested_month("", now, SHANGHAI, default=Month(2026, 3)) == Month(2026, 3)
    assert requested_month(" 2025-12 ", now, SHANGHAI) == Month(2025, 12)
    with pytest.raises(MonthError):
        requested_month("2026-05", now, SHANGHAI)


def test_progress_checks_are_due_at_nine_and_three_once_the_time_has_come() -> None:
    noon = datetime(2026, 3, 16, 12, tzinfo=SHANGHAI)

    assert checks_due([date(2026, 3, 15), date(2026, 3, 16)], noon, SHANGHAI) == [
        "2026-03-15T09:00",
        "2026-03-15T15:00",
        "2026-03-16T09:00",
    ]


def test_lateness_adds_up_per_department_and_person() -> None:
    late = [
        LateClosure("picking", 7, "Wang Wei", 2),
        LateClosure("outbound", 7, "Wang Wei", 1),
        LateClosure("first_review", 8, None, 1),
    ]

    people = lateness_by_person(late, DEPARTMENT_OF)

    assert [(person.department, person.actor_id, person.actor_name, person.count) for person in people] == [
        (Role.WAREHOUSE, 7, "Wang Wei", 3),
        (Role.ORDER_DESK, 8, None, 1),
    ]
