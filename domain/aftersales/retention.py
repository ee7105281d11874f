"""Retention (R-7.3, R-X.5): how long archives and personal data are kept, exact to the day.

An order archived on local day D (company time zone) is kept for the retention period (3 years by
default) and erased from the local day D + retention on: its archive is deleted, and the personal
data of the order and everything linked to it (names, phones, emails, addresses, chat ids, photos
and file ids, free text) is erased; the anonymous facts the KPIs read stay (statuses, times,
clocks, ratings, complaint flags, exception types). A day that does not exist in the target month
(29 February) moves to the first day of the next month, so the data is kept at least the period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.orders.model import Order

# The audit action recorded when an order's personal data is erased.
ERASED_ACTION = "personal_data_erased"
_PERIOD = re.compile(r"(\d+)(y|m|d)")
PERIOD_HINT = "write 3y (years), 36m (months) or 1095d (days)"


@dataclass(frozen=True)
class RetentionPeriod:
    """How long an archive is kept: whole years, months or days."""

    amount: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> RetentionPeriod:
        """Reads a period written like 3y, 36m or 1095d."""
        match = _PERIOD.fullmatch(text.strip())
        if match is None or int(match[1]) == 0:
            raise ValueError(f"{text!r} is not a retention period; {PERIOD_HINT}")
        return cls(int(match[1]), match[2])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def after(self, day: date) -> date:
        """Returns the day the period has run from `day` (a missing day rolls to the next month's first)."""
        return _shift(day, self, 1)

    def before(self, day: date) -> date:
        """Returns the latest day whose period has run by `day`."""
        candidate = _shift(day, self, -1)
        # Going back can land one day early at a month end; step forward while still due.
        while self.after(candidate + timedelta(days=1)) <= day:
            candidate += timedelta(days=1)
        return candidate


def _shift(day: date, period: RetentionPeriod, sign: int) -> date:
    """Moves a day by the period, forwards or backwards."""
    if period.unit == "d":
        return day + timedelta(days=sign * period.amount)
    months = period.amount * (12 if period.unit == "y" else 1) * sign
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    try:
        return date(year, month + 1, day.day)
    except ValueError:
        # The day does not exist in that month: the first of the next one.
        year, month = divmod(index + 1, 12)
        return date(year, month + 1, 1)


def local_day(moment: datetime, timezone: str) -> date:
    """Returns the company-local date of a moment."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def erase_on(archived_at: datetime, period: RetentionPeriod, timezone: str) -> date:
    """Returns the local day from which an order archived at archived_at is erased."""
    return period.after(local_day(archived_at, timezone))


def retention_due(archived_at: datetime, now: datetime, period: RetentionPeriod, timezone: str) -> bool:
    """Whether an archive's retention has ended at now."""
    return local_day(now, timezone) >= erase_on(archived_at, period, timezone)


def archived_before(now: datetime, period: RetentionPeriod, timezone: str) -> datetime:
    """Returns the UTC moment before which every archive's retention has ended (for an indexed query)."""
    last_day = period.before(local_day(now, timezone))
    start = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))
    return start.astimezone(UTC)


def is_erased(order: Order) -> bool:
    """Whether the order's personal data has been erased (it is no longer kept)."""
    return any(line.action == ERASED_ACTION for line in order.audit)
