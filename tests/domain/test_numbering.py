"""Formal order numbers: YYYYMMDD in the company time zone + a serial of at least 3 digits (R-3.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.orders.numbering import business_day, format_order_number, parse_order_number


def test_format_pads_to_three_digits() -> None:
    assert format_order_number(date(2026, 3, 15), 1) == "20260315001"


def test_format_widens_past_999() -> None:
    assert format_order_number(date(2026, 3, 15), 999) == "20260315999"
    assert format_order_number(date(2026, 3, 15), 1000) == "202603151000"


def test_serial_starts_at_one() -> None:
    with pytest.raises(ValueError):
        format_order_number(date(2026, 3, 15), 0)


def test_day_is_taken_in_the_company_time_zone() -> None:
    late_evening_utc = datetime(2026, 3, 14, 17, 30, tzinfo=UTC)
    assert business_day(late_evening_utc, "Asia/Shanghai") == date(2026, 3, 15)
    assert business_day(late_evening_utc, "Europe/Berlin") == date(2026, 3, 14)


def test_parse_round_trips() -> None:
    assert parse_order_number("202603151000") == (date(2026, 3, 15), 1000)
    assert parse_order_number("20260315001") == (date(2026, 3, 15), 1)
    assert parse_order_number("R-7K3F9P2Q") is None
    assert parse_order_number("20261399001") is None
