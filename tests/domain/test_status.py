"""The transition table is the spec: every (status, action) pair, for every service (R-P, R-3, R-4)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from domain.errors import DomainError, IllegalTransition, NotPermitted
from domain.orders.events import OrderStatusChanged
from domain.orders.responsibilities import ACTION_ROLES
from domain.orders.status import (
    RESUME,
    TRANSITIONS,
    Action,
    ExceptionType,
    OrderStatus,
    Role,
    Service,
    allowed_actions,
    next_status,
)
from tests.storage.factories import make_order

NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)

# The spec, written out by hand so a change to the table must be a deliberate change here too.
EXPECTED: dict[tuple[OrderStatus, Action], OrderStatus | str] = {
    (OrderStatus.SUBMITTED, Action.PASS_VALIDATION): OrderStatus.PENDING_REVIEW,
    (OrderStatus.SUBMITTED, Action.FAIL_VALIDATION): OrderStatus.VALIDATION_FAILED,
    (OrderStatus.VALIDATION_FAILED, Action.RESUBMIT): OrderStatus.SUBMITTED,
    (OrderStatus.PENDING_REVIEW, Action.APPROVE): OrderStatus.AWAITING_CONFIRMATION,
    (OrderStatus.PENDING_REVIEW, Action.REFER_SECOND_REVIEW): OrderStatus.PENDING_SECOND_REVIEW,
    (OrderStatus.PENDING_REVIEW, Action.REJECT): OrderStatus.REJECTED,
    (OrderStatus.PENDING_SECOND_REVIEW, Action.APPROVE_SECOND): OrderStatus.AWAITING_CONFIRMATION,
    (OrderStatus.PENDING_SECOND_REVIEW, Action.REJECT): OrderStatus.REJECTED,
    (OrderStatus.REJECTED, Action.RESUBMIT): OrderStatus.SUBMITTED,
    (OrderStatus.AWAITING_CONFIRMATION, Action.CONFIRM): OrderStatus.CONFIRMED,
    (OrderStatus.CONFIRMED, Action.PICK): OrderStatus.PICKED,
    (OrderStatus.PICKED, Action.OUTBOUND_SCAN): OrderStatus.OUTBOUND,
    (OrderStatus.OUTBOUND, Action.BOOK): OrderStatus.BOOKED,
    (OrderStatus.BOOKED, Action.DEPART): OrderStatus.IN_TRANSIT,
    (OrderStatus.IN_TRANSIT, Action.ARRIVE): OrderStatus.ARRIVED,
    (OrderStatus.ARRIVED, Action.CLEAR_CUSTOMS): OrderStatus.CLEARED,
    (OrderStatus.ARRIVED, Action.HOLD_AT_CUSTOMS): OrderStatus.EXCEPTION,
    (OrderStatus.CLEARED, Action.START_LAST_MILE): OrderStatus.OUT_FOR_DELIVERY,
    (OrderStatus.OUTBOUND, Action.START_LAST_MILE): OrderStatus.OUT_FOR_DELIVERY,
    (OrderStatus.OUT_FOR_DELIVERY, Action.DELIVER): OrderStatus.DELIVERED,
    (OrderStatus.DELIVERED, Action.CONFIRM_RECEIPT): OrderStatus.COMPLETED,
    (OrderStatus.DELIVERED, Action.COMPLETE): OrderStatus.COMPLETED,
    (OrderStatus.CANCELLED, Action.COMPLETE): OrderStatus.COMPLETED,
    (OrderStatus.EXCEPTION, Action.COMPLETE): OrderStatus.COMPLETED,
    (OrderStatus.COMPLETED, Action.ARCHIVE): OrderStatus.ARCHIVED,
    (OrderStatus.CANCELLATION_REQUESTED, Action.DECLINE_CANCELLATION): RESUME,
    (OrderStatus.CANCELLATION_REQUESTED, Action.CONFIRM_CANCELLATION): OrderStatus.CANCELLED,
    (OrderStatus.CANCELLATION_REQUESTED, Action.START_RECALL): OrderStatus.RECALL_IN_PROGRESS,
    (OrderStatus.RECALL_IN_PROGRESS, Action.CONFIRM_CANCELLATION): OrderStatus.CANCELLED,
    (OrderStatus.EXCEPTION, Action.RESOLVE_EXCEPTION): RESUME,
    (OrderStatus.EXCEPTION, Action.CONFIRM_CANCELLATION): OrderStatus.CANCELLED,
    (OrderStatus.EXCEPTION, Action.REQUEST_CANCELLATION): OrderStatus.CANCELLATION_REQUESTED,
}
for status in (
    OrderStatus.SUBMITTED,
    OrderStatus.VALIDATION_FAILED,
    OrderStatus.PENDING_REVIEW,
    OrderStatus.PENDING_SECOND_REVIEW,
    OrderStatus.REJECTED,
    OrderStatus.AWAITING_CONFIRMATION,
):
    EXPECTED[(status, Action.CANCEL)] = OrderStatus.CANCELLED
EXECUTION = (
    OrderStatus.CONFIRMED,
    OrderStatus.PICKED,
    OrderStatus.OUTBOUND,
    OrderStatus.BOOKED,
    OrderStatus.IN_TRANSIT,
    OrderStatus.ARRIVED,
    OrderStatus.CLEARED,
    OrderStatus.OUT_FOR_DELIVERY,
)
for status in EXECUTION:
    EXPECTED[(status, Action.REQUEST_CANCELLATION)] = OrderStatus.CANCELLATION_REQUESTED
for status in (*EXECUTION, OrderStatus.DELIVERED):
    EXPECTED[(status, Action.RAISE_EXCEPTION)] = OrderStatus.EXCEPTION
# A re-quote (service or zone change) sends the order back through first review (R-6.2, issue 13).
for status in (
    OrderStatus.PENDING_REVIEW,
    OrderStatus.PENDING_SECOND_REVIEW,
    OrderStatus.AWAITING_CONFIRMATION,
    OrderStatus.CONFIRMED,
    OrderStatus.PICKED,
):
    EXPECTED[(status, Action.REQUOTE)] = OrderStatus.PENDING_REVIEW

INTERNATIONAL_ONLY = {
    (OrderStatus.OUTBOUND, Action.BOOK),
    (OrderStatus.BOOKED, Action.DEPART),
    (OrderStatus.IN_TRANSIT, Action.ARRIVE),
    (OrderStatus.ARRIVED, Action.CLEAR_CUSTOMS),
    (OrderStatus.ARRIVED, Action.HOLD_AT_CUSTOMS),
    (OrderStatus.CLEARED, Action.START_LAST_MILE),
}
OVERSEAS_ONLY = {(OrderStatus.OUTBOUND, Action.START_LAST_MILE)}

ALL_PAIRS = list(itertools.product(OrderStatus, Action, Service))


def expected_for(status: OrderStatus, action: Action, service: Service) -> OrderStatus | str | None:
    """What the spec says the pair leads to for this service, or None if it is illegal."""
    target = EXPECTED.get((status, action))
    if (status, action) in INTERNATIONAL_ONLY and service is Service.OVERSEAS_WAREHOUSE:
        return None
    if (status, action) in OVERSEAS_ONLY and service is not Service.OVERSEAS_WAREHOUSE:
        return None
    return target


def test_table_has_exactly_the_expected_pairs() -> None:
    assert set(TRANSITIONS) == set(EXPECTED)


@pytest.mark.parametrize(("status", "action", "service"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_status_action_pair(status: OrderStatus, action: Action, service: Service) -> None:
    expected = expected_for(status, action, service)
    resume = OrderStatus.PICKED
    if expected is None:
        with pytest.raises(IllegalTransition):
            next_status(status, action, service, resume)
    elif expected == RESUME:
        assert next_status(status, action, service, resume) is resume
    else:
        assert next_status(status, action, service, resume) is expected


def test_archived_is_terminal() -> None:
    for service in Service:
        assert allowed_actions(OrderStatus.ARCHIVED, service) == []


def test_overseas_warehouse_skips_international_legs() -> None:
    assert Action.BOOK not in allowed_actions(OrderStatus.OUTBOUND, Service.OVERSEAS_WAREHOUSE)
    assert Action.START_LAST_MILE in allowed_actions(OrderStatus.OUTBOUND, Service.OVERSEAS_WAREHOUSE)
    assert Action.START_LAST_MILE not in allowed_actions(OrderStatus.OUTBOUND, Service.AIR_FREIGHT)


def test_every_action_names_who_may_do_it() -> None:
    assert set(ACTION_ROLES) == set(Action)
    assert all(ACTION_ROLES[action] for action in Action)


def test_apply_records_audit_and_event() -> None:
    order = make_order(status=OrderStatus.PENDING_REVIEW)
    order.apply(Action.APPROVE, actor_id=7, roles=frozenset({Role.ORDER_DESK}), now=NOW, note="paid")
    assert order.status is OrderStatus.AWAITING_CONFIRMATION
    line = order.audit[-1]
    assert (line.actor_id, line.actor_role, line.at, line.note) == (7, Role.ORDER_DESK, NOW, "paid")
    assert (line.from_status, line.to_status) == (
        OrderStatus.PENDING_REVIEW,
        OrderStatus.AWAITING_CONFIRMATION,
    )
    [event] = order.pull_events()
    assert isinstance(event, OrderStatusChanged) and event.to_status is OrderStatus.AWAITING_CONFIRMATION
    assert order.pull_events() == []


def test_illegal_move_changes_nothing() -> None:
    order = make_order(status=OrderStatus.PENDING_REVIEW)
    with pytest.raises(IllegalTransition):
        order.apply(Action.PICK, actor_id=7, roles=frozenset({Role.WAREHOUSE}), now=NOW)
    assert order.status is OrderStatus.PENDING_REVIEW and order.audit == [] and order.events == []


def test_wrong_role_is_refused() -> None:
    order = make_order(status=OrderStatus.CONFIRMED)
    with pytest.raises(NotPermitted):
        order.apply(Action.PICK, actor_id=7, roles=frozenset({Role.LOGISTICS}), now=NOW)
    with pytest.raises(NotPermitted):
        order.apply(Action.PICK, actor_id=7, roles=frozenset(), now=NOW)
    assert order.status is OrderStatus.CONFIRMED


def test_exception_resumes_where_it_was() -> None:
    order = make_order(status=OrderStatus.ARRIVED)
    staff = frozenset({Role.LOGISTICS})
    order.apply(
        Action.RAISE_EXCEPTION, actor_id=9, roles=staff, now=NOW, exception_type=ExceptionType.CUSTOMS_HOLD
    )
    assert order.status is OrderStatus.EXCEPTION and order.resume_status is OrderStatus.ARRIVED
    order.apply(Action.RESOLVE_EXCEPTION, actor_id=9, roles=frozenset({Role.ORDER_DESK}), now=NOW)
    assert order.status is OrderStatus.ARRIVED
    assert order.resume_status is None and order.exception_type is None


def test_exception_needs_a_type() -> None:
    order = make_order(status=OrderStatus.PICKED)
    with pytest.raises(DomainError):
        order.apply(Action.RAISE_EXCEPTION, actor_id=9, roles=frozenset({Role.WAREHOUSE}), now=NOW)
    assert order.status is OrderStatus.PICKED


def test_cancellation_request_then_decline_resumes() -> None:
    order = make_order(status=OrderStatus.PICKED)
    order.apply(Action.REQUEST_CANCELLATION, actor_id=42, roles=frozenset({Role.CUSTOMER}), now=NOW)
    order.apply(Action.DECLINE_CANCELLATION, actor_id=7, roles=frozenset({Role.ORDER_DESK}), now=NOW)
    assert order.status is OrderStatus.PICKED


def test_exception_then_cancellation_request_keeps_the_original_resume_point() -> None:
    order = make_order(status=OrderStatus.BOOKED)
    order.apply(
        Action.RAISE_EXCEPTION,
        actor_id=9,
        roles=frozenset({Role.LOGISTICS}),
        now=NOW,
        exception_type=ExceptionType.DELAY,
    )
    order.apply(Action.REQUEST_CANCELLATION, actor_id=42, roles=frozenset({Role.CUSTOMER}), now=NOW)
    order.apply(Action.DECLINE_CANCELLATION, actor_id=7, roles=frozenset({Role.ORDER_DESK}), now=NOW)
    assert order.status is OrderStatus.BOOKED


def test_assign_number_once() -> None:
    order = make_order(status=OrderStatus.CONFIRMED)
    order.assign_number("20260315001", now=NOW)
    assert order.display_id == "20260315001"
    with pytest.raises(DomainError):
        order.assign_number("20260315002", now=NOW)


def test_walk_air_freight_to_archive() -> None:
    order = make_order(status=OrderStatus.SUBMITTED)
    steps = [
        (Action.PASS_VALIDATION, Role.SYSTEM),
        (Action.APPROVE, Role.ORDER_DESK),
        (Action.CONFIRM, Role.SYSTEM),
        (Action.PICK, Role.WAREHOUSE),
        (Action.OUTBOUND_SCAN, Role.WAREHOUSE),
        (Action.BOOK, Role.LOGISTICS),
        (Action.DEPART, Role.LOGISTICS),
        (Action.ARRIVE, Role.LOGISTICS),
        (Action.CLEAR_CUSTOMS, Role.LOGISTICS),
        (Action.START_LAST_MILE, Role.LOGISTICS),
        (Action.DELIVER, Role.LOGISTICS),
        (Action.CONFIRM_RECEIPT, Role.CUSTOMER),
        (Action.ARCHIVE, Role.SYSTEM),
    ]
    for action, role in steps:
        order.apply(action, actor_id=1, roles=frozenset({role}), now=NOW)
    assert order.status is OrderStatus.ARCHIVED
    assert [line.action for line in order.audit] == [action.value for action, _ in steps]
