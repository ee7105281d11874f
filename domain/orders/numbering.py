"""Formal order numbers (R-3.3): YYYYMMDD in the company time zone plus a daily serial."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

MIN_SERIAL_DIGITS = 3


def business_day(now: datetime, timezone: str) -> date:
    """Returns the calendar day of now in the company's time zone."""
    return now.astimezone(ZoneInfo(timezone)).date()


def format_order_number(day: date, serial: int) -> str:
    """Formats e.g. 20260315001; past 999 the serial widens (202603151000) instead of failing."""
    if serial < 1:
        raise ValueError("serial starts at 1")
    return f"{day:%Y%m%d}{serial:0{MIN_SERIAL_DIGITS}d}"


def parse_order_number(text: str) -> tuple[date, int] | None:
    """Splits a formal number back into day and serial, or None if it is not one."""
    text = text.strip()
    if not text.isdigit() or len(text) < 8 + MIN_SERIAL_DIGITS:
        return None
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return day, int(text[8:])
