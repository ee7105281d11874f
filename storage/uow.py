"""The SQL unit of work: one session, one transaction, the repositories bound to it."""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from application.payment import PaymentRepository
from application.ports import (
    ApiOrderRepository,
    OrderNumberAllocator,
    OrderRepository,
    OutboxRepository,
    ProcessedUpdates,
    ReviewRepository,
    SlaRepository,
    StaffRepository,
    UserRepository,
)
from domain.errors import ConcurrentModification
from storage.api_repository import SqlApiOrderRepository
from storage.payment_repository import SqlPaymentRepository
from storage.repositories import (
    SqlOrderNumberAllocator,
    SqlOrderRepository,
    SqlOutboxRepository,
    SqlProcessedUpdates,
    SqlStaffRepository,
    SqlUserRepository,
)
from storage.review_repository import SqlReviewRepository
from storage.sla_repository import SqlSlaRepository


class _OpenSession:
    """The session of an open unit of work, for as long as it is open."""

    def __init__(self, session: AsyncSession) -> None:
        self.session: AsyncSession | None = session


# The session of the unit of work the current task has open: other storage of the same database
# (the FSM storage) joins it, because on SQLite a second transaction would wait for this one's
# write lock until busy_timeout. Tasks started inside inherit it, and lose it when the unit of
# work closes, so a late write never lands in a session nobody commits.
_ACTIVE_SESSION: ContextVar[_OpenSession | None] = ContextVar("active_session", default=None)


def active_session() -> AsyncSession | None:
    """Returns the session of the unit of work open in the current context, if any."""
    active = _ACTIVE_SESSION.get()
    return active.session if active is not None else None


class SqlUnitOfWork:
    """One database transaction; nothing is kept unless commit() is called.

    Entering an open unit of work again (a use case called with the unit of work a middleware
    opened) joins it: the inner block shares the transaction and leaves closing to the outer one.
    """

    # Typed as the ports, so that this class is a UnitOfWork (protocol attributes are invariant).
    orders: OrderRepository
    staff: StaffRepository
    users: UserRepository
    outbox: OutboxRepository
    numbers: OrderNumberAllocator
    updates: ProcessedUpdates
    sla: SlaRepository
    reviews: ReviewRepository
    api: ApiOrderRepository
    payments: PaymentRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self._depth = 0
        self._active: tuple[_OpenSession, Token[_OpenSession | None]] | None = None
        self._orders: SqlOrderRepository | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session, for the few needs the repositories do not cover."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._session

    async def __aenter__(self) -> Self:
        """Opens a session (or joins the open one); the transaction begins with the first statement."""
        self._depth += 1
        if self._session is None:
            self._session = self._session_factory()
            self._bind_repositories(self._session)
            opened = _OpenSession(self._session)
            self._active = (opened, _ACTIVE_SESSION.set(opened))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back whatever was not committed and closes the session, when leaving the outermost block."""
        self._depth -= 1
        if self._depth > 0:
            return
        session, self._session = self.session, None
        if self._active is not None:
            opened, token = self._active
            opened.session = None
            _ACTIVE_SESSION.reset(token)
            self._active = None
        # close() rolls the transaction back without expiring loaded rows, so they stay readable.
        await session.close()

    async def commit(self) -> None:
        """Writes the changed aggregates and commits; raises ConcurrentModification on a lost race."""
        try:
            await self._order_repository().save_changes()
            await self.session.commit()
        except StaleDataError as error:
            raise ConcurrentModification("a row was changed by someone else; reload and retry") from error

    async def rollback(self) -> None:
        """Discards everything since the last commit, tracked aggregates included."""
        await self.session.rollback()
        self._order_repository().forget()

    def _order_repository(self) -> SqlOrderRepository:
        """The order repository of the open session."""
        if self._orders is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._orders

    def _bind_repositories(self, session: AsyncSession) -> None:
        """Creates the repositories on the session."""
        self.orders = self._orders = SqlOrderRepository(session)
        self.staff = SqlStaffRepository(session)
        self.users = SqlUserRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.numbers = SqlOrderNumberAllocator(session)
        self.updates = SqlProcessedUpdates(session)
        self.sla = SqlSlaRepository(session)
        self.reviews = SqlReviewRepository(session)
        self.api = SqlApiOrderRepository(session)
        self.payments = SqlPaymentRepository(session)
