"""What a customer may ask of a placed order in each status (R-6.1, R-6.2): the change matrix as data."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType

from domain.orders.status import OrderStatus


class OrderRequestKind(StrEnum):
    """A request about a placed order: cancel it, or change its address, contact or service."""

    CANCEL = "cancel"
    ADDRESS = "address"
    CONTACT = "contact"
    SERVICE = "service"


def parse_matrix(data: Mapping[str, object]) -> Mapping[OrderRequestKind, frozenset[OrderStatus]]:
    """Reads the request matrix (kind -> statuses it is offered in); raises ValueError on a wrong name."""
    matrix: dict[OrderRequestKind, frozenset[OrderStatus]] = {}
    for kind in OrderRequestKind:
        table = data.get(kind.value)
        if not isinstance(table, Mapping) or not isinstance(table.get("offered_in"), list):
            raise ValueError(f"order_requests.toml: [{kind.value}] needs an offered_in list of statuses")
        matrix[kind] = frozenset(OrderStatus(status) for status in table["offered_in"])
    return MappingProxyType(matrix)


@cache
def request_matrix() -> Mapping[OrderRequestKind, frozenset[OrderStatus]]:
    """The built-in matrix from domain/data/order_requests.toml."""
    text = resources.files("domain.data").joinpath("order_requests.toml").read_text(encoding="utf-8")
    return parse_matrix(tomllib.loads(text))


def requests_offered(status: OrderStatus) -> list[OrderRequestKind]:
    """The requests an order in this status offers, in the matrix's order."""
    matrix = request_matrix()
    return [kind for kind in OrderRequestKind if status in matrix[kind]]
