"""Ports the use cases need: repositories and the unit of work, implemented in storage/."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from domain.model import Order
from domain.status import OrderStatus, Role


@dataclass
class OutboxMessage:
    """A Bot API call the system makes by itself, committed with the change that causes it."""

    chat_id: int
    method: str
    params: dict[str, Any]
    created_at: datetime
    order_id: str | None = None
    # A unique key makes enqueuing idempotent (e.g. "sla:<order>:<stage>:breach").
    dedup_key: str | None = None
    id: int | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    telegram_message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class OrderRepository(Protocol):
    """Loads and stores order aggregates, audit trail and clocks included."""

    async def add(self, order: Order) -> None: ...

    async def get(self, order_id: str) -> Order: ...

    async def find(self, reference_or_number: str) -> Order | None: ...

    async def list_by_status(self, statuses: Iterable[OrderStatus], limit: int = 100) -> list[Order]: ...

    async def list_for_customer(self, telegram_user_id: int, limit: int = 20) -> list[Order]: ...


class StaffRepository(Protocol):
    """Roles by Telegram user id, the only source of authority."""

    async def roles_of(self, user_id: int) -> frozenset[Role]: ...

    async def grant(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool: ...

    async def revoke(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool: ...

    async def list_all(self) -> dict[int, frozenset[Role]]: ...


class UserRepository(Protocol):
    """What the bot remembers of each Telegram user (language, blocked)."""

    async def language_of(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str) -> None: ...

    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None: ...


class OutboxRepository(Protocol):
    """Messages written in the same transaction as the change that causes them."""

    async def enqueue(self, message: OutboxMessage) -> bool: ...


class OrderNumberAllocator(Protocol):
    """Hands out the next daily serial atomically (no duplicates, no gaps)."""

    async def next_serial(self, day: date) -> int: ...


class ProcessedUpdates(Protocol):
    """Remembers which Telegram updates were handled, in the handling transaction."""

    async def mark(self, update_id: int) -> bool: ...


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless commit() is called."""

    orders: OrderRepository
    staff: StaffRepository
    users: UserRepository
    outbox: OutboxRepository
    numbers: OrderNumberAllocator
    updates: ProcessedUpdates

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...
