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


class ChangeRefusal(StrEnum):
    """Why a change of a placed order is refused; each has its alternative for the customer (R-6.2)."""

    # Not yet through review: the customer corrects the order themselves (the wizard's Fix).
    NOT_PLACED = "not_placed"
    # The outbound scan is done: forwarding after delivery, at a quote.
    LEFT_WAREHOUSE = "left_warehouse"
    # Customs has started (declared at booking, R-4.3): forwarding after delivery, at a quote.
    CUSTOMS_STARTED = "customs_started"
    # Delivered, complete, archived or cancelled: a new order.
    CLOSED = "closed"
    # A cancellation, recall or exception is under way: customer service first.
    INTERRUPTED = "interrupted"
    # A change of the same field already waits for the order desk.
    ALREADY_WAITING = "already_waiting"
    # The tariff does not price the order in its currency: customer service quotes it.
    NO_QUOTE = "no_quote"


# The requests that change an order (cancellation is R-6.1's own flow).
CHANGE_KINDS = (OrderRequestKind.ADDRESS, OrderRequestKind.CONTACT, OrderRequestKind.SERVICE)


def parse_refusals(
    data: Mapping[str, object], matrix: Mapping[OrderRequestKind, frozenset[OrderStatus]]
) -> Mapping[OrderStatus, ChangeRefusal]:
    """Reads [refused] (status -> reason); every status a change is not offered in needs a reason."""
    table = data.get("refused")
    if not isinstance(table, Mapping):
        raise ValueError("order_requests.toml: a [refused] table of status = reason is missing")
    refusals = {OrderStatus(status): ChangeRefusal(str(reason)) for status, reason in table.items()}
    for kind in CHANGE_KINDS:
        for status in OrderStatus:
            if status not in matrix[kind] and status not in refusals:
                raise ValueError(f"order_requests.toml: [refused] has no reason for {kind.value} in {status}")
    return MappingProxyType(refusals)


@cache
def refusal_table() -> Mapping[OrderStatus, ChangeRefusal]:
    """The built-in reasons from domain/data/order_requests.toml."""
    text = resources.files("domain.data").joinpath("order_requests.toml").read_text(encoding="utf-8")
    return parse_refusals(tomllib.loads(text), request_matrix())


def change_refusal(kind: OrderRequestKind, status: OrderStatus) -> ChangeRefusal | None:
    """None when the matrix offers the change in this status, else why it is refused there."""
    if status in request_matrix()[kind]:
        return None
    return refusal_table()[status]
