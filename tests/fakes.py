"""In-memory unit of work for use-case tests, behaving like storage.uow.SqlUnitOfWork.

FakeDatabase holds the committed state (plain dicts, sets and lists a test may read or seed);
every FakeUnitOfWork opened on it is one transaction:
- writes stay in the unit of work until commit() and are dropped by rollback() or by leaving the
  outermost `async with` without committing; reads see the committed state plus the unit of
  work's own writes (read committed);
- aggregates are deep copies: a change to an order is invisible to everyone else until commit,
  and commit stores a copy, so changing the object afterwards changes nothing stored;
- a changed order is saved with a compare-and-set on its version (raised by one), so a lost race
  raises ConcurrentModification, as the version column does in SQL;
- what SQL makes wait on a row lock (a day's serial, a dedup key, an update id, a role grant, ...)
  waits here too, until the transaction holding it ends;
- `async with` on an open unit of work joins it, as SqlUnitOfWork does.
tests/test_fake_unit_of_work.py runs the same scenarios on this fake and on SqlUnitOfWork.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from application.cancellation import CancellationRepository, CancellationUnitOfWork
from application.claims import ClaimsUnitOfWork
from application.exception_ports import ExceptionRepository
from application.finance import FinanceRepository
from application.ports import (
    ApiOrderLink,
    FailedMessage,
    JoinableUnitOfWork,
    OutboxMessage,
    ReviewQuestion,
    StoredDocument,
)
from domain.cancellation import Cancellation, CancellationState
from domain.errors import ConcurrentModification, OrderNotFound
from domain.exceptions.case import ExceptionCase
from domain.finance import MoneyOwed, OwedStatus
from domain.orders.model import Order, StageClock
from domain.orders.status import OrderStatus, Role
from domain.payment import PaymentRecord, PaymentStatus
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, LastAction, NewAlert, SlaAlert
from storage.inbox import InboxEntry

# Column widths the SQL schema cuts text to (storage/models.py).
NAME_MAX = 200
RowT = TypeVar("RowT")


@dataclass(frozen=True)
class StaffChange:
    """One line of the staff audit: who granted or revoked which role of whom, and when."""

    at: datetime
    actor_id: int | None
    user_id: int
    role: Role
    action: str


@dataclass(frozen=True)
class StoredAlert:
    """An SLA alert as its row holds it: the alert recorded and what became of it since."""

    id: int
    alert: NewAlert
    acknowledged_by: int | None = None
    acknowledged_by_name: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: EscalationLevel = EscalationLevel.NONE
    escalated_at: datetime | None = None

    def joined(self, order_ref: str, due_at: datetime) -> SlaAlert:
        """The alert as a query reads it, with its order's reference and its clock's due time."""
        handled = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "alert"}
        return SlaAlert(**dataclasses.asdict(self.alert), **handled, order_ref=order_ref, due_at=due_at)


@dataclass
class FakeState:
    """Everything the fake database has committed; tests may read it and seed it directly."""

    orders: dict[str, Order] = field(default_factory=dict)
    # The ids of each stored order's clocks, in the order of order.clocks.
    clock_ids: dict[str, list[int]] = field(default_factory=dict)
    roles: dict[int, set[Role]] = field(default_factory=dict)
    staff_audit: list[StaffChange] = field(default_factory=list)
    languages: dict[int, str] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    processed_updates: set[int] = field(default_factory=set)
    outbox: list[OutboxMessage] = field(default_factory=list)
    # What a sender gave up on; the fake has no sender, so a test puts dead letters here itself.
    failed: list[FailedMessage] = field(default_factory=list)
    serials: dict[date, int] = field(default_factory=dict)
    questions: dict[int, ReviewQuestion] = field(default_factory=dict)
    documents: dict[int, StoredDocument] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    api_links: list[ApiOrderLink] = field(default_factory=list)
    alerts: dict[int, StoredAlert] = field(default_factory=dict)
    digests: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)
    # Refunds and payouts by id (application/finance.py, issue 13).
    money_owed: dict[int, MoneyOwed] = field(default_factory=dict)
    # Cancellations by id (application/cancellation.py, issue 13).
    cancellations: dict[int, Cancellation] = field(default_factory=dict)
    exception_cases: dict[int, ExceptionCase] = field(default_factory=dict)


class _Transaction:
    """One transaction of a unit of work: the row locks it holds until it ends."""

    def __init__(self) -> None:
        self.task = asyncio.current_task()
        self.keys: set[Hashable] = set()
        self._ended: asyncio.Event | None = None

    @property
    def ended(self) -> asyncio.Event:
        """Set when the transaction commits or rolls back."""
        if self._ended is None:
            self._ended = asyncio.Event()
        return self._ended


class FakeDatabase:
    """The committed state shared by every FakeUnitOfWork opened on it, plus commit statistics."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.commits = 0
        self.rollbacks = 0
        self._ids = itertools.count(1)
        self._locks: dict[Hashable, _Transaction] = {}

    def unit_of_work(self) -> FakeUnitOfWork:
        """Opens a new unit of work on this database (a UnitOfWork factory)."""
        return FakeUnitOfWork(self)

    def next_id(self) -> int:
        """Hands out a row id; like a SQL sequence it is not given back on rollback."""
        return next(self._ids)

    @property
    def orders(self) -> list[Order]:
        """The committed orders, oldest first."""
        return sorted(self.state.orders.values(), key=lambda order: (order.created_at, order.id))

    def outbox_of(self, chat_id: int | None = None) -> list[OutboxMessage]:
        """The committed outbox messages (to one chat), oldest first."""
        return [m for m in self.state.outbox if chat_id is None or m.chat_id == chat_id]

    async def lock(self, key: Hashable, transaction: _Transaction) -> None:
        """Takes a row lock for the transaction, waiting while another transaction holds it."""
        while (holder := self._locks.get(key)) is not None and holder is not transaction:
            if holder.task is not None and holder.task is asyncio.current_task():
                raise RuntimeError(f"{key!r} is locked by another open unit of work of this task")
            await holder.ended.wait()
        self._locks[key] = transaction
        transaction.keys.add(key)

    def try_lock(self, key: Hashable, transaction: _Transaction) -> bool:
        """Takes a row lock if nobody else holds it."""
        holder = self._locks.get(key)
        if holder is not None and holder is not transaction:
            return False
        self._locks[key] = transaction
        transaction.keys.add(key)
        return True

    def release(self, transaction: _Transaction) -> None:
        """Ends a transaction: frees its locks and wakes whoever waits for them."""
        for key in transaction.keys:
            if self._locks.get(key) is transaction:
                del self._locks[key]
        transaction.keys.clear()
        transaction.ended.set()


def _stored(order: Order) -> Order:
    """A copy of an aggregate as the database keeps it (no pending events)."""
    stored = copy.deepcopy(order)
    stored.events = []
    return stored


def _persistent(order: Order) -> tuple[Any, ...]:
    """What of an order is saved: every field but the version and the pending events."""
    return tuple(
        getattr(order, f.name) for f in dataclasses.fields(order) if f.name not in ("version", "events")
    )


@dataclass
class _Tracked:
    """An aggregate of this unit of work, the row it was read as, and its clocks' ids by identity."""

    order: Order
    row: Order
    added: bool
    clock_ids: list[tuple[StageClock, int]]


class FakeOrderRepository:
    """Order aggregates: one object per order in a unit of work, saved with a version check."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._tracked: dict[str, _Tracked] = {}

    async def add(self, order: Order) -> None:
        """Inserts a new order (SQL flushes it at once, so a duplicate id fails here)."""
        if order.id in self._database.state.orders or order.id in self._tracked:
            raise ValueError(f"order {order.id} exists already")
        order.version = 1
        ids = [(clock, self._database.next_id()) for clock in order.clocks]
        self._tracked[order.id] = _Tracked(order, _stored(order), True, ids)

    async def get(self, order_id: str) -> Order:
        """Loads an order by id or raises OrderNotFound."""
        if order_id in self._tracked:
            return self._tracked[order_id].order
        if order_id not in self._database.state.orders:
            raise OrderNotFound(order_id)
        return self._load(order_id)

    async def find(self, reference_or_number: str) -> Order | None:
        """Loads an order by internal reference or formal number, if there is one."""
        key = reference_or_number.strip().upper()
        for order_id, row in self._rows().items():
            if key in (row.reference, row.number):
                return await self.get(order_id)
        return None

    async def list_by_status(self, statuses: Iterable[OrderStatus], limit: int = 100) -> list[Order]:
        """Lists orders in any of the statuses, oldest first."""
        values = {OrderStatus(status) for status in statuses}
        rows = [row for row in self._rows().values() if row.status in values]
        rows.sort(key=lambda row: (row.created_at, row.id))
        return [await self.get(row.id) for row in rows[:limit]]

    async def list_for_customer(self, telegram_user_id: int, limit: int = 20) -> list[Order]:
        """Lists a customer's orders, newest first."""
        rows = [row for row in self._rows().values() if row.customer.telegram_user_id == telegram_user_id]
        rows.sort(key=lambda row: row.id)
        rows.sort(key=lambda row: row.created_at, reverse=True)
        return [await self.get(row.id) for row in rows[:limit]]

    def rows(self) -> dict[str, tuple[Order, list[int]]]:
        """The order rows and clock ids a query of this unit of work sees (committed, plus its inserts)."""
        state = self._database.state
        seen = {order_id: (row, self._stored_clock_ids(order_id)) for order_id, row in state.orders.items()}
        for order_id, tracked in self._tracked.items():
            if tracked.added:
                seen[order_id] = (tracked.row, [clock_id for _, clock_id in tracked.clock_ids])
        return seen

    def has(self, order_id: str) -> bool:
        """Whether a row may refer to the order (it is stored, or inserted in this unit of work)."""
        return order_id in self.rows()

    def check(self) -> None:
        """Raises ConcurrentModification if a changed order was saved by someone else meanwhile."""
        state = self._database.state
        for order_id, tracked in self._tracked.items():
            if len(tracked.order.audit) < len(tracked.row.audit):
                raise ValueError(f"audit lines of order {order_id} were removed; the trail is append-only")
            if tracked.added:
                if order_id in state.orders:
                    raise ConcurrentModification("the order was inserted by someone else")
                continue
            if not self._changed(tracked):
                continue
            stored = state.orders.get(order_id)
            if stored is None or stored.version != tracked.row.version:
                raise ConcurrentModification("the order was changed by someone else; reload and retry")

    def apply(self) -> None:
        """Stores the inserted and changed orders with their new versions."""
        state = self._database.state
        for order_id, tracked in self._tracked.items():
            if not tracked.added and not self._changed(tracked):
                continue
            if self._changed(tracked):
                tracked.order.version = tracked.row.version + 1
            known = {id(clock): clock_id for clock, clock_id in tracked.clock_ids}
            tracked.clock_ids = [
                (clock, known.get(id(clock)) or self._database.next_id()) for clock in tracked.order.clocks
            ]
            tracked.row = _stored(tracked.order)
            tracked.added = False
            state.orders[order_id] = _stored(tracked.order)
            state.clock_ids[order_id] = [clock_id for _, clock_id in tracked.clock_ids]

    def forget(self) -> None:
        """Drops every tracked aggregate (after a rollback they no longer hold)."""
        self._tracked.clear()

    def _rows(self) -> dict[str, Order]:
        """The rows a query sees, by order id."""
        return {order_id: row for order_id, (row, _) in self.rows().items()}

    def _load(self, order_id: str) -> Order:
        """Copies a committed order into this unit of work."""
        order = _stored(self._database.state.orders[order_id])
        ids = self._stored_clock_ids(order_id)
        self._tracked[order_id] = _Tracked(
            order, _stored(order), False, list(zip(order.clocks, ids, strict=True))
        )
        return order

    def _stored_clock_ids(self, order_id: str) -> list[int]:
        """The ids of a stored order's clocks (given on first sight to an order a test seeded)."""
        state = self._database.state
        ids = state.clock_ids.setdefault(order_id, [])
        while len(ids) < len(state.orders[order_id].clocks):
            ids.append(self._database.next_id())
        return ids

    @staticmethod
    def _changed(tracked: _Tracked) -> bool:
        """Whether the aggregate differs from its row."""
        return _persistent(tracked.order) != _persistent(tracked.row)


class _Pending:
    """The writes of one repository not committed yet."""

    def __init__(self, database: FakeDatabase, transaction: Callable[[], _Transaction]) -> None:
        self._database = database
        self._transaction = transaction
        self.forget()

    @property
    def _state(self) -> FakeState:
        """The committed state."""
        return self._database.state

    async def _lock(self, *key: Hashable) -> None:
        """Takes the row lock of a key of this repository until the transaction ends."""
        await self._database.lock((type(self).__name__, *key), self._transaction())

    def check(self) -> None:
        """Raises if the writes cannot be committed (none of these can fail at commit)."""

    def apply(self) -> None:
        """Writes the pending changes to the committed state."""
        raise NotImplementedError

    def forget(self) -> None:
        """Drops the pending changes."""
        raise NotImplementedError


class FakeStaffRepository(_Pending):
    """Roles by Telegram user id; every grant and revoke is audited."""

    def __init__(
        self,
        database: FakeDatabase,
        transaction: Callable[[], _Transaction],
        users: FakeUserRepository | None = None,
    ) -> None:
        super().__init__(database, transaction)
        # The same unit of work's users, whose pending language roles_and_language sees, as SQL would.
        self._users = users

    async def roles_of(self, user_id: int) -> frozenset[Role]:
        """Returns the roles a user holds."""
        return self._view().get(user_id, frozenset())

    async def roles_and_language(self, user_id: int) -> tuple[frozenset[Role], str | None]:
        """The user's roles and saved language."""
        language = await self._users.language_of(user_id) if self._users is not None else None
        return await self.roles_of(user_id), language

    async def grant(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Gives a user a role; returns False if they already held it."""
        await self._lock(user_id, role)
        if role in await self.roles_of(user_id):
            return False
        self._changes[(user_id, role)] = True
        self._audit.append(StaffChange(at, by, user_id, role, "grant"))
        return True

    async def revoke(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Takes a role away; returns False if the user did not hold it."""
        await self._lock(user_id, role)
        if role not in await self.roles_of(user_id):
            return False
        self._changes[(user_id, role)] = False
        self._audit.append(StaffChange(at, by, user_id, role, "revoke"))
        return True

    async def list_all(self) -> dict[int, frozenset[Role]]:
        """Returns every staff member with their roles."""
        return self._view()

    def apply(self) -> None:
        """Writes the grants and revokes."""
        for (user_id, role), held in self._changes.items():
            roles = self._state.roles.setdefault(user_id, set())
            if held:
                roles.add(role)
            else:
                roles.discard(role)
                if not roles:
                    del self._state.roles[user_id]
        self._state.staff_audit.extend(self._audit)
        self.forget()

    def forget(self) -> None:
        """Drops the pending grants and revokes."""
        self._changes: dict[tuple[int, Role], bool] = {}
        self._audit: list[StaffChange] = []

    def _view(self) -> dict[int, frozenset[Role]]:
        """Roles by user, committed and pending."""
        roles = {user_id: set(held) for user_id, held in self._state.roles.items()}
        for (user_id, role), held in self._changes.items():
            if held:
                roles.setdefault(user_id, set()).add(role)
            else:
                roles.get(user_id, set()).discard(role)
        return {user_id: frozenset(held) for user_id, held in roles.items() if held}


class FakeUserRepository(_Pending):
    """Language and blocked flag of each Telegram user."""

    async def language_of(self, user_id: int) -> str | None:
        """Returns the user's chosen language, if any."""
        return self._languages.get(user_id, self._state.languages.get(user_id))

    async def set_language(self, user_id: int, language: str) -> None:
        """Remembers the user's language."""
        await self._lock(user_id)
        self._languages[user_id] = language

    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None:
        """Remembers whether the user blocked the bot."""
        await self._lock(user_id)
        self._blocked[user_id] = blocked

    def apply(self) -> None:
        """Writes the languages and blocked flags."""
        self._state.languages.update(self._languages)
        for user_id, blocked in self._blocked.items():
            if blocked:
                self._state.blocked.add(user_id)
            else:
                self._state.blocked.discard(user_id)
        self.forget()

    def forget(self) -> None:
        """Drops the pending changes."""
        self._languages: dict[int, str] = {}
        self._blocked: dict[int, bool] = {}


class FakeOutboxRepository(_Pending):
    """Outbox messages written with the change that causes them, de-duplicated by key."""

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Queues a message; returns False, writing nothing, if its dedup_key was queued before."""
        if message.dedup_key is not None:
            await self._lock(message.dedup_key)
            queued = itertools.chain(self._state.outbox, self._messages)
            if any(other.dedup_key == message.dedup_key for other in queued):
                return False
        message.id = self._database.next_id()
        # The row keeps the params as JSON, and no `extra`.
        stored = dataclasses.replace(message, params=json.loads(json.dumps(message.params)), extra={})
        self._messages.append(stored)
        return True

    async def failed(self, limit: int = 20) -> list[FailedMessage]:
        """The dead letters, newest first."""
        return sorted(self._state.failed, key=lambda dead: dead.id, reverse=True)[:limit]

    def apply(self) -> None:
        """Writes the queued messages."""
        self._state.outbox.extend(self._messages)
        self.forget()

    def forget(self) -> None:
        """Drops the queued messages."""
        self._messages: list[OutboxMessage] = []


class FakeOrderNumberAllocator(_Pending):
    """Daily serials; a day's counter stays locked until the transaction ends, as its SQL row does."""

    async def next_serial(self, day: date) -> int:
        """Returns the next serial of the day; a rolled-back transaction gives its serial back."""
        await self._lock(day)
        self._serials[day] = self._serials.get(day, self._state.serials.get(day, 0)) + 1
        return self._serials[day]

    def apply(self) -> None:
        """Writes the counters."""
        self._state.serials.update(self._serials)
        self.forget()

    def forget(self) -> None:
        """Gives the serials back."""
        self._serials: dict[date, int] = {}


class FakeProcessedUpdates(_Pending):
    """Telegram update ids handled so far, recorded in the handling transaction."""

    async def mark(self, update_id: int) -> bool:
        """Records the update; returns False if it had been processed already."""
        await self._lock(update_id)
        if update_id in self._state.processed_updates or update_id in self._marked:
            return False
        self._marked.add(update_id)
        return True

    def apply(self) -> None:
        """Writes the update ids."""
        self._state.processed_updates |= self._marked
        self.forget()

    def forget(self) -> None:
        """Drops the update ids."""
        self._marked: set[int] = set()


class _OrderRows(_Pending):
    """The writes of a repository whose rows refer to an order, as a foreign key does."""

    def __init__(
        self, database: FakeDatabase, transaction: Callable[[], _Transaction], orders: FakeOrderRepository
    ) -> None:
        self._orders = orders
        super().__init__(database, transaction)

    def _require_order(self, order_id: str) -> None:
        """Fails like a foreign key does when a row refers to an order that is not there."""
        if not self._orders.has(order_id):
            raise ValueError(f"FOREIGN KEY constraint failed: no order {order_id}")


class _OrderRowsById(_OrderRows, Generic[RowT]):
    """Rows referring to an order kept by id: the pending ones stand over the committed table until commit."""

    def _table(self) -> dict[int, RowT]:
        """The committed table."""
        raise NotImplementedError

    def apply(self) -> None:
        """Writes the pending rows to the committed table."""
        self._table().update(self._rows)
        self.forget()

    def forget(self) -> None:
        """Drops the pending rows."""
        self._rows: dict[int, RowT] = {}

    def _view(self) -> dict[int, RowT]:
        """Rows by id, committed and pending."""
        return {**self._table(), **self._rows}


class FakeReviewRepository(_OrderRows):
    """Questions to customers, generated documents and staff display names."""

    async def add_question(
        self,
        order_id: str,
        asked_by: int,
        question: str,
        at: datetime,
        *,
        card_chat_id: int | None,
        card_message_id: int | None,
    ) -> int:
        """Records a question to the customer; returns its id."""
        self._require_order(order_id)
        question_id = self._database.next_id()
        self._questions[question_id] = ReviewQuestion(
            question_id, order_id, asked_by, at, question, card_chat_id, card_message_id
        )
        return question_id

    async def open_question(self, order_id: str) -> ReviewQuestion | None:
        """Returns the latest unanswered question about the order."""
        open_ones = [
            q for q in self._question_view().values() if q.order_id == order_id and q.answered_at is None
        ]
        return max(open_ones, key=lambda q: q.id, default=None)

    async def answer_question(self, question_id: int, answer: str, at: datetime) -> bool:
        """Records the answer once; False if the question was answered already."""
        await self._lock("question", question_id)
        question = self._question_view().get(question_id)
        if question is None or question.answered_at is not None:
            return False
        self._questions[question_id] = dataclasses.replace(question, answer=answer, answered_at=at)
        return True

    async def save_document(
        self, order_id: str, kind: str, filename: str, content: bytes, at: datetime
    ) -> int:
        """Stores a generated document; returns its id for the outbox row."""
        self._require_order(order_id)
        document_id = self._database.next_id()
        self._documents[document_id] = StoredDocument(document_id, order_id, kind, filename, content, at)
        return document_id

    async def get_document(self, document_id: int) -> StoredDocument | None:
        """Loads a stored document."""
        return self._documents.get(document_id, self._state.documents.get(document_id))

    async def remember_name(self, user_id: int, name: str, at: datetime) -> None:
        """Keeps the name a staff member acts under."""
        await self._lock("name", user_id)
        self._names[user_id] = name[:NAME_MAX]

    async def name_of(self, user_id: int) -> str | None:
        """Returns the name a staff member last acted under."""
        return self._names.get(user_id, self._state.names.get(user_id))

    def names(self) -> dict[int, str]:
        """Staff display names, committed and pending."""
        return {**self._state.names, **self._names}

    def apply(self) -> None:
        """Writes the questions, answers, documents and names."""
        self._state.questions.update(self._questions)
        self._state.documents.update(self._documents)
        self._state.names.update(self._names)
        self.forget()

    def forget(self) -> None:
        """Drops the pending rows."""
        self._questions: dict[int, ReviewQuestion] = {}
        self._documents: dict[int, StoredDocument] = {}
        self._names: dict[int, str] = {}

    def _question_view(self) -> dict[int, ReviewQuestion]:
        """Questions by id, committed and pending."""
        return {**self._state.questions, **self._questions}


class FakeExceptionRepository(_OrderRowsById[ExceptionCase]):
    """Exception cases (issue 14); a case is stored as a copy, so changing it afterwards changes nothing."""

    async def add(self, case: ExceptionCase) -> int:
        """Stores a new case; returns its id (also set on the case)."""
        self._require_order(case.order_id)
        case.id = self._database.next_id()
        self._rows[case.id] = copy.deepcopy(case)
        return case.id

    async def get(self, case_id: int) -> ExceptionCase | None:
        """Reads a case by id."""
        case = self._view().get(case_id)
        return copy.deepcopy(case) if case is not None else None

    async def save(self, case: ExceptionCase) -> None:
        """Writes a changed case back."""
        if case.id is None or case.id not in self._view():
            raise ValueError(f"no exception case {case.id}")
        self._rows[case.id] = copy.deepcopy(case)

    async def of_order(self, order_id: str) -> list[ExceptionCase]:
        """An order's cases, oldest first."""
        return [copy.deepcopy(c) for _, c in sorted(self._view().items()) if c.order_id == order_id]

    async def open_of(self, order_id: str) -> ExceptionCase | None:
        """The order's newest open case, if any."""
        cases = [c for c in await self.of_order(order_id) if c.open]
        return cases[-1] if cases else None

    async def closed_unrecorded(self, limit: int) -> list[ExceptionCase]:
        """Closed cases without a completed record, oldest closed first."""
        cases = [c for c in self._view().values() if c.closed_at is not None and c.recorded_at is None]
        cases.sort(key=lambda c: (c.closed_at or c.opened_at, c.id or 0))
        return [copy.deepcopy(c) for c in cases[:limit]]

    def _table(self) -> dict[int, ExceptionCase]:
        """The committed cases."""
        return self._state.exception_cases


class FakeApiOrderRepository(_OrderRows):
    """Which API key created which order, unique per key and Idempotency-Key."""

    async def add(self, link: ApiOrderLink) -> bool:
        """Records the link; returns False, writing nothing, if the key's Idempotency-Key is taken."""
        self._require_order(link.order_id)
        if link.idempotency_key is not None:
            # NULL keys never collide; a racing request with the same key waits for the other's commit.
            await self._lock(link.key_name, link.idempotency_key)
            if await self.by_idempotency_key(link.key_name, link.idempotency_key) is not None:
                return False
        if await self.by_order(link.order_id) is not None:
            raise ValueError(f"order {link.order_id} has an API link already")
        self._links.append(link)
        return True

    async def by_idempotency_key(self, key_name: str, idempotency_key: str) -> ApiOrderLink | None:
        """Finds the order a key made under an Idempotency-Key."""
        return next(
            (
                link
                for link in self._view()
                if link.key_name == key_name and link.idempotency_key == idempotency_key
            ),
            None,
        )

    async def by_order(self, order_id: str) -> ApiOrderLink | None:
        """Finds which key created an order; None for orders from other channels."""
        return next((link for link in self._view() if link.order_id == order_id), None)

    def apply(self) -> None:
        """Writes the links."""
        self._state.api_links.extend(self._links)
        self.forget()

    def forget(self) -> None:
        """Drops the pending links."""
        self._links: list[ApiOrderLink] = []

    def _view(self) -> list[ApiOrderLink]:
        """The links, committed and pending."""
        return [*self._state.api_links, *self._links]


class FakeFinanceRepository(_OrderRowsById[MoneyOwed]):
    """Refunds and payouts; paying one takes its row lock, so a racing second press finds it paid."""

    async def add(self, record: MoneyOwed) -> int:
        """Stores a new record; returns its id."""
        self._require_order(record.order_id)
        record_id = self._database.next_id()
        self._rows[record_id] = dataclasses.replace(record, id=record_id)
        return record_id

    async def get(self, record_id: int) -> MoneyOwed | None:
        """Reads a record by id."""
        return self._view().get(record_id)

    async def for_order(self, order_id: str) -> list[MoneyOwed]:
        """Lists an order's records, oldest first."""
        return [record for _, record in sorted(self._view().items()) if record.order_id == order_id]

    async def open_records(self, *, offset: int, limit: int) -> list[MoneyOwed]:
        """Lists the open records, the earliest due first."""
        found = sorted(
            (record for record in self._view().values() if record.status is OwedStatus.OPEN),
            key=lambda record: (record.due_at, record.id or 0),
        )
        return found[offset : offset + limit]

    async def count_open(self) -> int:
        """Counts the open records."""
        return sum(1 for record in self._view().values() if record.status is OwedStatus.OPEN)

    async def mark_paid(
        self, record_id: int, *, reference: str, paid_at: datetime, by: int | None, at: datetime
    ) -> bool:
        """Records an open record paid; False if it was paid already (one winner)."""
        await self._lock("owed", record_id)
        record = self._view().get(record_id)
        if record is None or record.status is not OwedStatus.OPEN:
            return False
        self._rows[record_id] = dataclasses.replace(
            record,
            status=OwedStatus.PAID,
            paid_reference=reference,
            paid_at=paid_at,
            paid_by=by,
            recorded_at=at,
        )
        return True

    async def paid_with(self, order_id: str) -> PaymentRecord | None:
        """The order's latest payment received, from a PaymentDatabase's table (a plain fake has none)."""
        payments: Mapping[int, PaymentRecord] = getattr(self._database, "payments", {})
        received = (PaymentStatus.PAID, PaymentStatus.ACCEPTED)
        found = [p for _, p in sorted(payments.items()) if p.order_id == order_id and p.status in received]
        return found[-1] if found else None

    def _table(self) -> dict[int, MoneyOwed]:
        """The committed records."""
        return self._state.money_owed


class FakeCancellationRepository(_OrderRowsById[Cancellation]):
    """Cancellations; a step takes the row lock, so a racing second step finds the state moved on."""

    async def add(self, cancellation: Cancellation) -> int:
        """Stores a new cancellation; returns its id."""
        self._require_order(cancellation.order_id)
        cancellation_id = self._database.next_id()
        self._rows[cancellation_id] = dataclasses.replace(cancellation, id=cancellation_id)
        return cancellation_id

    async def latest_for(self, order_id: str) -> Cancellation | None:
        """The order's latest cancellation, if any."""
        found = [row for _, row in sorted(self._view().items()) if row.order_id == order_id]
        return dataclasses.replace(found[-1]) if found else None

    async def save(self, cancellation: Cancellation, *, was: CancellationState) -> bool:
        """Writes a step of a cancellation still in state `was`; False when another step won."""
        await self._lock("cancellation", cancellation.id)
        stored = self._view().get(cancellation.id or 0)
        if stored is None or stored.state is not was:
            return False
        self._rows[cancellation.id or 0] = dataclasses.replace(cancellation)
        return True

    def _table(self) -> dict[int, Cancellation]:
        """The committed cancellations."""
        return self._state.cancellations


@dataclass(frozen=True)
class _ClockRow:
    """One clock as a query sees it, with its order's reference."""

    clock_id: int
    order: Order
    clock: StageClock

    @property
    def order_ref(self) -> str:
        """The order's number, or its reference before it has one."""
        return self.order.number or self.order.reference


class FakeSlaRepository(_OrderRows):
    """Running clocks by due time, alerts recorded once, the tracking log."""

    def __init__(
        self,
        database: FakeDatabase,
        transaction: Callable[[], _Transaction],
        orders: FakeOrderRepository,
        reviews: FakeReviewRepository,
    ) -> None:
        self._reviews = reviews
        super().__init__(database, transaction, orders)

    async def try_lock_sweep(self) -> bool:
        """Takes the sweep lock until the transaction ends; False if another unit of work holds it."""
        return self._database.try_lock(("sweep",), self._transaction())

    async def due_for_breach(self, now: datetime, limit: int) -> list[DueClock]:
        """Lists running, unpaused clocks past their due time that have no breach alert yet, oldest first."""
        rows = [
            row
            for row in self._running()
            if row.clock.paused_at is None
            and row.clock.due_at < now
            and not self._alerted(row, AlertKind.BREACH)
        ]
        return self._due(rows, limit)

    async def due_for_warning(
        self, thresholds: Mapping[str, datetime], now: datetime, limit: int
    ) -> list[DueClock]:
        """Lists running, unpaused clocks not yet due whose due time is within their stage's threshold."""
        rows = [
            row
            for row in self._within(thresholds)
            if row.clock.paused_at is None
            and row.clock.due_at >= now
            and not self._alerted(row, AlertKind.WARNING)
        ]
        return self._due(rows, limit)

    async def at_risk_or_breached(self, thresholds: Mapping[str, datetime], limit: int) -> list[DueClock]:
        """Lists running clocks (paused ones too) within their stage's threshold, most overdue first."""
        return self._due(self._within(thresholds), limit)

    async def record_alert(self, alert: NewAlert) -> int | None:
        """Records an alert; returns its id, or None (writing nothing) if it was recorded before."""
        self._require_order(alert.order_id)
        await self._lock("alert", alert.clock_id, alert.kind, alert.order_id)
        for stored in self._view().values():
            if (
                stored.alert.clock_id == alert.clock_id
                and stored.alert.kind is alert.kind
                and stored.alert.order_id == alert.order_id
            ):
                return None
        alert_id = self._database.next_id()
        self._alerts[alert_id] = StoredAlert(alert_id, alert)
        return alert_id

    async def record_alerts(self, alerts: Sequence[NewAlert]) -> list[int | None]:
        """Records alerts at once; each one's id, or None where it was recorded before."""
        return [await self.record_alert(alert) for alert in alerts]

    async def get_alert(self, alert_id: int) -> SlaAlert | None:
        """Returns one alert, if it exists."""
        stored = self._view().get(alert_id)
        return self._joined(stored) if stored is not None else None

    async def alerts_in_batch(self, batch: str) -> list[SlaAlert]:
        """Returns the alerts merged into one digest message."""
        stored = sorted((a for a in self._view().values() if a.alert.batch == batch), key=lambda a: a.id)
        return [alert for alert in map(self._joined, stored) if alert is not None]

    async def unacknowledged(self, level: int, older_than: datetime, limit: int) -> list[SlaAlert]:
        """Lists breach alerts of a level unacknowledged since before older_than whose stage is still open."""
        running = {row.clock_id for row in self._running()}
        found = []
        for stored in self._view().values():
            told_at = stored.alert.created_at if level == EscalationLevel.NONE else stored.escalated_at
            if (
                stored.acknowledged_at is None
                and stored.alert.kind is AlertKind.BREACH
                and stored.escalation_level == level
                and told_at is not None
                and told_at <= older_than
                and stored.alert.clock_id in running
            ):
                found.append(stored)
        found.sort(key=lambda a: (a.alert.created_at, a.id))
        return [alert for alert in map(self._joined, found[:limit]) if alert is not None]

    async def escalate(self, alert_id: int, level: int, at: datetime) -> bool:
        """Raises an unacknowledged alert to level; False if it was acknowledged or raised already."""
        await self._lock("alert", alert_id)
        stored = self._view().get(alert_id)
        if stored is None or stored.escalation_level != level - 1 or stored.acknowledged_at is not None:
            return False
        self._alerts[alert_id] = dataclasses.replace(
            stored, escalation_level=EscalationLevel(level), escalated_at=at
        )
        return True

    async def acknowledge(self, alert_ids: Sequence[int], user_id: int, name: str, at: datetime) -> int:
        """Marks the alerts nobody acknowledged yet as taken on by the user; returns how many."""
        count = 0
        for alert_id in dict.fromkeys(alert_ids):
            await self._lock("alert", alert_id)
            stored = self._view().get(alert_id)
            if stored is None or stored.acknowledged_at is not None:
                continue
            self._alerts[alert_id] = dataclasses.replace(
                stored, acknowledged_by=user_id, acknowledged_by_name=name[:NAME_MAX], acknowledged_at=at
            )
            count += 1
        return count

    async def record_digest(self, slot: str, at: datetime, content: dict[str, Any]) -> bool:
        """Records the digest of a slot; False, writing nothing, if that slot's digest exists."""
        await self._lock("digest", slot)
        if slot in self._state.digests or slot in self._digests:
            return False
        self._digests[slot] = (at, json.loads(json.dumps(content)))
        return True

    def apply(self) -> None:
        """Writes the alerts and digests."""
        self._state.alerts.update(self._alerts)
        self._state.digests.update(self._digests)
        self.forget()

    def forget(self) -> None:
        """Drops the pending alerts and digests."""
        self._alerts: dict[int, StoredAlert] = {}
        self._digests: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def _view(self) -> dict[int, StoredAlert]:
        """Alerts by id, committed and pending."""
        return {**self._state.alerts, **self._alerts}

    def _clocks(self) -> dict[int, _ClockRow]:
        """Every clock row a query sees, by id."""
        return {
            clock_id: _ClockRow(clock_id, order, clock)
            for order, clock_ids in self._orders.rows().values()
            for clock, clock_id in zip(order.clocks, clock_ids, strict=True)
        }

    def _running(self) -> list[_ClockRow]:
        """The clocks not finished."""
        return [row for row in self._clocks().values() if row.clock.finished_at is None]

    def _within(self, thresholds: Mapping[str, datetime]) -> list[_ClockRow]:
        """The running clocks due by their stage's threshold."""
        return [
            row
            for row in self._running()
            if row.clock.stage in thresholds and row.clock.due_at <= thresholds[row.clock.stage]
        ]

    def _alerted(self, row: _ClockRow, kind: AlertKind) -> bool:
        """Whether the clock has an alert of this kind."""
        return any(a.alert.clock_id == row.clock_id and a.alert.kind is kind for a in self._view().values())

    def _due(self, rows: list[_ClockRow], limit: int) -> list[DueClock]:
        """Turns clock rows, earliest due first, into DueClocks carrying their order's last audit line."""
        rows = sorted(rows, key=lambda row: (row.clock.due_at, row.clock_id))[:limit]
        names = self._reviews.names()
        due = []
        for row in rows:
            last = None
            if row.order.audit:
                line = row.order.audit[-1]
                name = names.get(line.actor_id) if line.actor_id is not None else None
                last = LastAction(line.actor_id, line.actor_role.value, line.action, line.at, name)
            clock = row.clock
            due.append(
                DueClock(
                    row.clock_id,
                    row.order.id,
                    row.order_ref,
                    clock.stage,
                    clock.started_at,
                    clock.due_at,
                    clock.paused_at,
                    last,
                )
            )
        return due

    def _joined(self, stored: StoredAlert) -> SlaAlert | None:
        """The alert with its order's reference and its clock's due time (None if the clock is gone)."""
        row = self._clocks().get(stored.alert.clock_id)
        if row is None or row.order.id != stored.alert.order_id:
            return None
        return stored.joined(row.order_ref, row.clock.due_at)


class FakeUnitOfWork(JoinableUnitOfWork, CancellationUnitOfWork, ClaimsUnitOfWork):
    """One transaction on a FakeDatabase; nothing is kept unless commit() is called."""

    finance: FinanceRepository
    cancellations: CancellationRepository
    exceptions: ExceptionRepository

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.committed = False
        self._transaction: _Transaction | None = None
        self._orders: FakeOrderRepository | None = None
        self._pending: list[_Pending] = []

    @property
    def state(self) -> FakeState:
        """The committed state of the database."""
        return self.database.state

    async def _begin(self) -> None:
        """Binds the repositories."""
        self._bind()

    async def _end(self) -> None:
        """Drops whatever was not committed."""
        self._discard()
        self._orders = None
        self._pending = []

    async def commit(self) -> None:
        """Writes every change at once; raises ConcurrentModification on a lost race, writing nothing."""
        orders = self._open_orders()
        orders.check()
        for repository in self._pending:
            repository.check()
        orders.apply()
        for repository in self._pending:
            repository.apply()
        self._end_transaction()
        self.database.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        """Discards everything since the last commit, tracked aggregates included."""
        self._open_orders().forget()
        self._discard()
        self.database.rollbacks += 1

    def _bind(self) -> None:
        """Creates the repositories of a new transaction."""
        database, transaction = self.database, self._current
        self._orders = self.orders = orders = FakeOrderRepository(database)
        self.users = users = FakeUserRepository(database, transaction)
        self.staff = staff = FakeStaffRepository(database, transaction, users)
        self.outbox = outbox = FakeOutboxRepository(database, transaction)
        self.numbers = numbers = FakeOrderNumberAllocator(database, transaction)
        self.updates = updates = FakeProcessedUpdates(database, transaction)
        self.reviews = reviews = FakeReviewRepository(database, transaction, orders)
        self.sla = sla = FakeSlaRepository(database, transaction, orders, reviews)
        self.api = api = FakeApiOrderRepository(database, transaction, orders)
        self.finance = finance = FakeFinanceRepository(database, transaction, orders)
        self.cancellations = cancellations = FakeCancellationRepository(database, transaction, orders)
        self.exceptions = exceptions = FakeExceptionRepository(database, transaction, orders)
        self._pending = [
            *(staff, users, outbox, numbers, updates, reviews, sla, api),
            *(finance, cancellations, exceptions),
        ]

    def _current(self) -> _Transaction:
        """The open transaction, begun by the first statement that needs a lock."""
        if self._transaction is None:
            self._transaction = _Transaction()
        return self._transaction

    def _open_orders(self) -> FakeOrderRepository:
        """The order repository of the open unit of work."""
        if self._orders is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._orders

    def _discard(self) -> None:
        """Drops the pending writes and ends the transaction."""
        for repository in self._pending:
            repository.forget()
        self._end_transaction()

    def _end_transaction(self) -> None:
        """Frees the locks of the transaction; the next statement begins another."""
        if self._transaction is not None:
            self.database.release(self._transaction)
            self._transaction = None


class FakeInbox:
    """The update inbox in memory, next to a fake database whose processed updates it consults."""

    def __init__(self, database: FakeDatabase, *, fail_stores: int = 0) -> None:
        self.database = database
        self.rows: dict[int, InboxEntry] = {}
        self.runs: dict[int, int] = {}
        # How many of the next stores fail, as a database that is down would.
        self.fail_stores = fail_stores

    async def store(self, updates: Sequence[InboxEntry], at: datetime) -> list[InboxEntry]:
        """Stores the updates not seen yet; returns them."""
        if self.fail_stores > 0:
            self.fail_stores -= 1
            raise ConnectionError("the database is down")
        seen = set(self.rows) | self.database.state.processed_updates
        fresh = [entry for entry in updates if entry.update_id not in seen]
        for entry in fresh:
            self.rows[entry.update_id] = entry
            self.runs[entry.update_id] = 0
        return fresh

    async def pending(self) -> list[InboxEntry]:
        """Lists what is stored, oldest first."""
        return [self.rows[update_id] for update_id in sorted(self.rows)]

    async def begin(self, update_id: int) -> int:
        """Counts a run."""
        if update_id not in self.rows:
            return 0
        self.runs[update_id] += 1
        return self.runs[update_id]

    async def done(self, update_id: int) -> None:
        """Forgets the update."""
        self.rows.pop(update_id, None)
