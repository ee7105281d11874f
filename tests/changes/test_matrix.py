"""Every cell of the change matrix (issue 13, R-6.2): each kind in each status, offered or refused why."""

from __future__ import annotations

import pytest

from domain.orders.changes import refusal_for
from domain.orders.requests import (
    CHANGE_KINDS,
    ChangeRefusal,
    OrderRequestKind,
    change_refusal,
    requests_offered,
)
from domain.orders.status import OrderStatus
from tests.changes.conftest import make_order

UNTIL_OUTBOUND = {
    OrderStatus.PENDING_REVIEW,
    OrderStatus.PENDING_SECOND_REVIEW,
    OrderStatus.AWAITING_CONFIRMATION,
    OrderStatus.CONFIRMED,
    OrderStatus.PICKED,
}
S = OrderStatus
R = ChangeRefusal
# Why each status refuses a change (address, contact and service alike; the service until transport).
REFUSED = {
    S.SUBMITTED: R.NOT_PLACED,
    S.VALIDATION_FAILED: R.NOT_PLACED,
    S.REJECTED: R.NOT_PLACED,
    S.OUTBOUND: R.LEFT_WAREHOUSE,
    S.BOOKED: R.CUSTOMS_STARTED,
    S.IN_TRANSIT: R.CUSTOMS_STARTED,
    S.ARRIVED: R.CUSTOMS_STARTED,
    S.CLEARED: R.CUSTOMS_STARTED,
    S.OUT_FOR_DELIVERY: R.LEFT_WAREHOUSE,
    S.DELIVERED: R.CLOSED,
    S.COMPLETED: R.CLOSED,
    S.ARCHIVED: R.CLOSED,
    S.CANCELLED: R.CLOSED,
    S.CANCELLATION_REQUESTED: R.INTERRUPTED,
    S.RECALL_IN_PROGRESS: R.INTERRUPTED,
    S.EXCEPTION: R.INTERRUPTED,
}


def test_every_status_is_either_offered_or_refused() -> None:
    assert set(REFUSED) | UNTIL_OUTBOUND == set(OrderStatus)
    assert not set(REFUSED) & UNTIL_OUTBOUND


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("kind", CHANGE_KINDS)
def test_each_cell_of_the_matrix(kind: OrderRequestKind, status: OrderStatus) -> None:
    expected = None if status in UNTIL_OUTBOUND else REFUSED[status]

    assert change_refusal(kind, status) is expected
    assert (kind in requests_offered(status)) is (expected is None)


@pytest.mark.parametrize(
    "status",
    [S.PENDING_REVIEW, S.CONFIRMED, S.PICKED, S.OUTBOUND, S.BOOKED, S.DELIVERED, S.COMPLETED, S.ARCHIVED],
)
@pytest.mark.parametrize("kind", CHANGE_KINDS)
def test_an_order_walked_to_the_status_gets_the_cell(kind: OrderRequestKind, status: OrderStatus) -> None:
    order = make_order(status=status)

    assert order.status is status
    assert refusal_for(order, kind) is (None if status in UNTIL_OUTBOUND else REFUSED[status])
