"""Ports the use cases need: repositories and the unit of work, implemented in storage/."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role
from domain.sla.alerts import DueClock, NewAlert, SlaAlert


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

    async def roles_and_language(self, user_id: int) -> tuple[frozenset[Role], str | None]:
        """The user's roles and saved language, read together (every update needs both)."""
        ...

    async def grant(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool: ...

    async def revoke(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool: ...

    async def list_all(self) -> dict[int, frozenset[Role]]: ...


class UserRepository(Protocol):
    """What the bot remembers of each Telegram user (language, blocked)."""

    async def language_of(self, user_id: int) -> str | None: ...

    async def set_language(self, user_id: int, language: str) -> None: ...

    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None: ...


# Dedup keys of the messages a refused message causes start with this, so they never cause another.
REFUSAL_KEY_PREFIX = "refused"


@dataclass(frozen=True)
class FailedMessage:
    """A message the outbox gave up on (refused by Telegram or out of attempts): the dead letters."""

    id: int
    chat_id: int
    method: str
    order_id: str | None
    created_at: datetime
    error: str


class OutboxRepository(Protocol):
    """Messages written in the same transaction as the change that causes them."""

    async def enqueue(self, message: OutboxMessage) -> bool: ...

    async def failed(self, limit: int = 20) -> list[FailedMessage]: ...


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
    sla: SlaRepository
    reviews: ReviewRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class SlaRepository(Protocol):
    """Stage clocks by due time, and the SLA alerts and tracking log the sweeps write (issue 6)."""

    async def try_lock_sweep(self) -> bool: ...

    async def due_for_breach(self, now: datetime, limit: int) -> list[DueClock]: ...

    async def due_for_warning(
        self, thresholds: Mapping[str, datetime], now: datetime, limit: int
    ) -> list[DueClock]: ...

    async def at_risk_or_breached(self, thresholds: Mapping[str, datetime], limit: int) -> list[DueClock]: ...

    async def record_alert(self, alert: NewAlert) -> int | None: ...

    async def record_alerts(self, alerts: Sequence[NewAlert]) -> list[int | None]: ...

    async def get_alert(self, alert_id: int) -> SlaAlert | None: ...

    async def alerts_in_batch(self, batch: str) -> list[SlaAlert]: ...

    async def unacknowledged(self, level: int, older_than: datetime, limit: int) -> list[SlaAlert]: ...

    async def escalate(self, alert_id: int, level: int, at: datetime) -> bool: ...

    async def acknowledge(self, alert_ids: Sequence[int], user_id: int, name: str, at: datetime) -> int: ...

    async def record_digest(self, slot: str, at: datetime, content: dict[str, Any]) -> bool: ...


class OutboxQueue(Protocol):
    """The outbox as its sender sees it; every call is one short transaction of its own."""

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[OutboxMessage]: ...

    async def add(self, message: OutboxMessage) -> bool: ...

    async def postpone(self, due_at: dict[int, datetime]) -> None: ...

    async def mark_sent(self, message_id: int, telegram_message_id: int | None, at: datetime) -> None: ...

    async def mark_retry(self, message_id: int, next_attempt_at: datetime, error: str) -> None: ...

    async def mark_blocked(self, message_id: int, error: str) -> None: ...

    async def mark_failed(self, message_id: int, error: str) -> None: ...

    async def move_chat(self, old_chat_id: int, new_chat_id: int, at: datetime) -> int: ...

    async def next_due(self) -> datetime | None: ...


class TeamChats(Protocol):
    """The chat of each department, stored so that it follows a group's move to a supergroup."""

    async def seed(self, key: str, configured_chat_id: int, at: datetime) -> int: ...

    async def chat_of(self, key: str) -> int | None: ...

    async def all(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class ApiOrderLink:
    """Which platform API key created an order, and under which Idempotency-Key and request fingerprint."""

    key_name: str
    order_id: str
    created_at: datetime
    idempotency_key: str | None = None
    fingerprint: str | None = None
    external_ref: str | None = None


class ApiOrderRepository(Protocol):
    """The orders the platform intake API created, by key, for idempotent retries and visibility."""

    async def add(self, link: ApiOrderLink) -> bool: ...

    async def by_idempotency_key(self, key_name: str, idempotency_key: str) -> ApiOrderLink | None: ...

    async def by_order(self, order_id: str) -> ApiOrderLink | None: ...


class PlatformUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also knows the API-created orders (platform intake, R-1.1)."""

    api: ApiOrderRepository


class JoinableUnitOfWork(PlatformUnitOfWork):
    """A unit of work that an inner `async with` joins: only the outermost block begins and ends it.

    So a use case called with the unit of work a middleware opened shares its transaction and
    leaves closing it to the outer block.
    """

    _depth = 0

    async def __aenter__(self) -> Self:
        """Begins the unit of work, or joins it when it is open already."""
        self._depth += 1
        if self._depth == 1:
            await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Ends the unit of work, dropping what was not committed, when leaving the outermost block."""
        self._depth -= 1
        if self._depth == 0:
            await self._end()

    @abstractmethod
    async def _begin(self) -> None:
        """Opens the transaction and binds the repositories to it."""

    @abstractmethod
    async def _end(self) -> None:
        """Drops whatever was not committed and releases the transaction."""


@dataclass(frozen=True)
class ReviewQuestion:
    """A reviewer's question to the customer and where its answer goes (the review card's thread)."""

    id: int
    order_id: str
    asked_by: int
    asked_at: datetime
    question: str
    card_chat_id: int | None
    card_message_id: int | None
    answered_at: datetime | None = None
    answer: str | None = None


@dataclass(frozen=True)
class StoredDocument:
    """A generated document (e.g. the order confirmation PDF) waiting to be sent or re-sent."""

    id: int
    order_id: str
    kind: str
    filename: str
    content: bytes
    created_at: datetime


class ReviewRepository(Protocol):
    """Questions to customers, generated documents and staff display names of the review flow (issue 4)."""

    async def add_question(
        self,
        order_id: str,
        asked_by: int,
        question: str,
        at: datetime,
        *,
        card_chat_id: int | None,
        card_message_id: int | None,
    ) -> int: ...

    async def open_question(self, order_id: str) -> ReviewQuestion | None: ...

    async def answer_question(self, question_id: int, answer: str, at: datetime) -> bool: ...

    async def save_document(
        self, order_id: str, kind: str, filename: str, content: bytes, at: datetime
    ) -> int: ...

    async def get_document(self, document_id: int) -> StoredDocument | None: ...

    async def remember_name(self, user_id: int, name: str, at: datetime) -> None: ...

    async def name_of(self, user_id: int) -> str | None: ...


@dataclass(frozen=True)
class Outgoing:
    """A message a renderer made; the use case addresses and queues it."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Document:
    """A generated file to be sent with sendDocument."""

    filename: str
    content: bytes
