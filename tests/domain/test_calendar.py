"""Business calendar: working days with Chinese holidays and make-up days, business-time deadlines (R-P)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.sla.calendar import BusinessCalendar, Duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = BusinessCalendar()


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """Builds a Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # National Day 2025: Oct 1-8 off, Sun Sep 28 and Sat Oct 11 worked instead.
        (date(2025, 9, 27), False),
        (date(2025, 9, 28), True),
        (date(2025, 9, 30), True),
        (date(2025, 10, 1), False),
        (date(2025, 10, 6), False),
        (date(2025, 10, 8), False),
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),
        (date(2025, 10, 12), False),
        # Spring Festival 2025: Jan 28-Feb 4 off, Sun Jan 26 and Sat Feb 8 worked instead.
        (date(2025, 1, 25), False),
        (date(2025, 1, 26), True),
        (date(2025, 1, 27), True),
        (date(2025, 1, 28), False),
        (date(2025, 2, 4), False),
        (date(2025, 2, 5), True),
        (date(2025, 2, 8), True),
        (date(2025, 2, 9), False),
        # An ordinary week.
        (date(2025, 3, 7), True),
        (date(2025, 3, 8), False),
        (date(2025, 3, 9), False),
        (date(2025, 3, 10), True),
    ],
)
def test_working_days_follow_chinese_holidays_and_make_up_days(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Same working-hours position on the next working day.
        (sh(2025, 3, 5, 16), 1, sh(2025, 3, 6, 16)),
        # Friday afternoon: the weekend does not count.
        (sh(2025, 3, 7, 16), 1, sh(2025, 3, 10, 16)),
        # Started outside working hours: counting begins at the next opening.
        (sh(2025, 3, 8, 10), 1, sh(2025, 3, 10, 18)),
        (sh(2025, 3, 10, 8), 1, sh(2025, 3, 10, 18)),
        (sh(2025, 3, 10, 19), 1, sh(2025, 3, 11, 18)),
        # A deadline landing on a closing time stays there.
        (sh(2025, 3, 10, 9), 1, sh(2025, 3, 10, 18)),
        (sh(2025, 3, 10, 9), 3, sh(2025, 3, 12, 18)),
        # National Day: Sep 30 16:00 + 3wd = 2h on Sep 30, Oct 9, Oct 10, 7h on make-up Saturday Oct 11.
        (sh(2025, 9, 30, 16), 3, sh(2025, 10, 11, 16)),
        # Friday before National Day: the make-up Sunday Sep 28 is the next working day.
        (sh(2025, 9, 26, 10), 1, sh(2025, 9, 28, 10)),
        # Spring Festival: Mon Jan 27 10:00 has 8h left, then nothing until Wed Feb 5.
        (sh(2025, 1, 27, 10), 1, sh(2025, 2, 5, 10)),
        # Started on the make-up Sunday Jan 26 itself.
        (sh(2025, 1, 26, 12), 1, sh(2025, 1, 27, 12)),
    ],
)
def test_working_day_durations_count_business_time(start: datetime, days: int, due: datetime) -> None:
    result = CALENDAR.add(start, Duration(days, "wd"))

    assert result == due
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("duration", "elapsed"),
    [
        (Duration(30, "m"), timedelta(minutes=30)),
        (Duration(2, "h"), timedelta(hours=2)),
        (Duration(1, "d"), timedelta(hours=24)),
        (Duration(1, "w"), timedelta(days=7)),
    ],
)
def test_wall_clock_durations_ignore_holidays_and_hours(duration: Duration, elapsed: timedelta) -> None:
    start = sh(2025, 9, 30, 23, 30)

    result = CALENDAR.add(start, duration)

    assert result == start + elapsed
    assert result.tzinfo is UTC


def test_working_days_are_judged_in_the_calendar_time_zone() -> None:
    # Sunday 23:00 UTC is already Monday 07:00 in Shanghai: one business hour later is Monday 10:00.
    start = datetime(2025, 3, 9, 23, tzinfo=UTC)

    assert CALENDAR.add_working_time(start, timedelta(hours=1)) == sh(2025, 3, 10, 10)


@pytest.mark.parametrize(
    ("a", "b", "business"),
    [
        (sh(2025, 3, 10, 10), sh(2025, 3, 10, 12, 30), timedelta(hours=2, minutes=30)),
        (sh(2025, 3, 7, 16), sh(2025, 3, 10, 10), timedelta(hours=3)),
        (sh(2025, 3, 8, 0), sh(2025, 3, 9, 23), timedelta(0)),
        (sh(2025, 3, 10, 7), sh(2025, 3, 10, 20), timedelta(hours=9)),
        (sh(2025, 9, 30, 9), sh(2025, 10, 9, 9), timedelta(hours=9)),
        (sh(2025, 10, 10, 9), sh(2025, 10, 12, 23), timedelta(hours=18)),
    ],
)
def test_working_time_between_counts_only_working_hours(
    a: datetime, b: datetime, business: timedelta
) -> None:
    assert CALENDAR.working_time_between(a, b) == business
    assert CALENDAR.working_time_between(b, a) == -business


@pytest.mark.parametrize(
    ("end", "amount", "start"),
    [
        (sh(2025, 3, 10, 10), timedelta(hours=2), sh(2025, 3, 7, 17)),
        (sh(2025, 3, 10, 10), timedelta(hours=1), sh(2025, 3, 10, 9)),
        (sh(2025, 10, 9, 10), timedelta(hours=3), sh(2025, 9, 30, 16)),
    ],
)
def test_negative_working_time_counts_back(end: datetime, amount: timedelta, start: datetime) -> None:
    assert CALENDAR.add_working_time(end, -amount) == start


@pytest.mark.parametrize("start", [sh(2025, 9, 26, 9, 30), sh(2025, 9, 30, 17, 45), sh(2025, 1, 24, 11)])
@pytest.mark.parametrize("hours", [0.5, 1, 8.75, 9, 27, 40])
def test_adding_working_time_and_measuring_it_agree(start: datetime, hours: float) -> None:
    amount = timedelta(hours=hours)

    assert CALENDAR.working_time_between(start, CALENDAR.add_working_time(start, amount)) == amount


def test_extra_dates_cover_years_the_holiday_package_does_not_know() -> None:
    calendar = BusinessCalendar(extra_holidays=[date(2025, 3, 10)], extra_workdays=[date(2025, 3, 8)])

    assert calendar.is_working_day(date(2025, 3, 8))
    assert not calendar.is_working_day(date(2025, 3, 10))
    assert calendar.add(sh(2025, 3, 7, 16), Duration(1, "wd")) == sh(2025, 3, 8, 16)


def test_company_working_hours_are_configurable() -> None:
    calendar = BusinessCalendar(working_hours=(time(8, 30), time(17, 30)))

    assert calendar.working_day_length == timedelta(hours=9)
    assert calendar.add(sh(2025, 3, 8, 10), Duration(1, "wd")) == sh(2025, 3, 10, 17, 30)


@pytest.mark.parametrize(
    "arguments",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"country": "XX"},
        {"working_hours": (time(18), time(9))},
        {"extra_holidays": [date(2025, 3, 8)], "extra_workdays": [date(2025, 3, 8)]},
    ],
)
def test_a_misconfigured_calendar_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(**arguments)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add(datetime(2025, 3, 10, 10), Duration(1, "h"))


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30m", Duration(30, "m")),
        ("2h", Duration(2, "h")),
        ("1d", Duration(1, "d")),
        ("1w", Duration(1, "w")),
        ("3wd", Duration(3, "wd")),
        ("48h", Duration(48, "h")),
    ],
)
def test_durations_parse_and_format_round_trip(text: str, duration: Duration) -> None:
    assert Duration.parse(text) == duration
    assert str(duration) == text
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize("text", ["2x", "-1h", "1.5h", "h", "", "3 wd", "1hw", "0h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace(".", r"\.")):
        Duration.parse(text)


def test_working_days_have_no_wall_clock_length() -> None:
    with pytest.raises(ValueError, match="working days"):
        _ = Duration(3, "wd").wall_time
    assert CALENDAR.length(Duration(3, "wd")) == timedelta(hours=27)
    assert CALENDAR.length(Duration(2, "h")) == timedelta(hours=2)
