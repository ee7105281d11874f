"""The change matrix (R-6.1, R-6.2): which request each status offers."""

from __future__ import annotations

import pytest

from domain.orders.requests import OrderRequestKind, parse_matrix, requests_offered
from domain.orders.status import OrderStatus

K = OrderRequestKind


def test_a_confirmed_order_offers_every_request() -> None:
    assert requests_offered(OrderStatus.CONFIRMED) == [K.CANCEL, K.ADDRESS, K.CONTACT, K.SERVICE]


def test_after_outbound_only_cancellation_is_offered() -> None:
    for status in (OrderStatus.OUTBOUND, OrderStatus.IN_TRANSIT, OrderStatus.CLEARED):
        assert requests_offered(status) == [K.CANCEL]


def test_nothing_is_offered_once_delivered_or_closed() -> None:
    for status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.ARCHIVED):
        assert requests_offered(status) == []


def test_a_matrix_missing_a_request_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"\[service\]"):
        parse_matrix({kind: {"offered_in": []} for kind in ("cancel", "address", "contact")})


def test_a_matrix_naming_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_matrix({kind.value: {"offered_in": ["shipped_somewhere"]} for kind in K})
