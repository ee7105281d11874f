"""What a customer asks of an order beyond its goods (R-3.1, R-3.2): requests, a delivery date, services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class SpecialService(StrEnum):
    """Special services that always need the head's review (R-3.2)."""

    OVERSIZE = "oversize"
    CUSTOM_WAREHOUSE = "custom_warehouse"


class RequestKind(StrEnum):
    """The special requests the first review checks (R-3.1)."""

    CUSTOMS_AGENT = "customs_agent"
    SPECIAL_LABELS = "special_labels"
    OTHER = "other"


@dataclass(frozen=True)
class SpecialRequest:
    """One special request and its note (the agent's name, the label wanted, ...)."""

    kind: RequestKind
    note: str


@dataclass(frozen=True)
class Requirements:
    """The order's special requests, the date it must be delivered by, and the services chosen."""

    special_requests: tuple[SpecialRequest, ...] = ()
    delivery_by: date | None = None
    # Chosen by the customer; services the goods call for (oversize) are derived by the rules.
    special_services: frozenset[SpecialService] = frozenset()
