"""Domain events (past tense): what happened, turned into outbox messages by the service layer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.orders.status import Action, OrderStatus


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class OrderStatusChanged(Event):
    """An order moved from one status to another."""

    order_id: str
    action: Action
    from_status: OrderStatus
    to_status: OrderStatus
    actor_id: int | None
    at: datetime


@dataclass(frozen=True)
class OrderNumbered(Event):
    """An order received its formal number on confirmation (R-3.3)."""

    order_id: str
    number: str
