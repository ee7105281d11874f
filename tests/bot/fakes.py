"""In-memory unit of work for bot tests: changes become visible only on commit, like the SQL one."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Self

from application.ports import OutboxMessage
from domain.errors import OrderNotFound
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role
from storage.inbox import InboxEntry


@dataclass
class FakeState:
    """Everything the fake database holds."""

    roles: dict[int, set[Role]] = field(default_factory=dict)
    languages: dict[int, str] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    processed_updates: set[int] = field(default_factory=set)
    orders: dict[str, Order] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    serials: dict[date, int] = field(default_factory=dict)


class FakeDatabase:
    """The committed state shared by every FakeUnitOfWork opened on it, plus commit statistics."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.commits = 0
        self.rollbacks = 0

    def unit_of_work(self) -> FakeUnitOfWork:
        """Opens a new unit of work on this database (a UnitOfWork factory)."""
        return FakeUnitOfWork(self)


class FakeOrders:
    """Orders kept by id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, order: Order) -> None:
        """Stores a new order."""
        self.state.orders[order.id] = order

    async def get(self, order_id: str) -> Order:
        """Returns the order or raises OrderNotFound."""
        try:
            return self.state.orders[order_id]
        except KeyError:
            raise OrderNotFound(order_id) from None

    async def find(self, reference_or_number: str) -> Order | None:
        """Finds an order by reference or formal number."""
        return next(
            (o for o in self.state.orders.values() if reference_or_number in (o.reference, o.number)), None
        )

    async def list_by_status(self, statuses: Iterable[OrderStatus], limit: int = 100) -> list[Order]:
        """Lists orders in any of the statuses."""
        wanted = set(statuses)
        return [o for o in self.state.orders.values() if o.status in wanted][:limit]

    async def list_for_customer(self, telegram_user_id: int, limit: int = 20) -> list[Order]:
        """Lists a customer's orders."""
        orders = self.state.orders.values()
        return [o for o in orders if o.customer.telegram_user_id == telegram_user_id][:limit]


class FakeStaff:
    """Roles by user id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def roles_of(self, user_id: int) -> frozenset[Role]:
        """Returns the user's roles."""
        return frozenset(self.state.roles.get(user_id, set()))

    async def grant(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Adds a role; False if the user had it already."""
        roles = self.state.roles.setdefault(user_id, set())
        if role in roles:
            return False
        roles.add(role)
        return True

    async def revoke(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Removes a role; False if the user did not have it."""
        roles = self.state.roles.get(user_id, set())
        if role not in roles:
            return False
        roles.discard(role)
        return True

    async def list_all(self) -> dict[int, frozenset[Role]]:
        """Returns every user with roles."""
        return {user_id: frozenset(roles) for user_id, roles in self.state.roles.items() if roles}


class FakeUsers:
    """Language and blocked flag by user id."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def language_of(self, user_id: int) -> str | None:
        """Returns the saved language, if any."""
        return self.state.languages.get(user_id)

    async def set_language(self, user_id: int, language: str) -> None:
        """Saves the language."""
        self.state.languages[user_id] = language

    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None:
        """Remembers whether the user blocked the bot."""
        if blocked:
            self.state.blocked.add(user_id)
        else:
            self.state.blocked.discard(user_id)


class FakeOutbox:
    """Queued messages, deduplicated by key."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Queues the message; False if its dedup key is already queued."""
        if message.dedup_key and any(m.dedup_key == message.dedup_key for m in self.state.outbox):
            return False
        self.state.outbox.append(message)
        return True


class FakeNumbers:
    """Daily serials."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def next_serial(self, day: date) -> int:
        """Returns the next serial of the day."""
        self.state.serials[day] = self.state.serials.get(day, 0) + 1
        return self.state.serials[day]


class FakeUpdates:
    """Processed update ids."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def mark(self, update_id: int) -> bool:
        """Records the id; False if it was recorded before."""
        if update_id in self.state.processed_updates:
            return False
        self.state.processed_updates.add(update_id)
        return True


class FakeUnitOfWork:
    """Works on a private copy of the database state, written back only by commit()."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.committed = False

    async def __aenter__(self) -> Self:
        """Takes a private copy of the committed state."""
        self._bind(copy.deepcopy(self.database.state))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Drops whatever was not committed."""
        self._bind(copy.deepcopy(self.database.state))

    async def commit(self) -> None:
        """Makes the private copy the committed state."""
        self.database.state = copy.deepcopy(self.state)
        self.database.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        """Goes back to the committed state."""
        self._bind(copy.deepcopy(self.database.state))
        self.database.rollbacks += 1

    def _bind(self, state: FakeState) -> None:
        """Points the repositories at a state."""
        self.state = state
        self.orders = FakeOrders(state)
        self.staff = FakeStaff(state)
        self.users = FakeUsers(state)
        self.outbox = FakeOutbox(state)
        self.numbers = FakeNumbers(state)
        self.updates = FakeUpdates(state)


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
