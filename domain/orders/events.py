"""Domain events (past tense): what happened to an order, for the notification policy to act on.

Every event carries an id unique per order and stable across retries of the same change: the
order id and the index of the audit line the change wrote. Outbox dedup keys are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.orders.status import Action, OrderStatus


@dataclass(frozen=True)
class Event:
    """Base of every domain event: its id and the order it is about."""

    id: str
    order_id: str
    at: datetime


@dataclass(frozen=True)
class OrderStatusChanged(Event):
    """An order moved from one status to another."""

    action: Action
    from_status: OrderStatus
    to_status: OrderStatus
    actor_id: int | None


@dataclass(frozen=True)
class OrderRejected(Event):
    """A reviewer rejected the order for a reason the customer can fix (R-3.1)."""

    reason: str
    text: str


@dataclass(frozen=True)
class CustomerAsked(Event):
    """A reviewer asked the customer a question about the order (R-3.1)."""

    question_id: int
    question: str


@dataclass(frozen=True)
class CustomerAnswered(Event):
    """The customer answered a reviewer's question; the answer goes to the review card's thread."""

    question_id: int
    answer: str
    card_chat_id: int | None
    card_message_id: int | None
