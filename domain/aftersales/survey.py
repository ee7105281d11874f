"""The follow-up survey's rules (R-7.2): when it goes out, what is a complaint, how long an answer may change.

The survey goes out SURVEY_AFTER the completion (1 working day by default), and only while the
company works: never at night, at weekends or on holidays in the company's time zone. One reminder
follows SURVEY_REMINDER_AFTER the survey if it is unanswered. A rating of 2 or less, or a comment
the customer marks as a complaint, is a complaint (the complaint-rate KPI). An answer can be
changed for SURVEY_EDITABLE_FOR after it was first given, then it is locked.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from domain.errors import DomainError
from domain.sla.calendar import BusinessCalendar, Duration

RATINGS = (1, 2, 3, 4, 5)
# A rating at or below this is a complaint by itself.
COMPLAINT_AT_MOST = 2
# The deep link a customer answers by: /start survey-<token> (Telegram allows 64 characters).
DEEP_LINK_PREFIX = "survey-"
COMMENT_MAX = 1000


def new_survey_token() -> str:
    """Makes the unguessable token a survey is answered by (the deep link, the email's link)."""
    return secrets.token_urlsafe(16)


def is_complaint(rating: int, marked: bool) -> bool:
    """Whether an answer counts as a complaint."""
    return rating <= COMPLAINT_AT_MOST or marked


def check_rating(rating: int) -> int:
    """Returns a valid rating or raises."""
    if rating not in RATINGS:
        raise DomainError(f"a rating is 1 to 5, got {rating}")
    return rating


def in_working_hours(calendar: BusinessCalendar, moment: datetime) -> bool:
    """Whether the company works at this moment (working day, within working hours, local time)."""
    local = moment.astimezone(calendar.zone)
    return calendar.is_working_day(local.date()) and calendar.opens <= local.time() < calendar.closes


def survey_due(completed: datetime, now: datetime, after: Duration, calendar: BusinessCalendar) -> bool:
    """Whether the survey of an order completed at `completed` may go out now."""
    return calendar.add(completed, after) <= now and in_working_hours(calendar, now)


def reminder_due(sent: datetime, now: datetime, after: Duration, calendar: BusinessCalendar) -> bool:
    """Whether the one reminder of an unanswered survey sent at `sent` may go out now."""
    return calendar.add(sent, after) <= now and in_working_hours(calendar, now)


def answer_locked(first_answered: datetime, now: datetime, editable_for: timedelta) -> bool:
    """Whether an answer first given at first_answered can no longer be changed."""
    return now >= first_answered + editable_for


def clean_comment(text: str) -> str:
    """Returns the comment trimmed and cut to its limit; raises for an empty one."""
    comment = " ".join(text.split())
    if not comment:
        raise DomainError("an empty comment")
    return comment[:COMMENT_MAX]
