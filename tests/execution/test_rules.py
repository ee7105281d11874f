"""Validation of the values staff type and the step rules of execution (R-4), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import IllegalTransition, NotPermitted
from domain.execution import (
    AlreadyDone,
    ExecutionError,
    check_picked,
    check_step,
    clean_text,
    future_time,
    normalize_carrier,
    normalize_courier_phone,
    normalize_waybill,
    parse_local_time,
    parse_picked,
)
from domain.orders.status import Action, OrderStatus, Role, Service
from domain.text import without_controls
from tests.execution.conftest import execution_order

NOW = datetime(2026, 3, 15, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
ZONE = "Asia/Shanghai"
LOGISTICS = frozenset({Role.LOGISTICS})


@pytest.mark.parametrize(
    ("carrier", "typed", "stored"),
    [
        ("DHL", "123 456 7890", "1234567890"),
        ("EMS", "ee123456785cn", "EE123456785CN"),
        ("AWB", "160-12345675", "160-12345675"),
        ("UPS", "1Z999AA10123456784", "1Z999AA10123456784"),
        ("Sea Freight Co", "SFC-778899", "SFC-778899"),
    ],
)
def test_waybills_in_the_carriers_format_are_accepted(carrier: str, typed: str, stored: str) -> None:
    assert normalize_waybill(normalize_carrier(carrier), typed) == stored


@pytest.mark.parametrize(
    ("carrier", "typed"),
    [
        ("DHL", "12345"),
        ("EMS", "EE123456784CN"),
        ("AWB", "160-12345674"),
        ("MSC", "MAEU123456789"),
        ("other", "ab"),
    ],
)
def test_waybills_not_in_the_format_or_with_a_wrong_check_digit_are_refused(carrier: str, typed: str) -> None:
    with pytest.raises(ExecutionError) as refused:
        normalize_waybill(normalize_carrier(carrier), typed)
    assert refused.value.code in ("waybill.format", "waybill.invalid")


def test_carrier_names_map_to_their_code() -> None:
    assert normalize_carrier("  dhl express ") == "DHL"
    assert normalize_carrier("China Post EMS") == "EMS"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-03-16 10:00", datetime(2026, 3, 16, 2, 0, tzinfo=UTC)),
        ("03-16 10:00", datetime(2026, 3, 16, 2, 0, tzinfo=UTC)),
        ("18:00", datetime(2026, 3, 15, 10, 0, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_company_zone(typed: str, expected: datetime) -> None:
    assert parse_local_time(typed, ZONE, NOW) == expected


@pytest.mark.parametrize(
    ("typed", "code"), [("09:00", "time.past"), ("2027-03-15 09:00", "time.too_far"), ("soon", "time.format")]
)
def test_estimates_must_lie_ahead(typed: str, code: str) -> None:
    with pytest.raises(ExecutionError) as refused:
        future_time(typed, ZONE, NOW)
    assert refused.value.code == code


def test_courier_phones_are_read_in_the_destination_country() -> None:
    assert normalize_courier_phone("030 12345678", "DE") == "+493012345678"
    assert normalize_courier_phone("+86 138 0013 8000", "DE") == "+8613800138000"
    with pytest.raises(ExecutionError) as refused:
        normalize_courier_phone("12345", "DE")
    assert refused.value.params["example"].startswith("+49")


def test_the_count_must_match_the_order_sku_by_sku() -> None:
    order = execution_order()

    assert check_picked(order, parse_picked("• tea-01 × 2\n- SILK-7: 3\n")) == {"TEA-01": 2, "SILK-7": 3}
    for typed, code in (
        ("TEA-01 2", "pick.missing"),
        ("TEA-01 2\nSILK-7 3\nPEN 1", "pick.unknown"),
        ("TEA-01 3\nSILK-7 3", "pick.quantity"),
    ):
        with pytest.raises(ExecutionError) as refused:
            check_picked(order, parse_picked(typed))
        assert refused.value.code == code
    with pytest.raises(ExecutionError) as unreadable:
        parse_picked("TEA-01")
    assert unreadable.value.code == "pick.line"


def test_the_transition_table_and_roles_decide_each_step() -> None:
    order = execution_order()
    order.status = OrderStatus.ARRIVED

    check_step(order, Action.CLEAR_CUSTOMS, LOGISTICS)
    check_step(order, Action.RAISE_EXCEPTION, LOGISTICS)
    with pytest.raises(NotPermitted):
        check_step(order, Action.CLEAR_CUSTOMS, frozenset({Role.WAREHOUSE}))
    with pytest.raises(IllegalTransition):
        check_step(order, Action.START_LAST_MILE, LOGISTICS)


def test_overseas_orders_have_no_booking_and_a_passed_step_names_who_did_it() -> None:
    order = execution_order(Service.OVERSEAS_WAREHOUSE)
    order.status = OrderStatus.OUTBOUND
    with pytest.raises(IllegalTransition):
        check_step(order, Action.BOOK, LOGISTICS)
    check_step(order, Action.START_LAST_MILE, LOGISTICS)

    order.apply(Action.START_LAST_MILE, actor_id=401, roles=LOGISTICS, now=NOW + timedelta(hours=1))
    with pytest.raises(AlreadyDone) as done:
        check_step(order, Action.START_LAST_MILE, LOGISTICS)
    assert done.value.event is not None and done.value.event.actor_id == 401


def test_staff_free_text_with_a_control_character_is_refused_and_relayed_text_is_cleaned() -> None:
    """Issue 11: a NUL in a courier's name never reaches the database; relayed notes lose controls."""
    with pytest.raises(ExecutionError) as refused:
        clean_text("Li\x00 Wei", "courier.invalid")
    assert refused.value.code == "text.control"
    assert without_controls("line one\nline\x00 two\x07\ttab") == "line one\nline two\ttab"
