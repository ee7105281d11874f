"""Business calendar: working days, company working hours and deadline arithmetic for SLA clocks.

Semantics (R-P timeliness, time-limit table of REQUIREMENTS.md):

- A working day is a day of the calendar's country that is not a public holiday and not a weekend
  day, except that an official make-up working day (调休上班, a weekend day declared a working day)
  counts as a working day. For China the `holidays` package (0.50+, checked with 0.109) carries both
  the holidays and the make-up days (`weekend_workdays`), e.g. 2025 National Day Oct 1-8 with
  make-up Sun 2025-09-28 and Sat 2025-10-11, Spring Festival Jan 28-Feb 4 with make-up Sun
  2025-01-26 and Sat 2025-02-08. It knows the make-up days of the years the State Council has
  announced (through 2026 in 0.109); `extra_holidays` / `extra_workdays` cover a year the installed
  package does not know yet.
- Business time is the time inside the company's working hours (default 09:00-18:00 local time, so
  9 hours) of working days. Days are judged in the calendar's time zone, not in UTC.
- `N wd` (working days) means N x the length of a working day of business time. The deadline is
  the moment that much business time has passed after the start: started Friday 16:00 with 1wd ->
  the next working day 16:00; started outside working hours, counting begins at the next opening,
  so Saturday 10:00 + 1wd -> Monday 18:00 and Monday 08:00 + 1wd -> Monday 18:00. A deadline that
  lands exactly on a closing time stays there (Monday 09:00 + 1wd -> Monday 18:00, not Tuesday
  09:00).
- `m`, `h`, `d`, `w` are wall-clock (elapsed) time: 1d is 24 hours, 1w is 168 hours, whatever the
  calendar says.

Every datetime taken must be aware; every datetime returned is aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.sla.country_holidays import country_holidays

# No real calendar has ten years without a working day; this only stops a misconfigured one looping.
_MAX_DAYS_SCANNED = 3660
_ONE_DAY = timedelta(days=1)

DurationUnit = Literal["m", "h", "d", "w", "wd"]
_WALL_UNITS: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_UNITS = (*_WALL_UNITS, "wd")
_DURATION = re.compile(r"(\d+)(wd|m|h|d|w)")
DURATION_HINT = "write 30m, 2h, 3wd or 1w"


@dataclass(frozen=True)
class Duration:
    """A time limit as the policy writes it: an amount of minutes, hours, days, weeks or working days."""

    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise ValueError(f"a duration needs a whole positive amount, got {self.amount!r}")
        if self.unit not in _UNITS:
            raise ValueError(f"unknown duration unit {self.unit!r}; use one of {', '.join(_UNITS)}")

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Reads a duration written like 30m, 2h, 1d, 3wd or 1w."""
        match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
        amount = int(match[1])
        if amount == 0:
            raise ValueError(f"{text!r} is not a time limit: it must be longer than zero")
        return cls(amount, cast(DurationUnit, match[2]))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def working_days(self) -> bool:
        """Whether the duration counts business time rather than elapsed time."""
        return self.unit == "wd"

    @property
    def wall_time(self) -> timedelta:
        """Returns the elapsed time of a wall-clock duration; working days have none without a calendar."""
        if self.working_days:
            raise ValueError(f"{self} counts working days; ask a BusinessCalendar for its length")
        return _WALL_UNITS[self.unit] * self.amount


class BusinessCalendar:
    """Working days and hours of one country and time zone."""

    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        country: str = "CN",
        working_hours: tuple[time, time] = (time(9), time(18)),
        *,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
    ) -> None:
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {timezone!r}") from error
        try:
            self._holidays = country_holidays(country)
        except NotImplementedError as error:
            raise ValueError(f"no holiday calendar for country {country!r}") from error
        opens, closes = working_hours
        if opens >= closes:
            raise ValueError(f"working hours must open before they close, got {opens}-{closes}")
        self.timezone = timezone
        self.country = country
        self.opens = opens
        self.closes = closes
        self.working_day_length = datetime.combine(date.min, closes) - datetime.combine(date.min, opens)
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            raise ValueError(f"dates both holiday and workday: {sorted(both)}")
        self._workday_cache: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        """Tells whether the company works on this local date (make-up working days included)."""
        known = self._workday_cache.get(day)
        if known is None:
            if day in self.extra_workdays:
                known = True
            elif day in self.extra_holidays:
                known = False
            else:
                known = self._holidays.is_working_day(day)
            self._workday_cache[day] = known
        return known

    def add(self, start: datetime, duration: Duration) -> datetime:
        """Returns the moment the duration has run from start: business time for wd, wall-clock otherwise."""
        if duration.working_days:
            return self.add_working_time(start, self.working_day_length * duration.amount)
        return _utc(start) + duration.wall_time

    def length(self, duration: Duration) -> timedelta:
        """Returns how much time the duration measures: business time for wd, elapsed time otherwise."""
        if duration.working_days:
            return self.working_day_length * duration.amount
        return duration.wall_time

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """Returns the moment `amount` of business time after start (before it, if negative)."""
        start = _utc(start)
        if not amount:
            return start
        if amount < timedelta(0):
            return self._subtract_working_time(start, -amount)
        remaining = amount
        day = start.astimezone(self.zone).date()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_working_day(day):
                opens, closes = self._working_span(day)
                begin = max(start, opens)
                if begin <= closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += _ONE_DAY
        raise ValueError(f"no working day within {_MAX_DAYS_SCANNED} days after {start.isoformat()}")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Returns the business time from a to b (negative if b is before a)."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.working_time_between(b, a)
        total = timedelta(0)
        day = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._working_span(day)
                overlap = min(b, closes) - max(a, opens)
                if overlap > timedelta(0):
                    total += overlap
            day += _ONE_DAY
        return total

    def _subtract_working_time(self, end: datetime, amount: timedelta) -> datetime:
        """Returns the moment that has `amount` of business time between it and end."""
        remaining = amount
        day = end.astimezone(self.zone).date()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_working_day(day):
                opens, closes = self._working_span(day)
                finish = min(end, closes)
                if finish >= opens:
                    available = finish - opens
                    if remaining <= available:
                        return finish - remaining
                    remaining -= available
            day -= _ONE_DAY
        raise ValueError(f"no working day within {_MAX_DAYS_SCANNED} days before {end.isoformat()}")

    def _working_span(self, day: date) -> tuple[datetime, datetime]:
        """Returns the opening and closing moments of a local date, in UTC."""
        opens = datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC)
        return opens, closes


def _utc(moment: datetime) -> datetime:
    """Converts an aware datetime to UTC; refuses a naive one, whose zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass an aware one")
    return moment.astimezone(UTC)
