"""After-sales rules with a controlled clock: quiet period, survey working hours, lock, retention day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.aftersales.completion import PROBLEM_REPORTED, CompletionReason, completion_due
from domain.aftersales.retention import RetentionPeriod, archived_before, erase_on, retention_due
from domain.aftersales.survey import answer_locked, in_working_hours, is_complaint, survey_due
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar, Duration
from tests.storage.factories import make_order

CAL = BusinessCalendar()
TZ = "Asia/Shanghai"
# Monday 2026-03-16 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 3, 16, 2, tzinfo=UTC)
EVERY = frozenset(Role)


def delivered(at: datetime = MONDAY_10):
    order = make_order(status=OrderStatus.OUT_FOR_DELIVERY)
    order.apply(Action.DELIVER, actor_id=1, roles=EVERY, now=at)
    order.shipment.delivered_at = at
    return order


def test_a_delivered_order_completes_after_the_quiet_period_not_before() -> None:
    order, quiet = delivered(), Duration(3, "wd")

    # Three working days: Thursday 10:00.
    assert completion_due(order, datetime(2026, 3, 19, 1, 59, tzinfo=UTC), quiet, CAL) is None
    assert (
        completion_due(order, datetime(2026, 3, 19, 2, tzinfo=UTC), quiet, CAL)
        is CompletionReason.QUIET_PERIOD
    )


def test_a_reported_problem_stops_the_completion() -> None:
    order = delivered()
    order.note(
        "", actor_id=5, role=Role.CUSTOMER, now=MONDAY_10 + timedelta(hours=1), action=PROBLEM_REPORTED
    )

    assert completion_due(order, MONDAY_10 + timedelta(days=30), Duration(3, "wd"), CAL) is None


def test_an_order_back_from_a_closed_exception_completes_at_once() -> None:
    from domain.orders.status import ExceptionType

    order = delivered()
    order.note("", actor_id=5, role=Role.CUSTOMER, now=MONDAY_10, action=PROBLEM_REPORTED)
    later = MONDAY_10 + timedelta(hours=2)
    order.apply(
        Action.RAISE_EXCEPTION, actor_id=1, roles=EVERY, now=later, exception_type=ExceptionType.DAMAGED
    )
    order.apply(Action.RESOLVE_EXCEPTION, actor_id=1, roles=EVERY, now=later + timedelta(hours=1))

    assert (
        completion_due(order, later + timedelta(hours=1), Duration(3, "wd"), CAL)
        is CompletionReason.EXCEPTION_CLOSED
    )


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (datetime(2026, 3, 17, 1, 0, tzinfo=UTC), True),  # Tuesday 09:00
        (datetime(2026, 3, 17, 0, 59, tzinfo=UTC), False),  # Tuesday 08:59
        (datetime(2026, 3, 17, 10, 0, tzinfo=UTC), False),  # Tuesday 18:00: closed
        (datetime(2026, 3, 17, 15, 0, tzinfo=UTC), False),  # Tuesday 23:00: night
        (datetime(2026, 3, 21, 2, 0, tzinfo=UTC), False),  # Saturday 10:00
        (datetime(2026, 10, 1, 2, 0, tzinfo=UTC), False),  # National Day holiday 10:00
    ],
)
def test_the_survey_goes_out_only_in_working_hours(moment: datetime, working: bool) -> None:
    completed = datetime(2026, 3, 13, 2, tzinfo=UTC)

    assert in_working_hours(CAL, moment) is working
    assert survey_due(completed, moment, Duration(1, "wd"), CAL) is working


def test_the_survey_waits_its_working_day_after_completion() -> None:
    completed = MONDAY_10

    assert not survey_due(completed, MONDAY_10 + timedelta(hours=23), Duration(1, "wd"), CAL)
    assert survey_due(completed, MONDAY_10 + timedelta(days=1), Duration(1, "wd"), CAL)


def test_a_complaint_is_a_low_rating_or_a_marked_comment() -> None:
    assert [is_complaint(rating, False) for rating in (1, 2, 3, 4, 5)] == [True, True, False, False, False]
    assert is_complaint(5, True)


def test_an_answer_locks_after_its_window() -> None:
    assert not answer_locked(MONDAY_10, MONDAY_10 + timedelta(hours=23, minutes=59), timedelta(hours=24))
    assert answer_locked(MONDAY_10, MONDAY_10 + timedelta(hours=24), timedelta(hours=24))


def test_retention_ends_exactly_on_the_local_day_three_years_on() -> None:
    period = RetentionPeriod.parse("3y")
    # Archived at 23:30 on 2026-03-05 in Shanghai (15:30Z): a local day later than its UTC date.
    archived = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)

    assert erase_on(archived, period, TZ).isoformat() == "2029-03-05"
    # 23:59 on 2029-03-04 local is still kept; 00:00 on 2029-03-05 local is not.
    assert not retention_due(archived, datetime(2029, 3, 4, 15, 59, tzinfo=UTC), period, TZ)
    assert retention_due(archived, datetime(2029, 3, 4, 16, 0, tzinfo=UTC), period, TZ)
    # The query bound agrees with the rule on both sides of the boundary.
    assert archived < archived_before(datetime(2029, 3, 4, 16, 0, tzinfo=UTC), period, TZ)
    assert not archived < archived_before(datetime(2029, 3, 4, 15, 59, tzinfo=UTC), period, TZ)


def test_a_leap_day_archive_is_kept_until_the_first_of_march() -> None:
    period = RetentionPeriod.parse("3y")
    archived = datetime(2028, 2, 29, 4, tzinfo=UTC)

    assert erase_on(archived, period, TZ).isoformat() == "2031-03-01"
    assert not retention_due(archived, datetime(2031, 2, 28, 15, 59, tzinfo=UTC), period, TZ)
    assert retention_due(archived, datetime(2031, 2, 28, 16, 0, tzinfo=UTC), period, TZ)


@pytest.mark.parametrize("text", ["", "3", "0y", "3x", "y"])
def test_a_wrong_retention_period_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="retention period"):
        RetentionPeriod.parse(text)
