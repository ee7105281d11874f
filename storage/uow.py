"""The SQL unit of work: one session, one transaction, the repositories bound to it."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar, Token

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from application.aftersales_ports import AftersalesUnitOfWork
from application.cancellation import CancellationUnitOfWork
from application.exception_ports import ExceptionUnitOfWork
from application.finance import FinanceUnitOfWork
from application.payment import PaymentUnitOfWork
from application.ports import JoinableUnitOfWork
from domain.errors import ConcurrentModification
from storage.aftersales_repository import SqlAftersalesRepository
from storage.api_repository import SqlApiOrderRepository
from storage.cancellation_repository import SqlCancellationRepository
from storage.database import HOLDS_WRITER, writer_lock
from storage.exception_repository import SqlExceptionRepository
from storage.finance_repository import SqlFinanceRepository
from storage.inbox import InboxProcessedUpdates
from storage.order_repository import SqlOrderRepository
from storage.payment_repository import SqlPaymentRepository
from storage.repositories import (
    AFTER_COMMIT,
    SqlOrderNumberAllocator,
    SqlOutboxRepository,
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


def sqlite_writer_lock(session_factory: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """The in-process writer lock of a SQLite database; None on PostgreSQL or when already held here.

    A unit of work holds it from its start to its end (storage.database), not only while a
    transaction is open: the session's own transactions inside then do not wait for it.
    """
    engine = session_factory.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite" or HOLDS_WRITER.get():
        return None
    return writer_lock(engine)


def active_session() -> AsyncSession | None:
    """Returns the session of the unit of work open in the current context, if any."""
    active = _ACTIVE_SESSION.get()
    return active.session if active is not None else None


class SqlUnitOfWork(
    JoinableUnitOfWork,
    AftersalesUnitOfWork,
    PaymentUnitOfWork,
    CancellationUnitOfWork,
    FinanceUnitOfWork,
    ExceptionUnitOfWork,
):
    """One database transaction; nothing is kept unless commit() is called.

    Entering an open unit of work again joins it (JoinableUnitOfWork). The repositories are
    typed by the port it implements (protocol attributes are invariant).
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self._active: tuple[_OpenSession, Token[_OpenSession | None]] | None = None
        self._orders: SqlOrderRepository | None = None
        self._writer: tuple[asyncio.Lock, Token[bool]] | None = None

    @property
    def session(self) -> AsyncSession:
        """The open session, for the few needs the repositories do not cover."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use 'async with uow:'")
        return self._session

    async def _begin(self) -> None:
        """Takes this process's SQLite writer lock, then opens a session (the transaction starts lazily)."""
        lock = sqlite_writer_lock(self._session_factory)
        if lock is not None:
            await lock.acquire()
            self._writer = (lock, HOLDS_WRITER.set(True))
        self._session = self._session_factory()
        self._bind_repositories(self._session)
        opened = _OpenSession(self._session)
        self._active = (opened, _ACTIVE_SESSION.set(opened))

    async def _end(self) -> None:
        """Rolls back whatever was not committed and closes the session."""
        session, self._session = self.session, None
        if self._active is not None:
            opened, token = self._active
            opened.session = None
            _ACTIVE_SESSION.reset(token)
            self._active = None
        try:
            # close() rolls the transaction back without expiring loaded rows, so they stay readable.
            await session.close()
        finally:
            if self._writer is not None:
                lock, held = self._writer
                self._writer = None
                HOLDS_WRITER.reset(held)
                lock.release()

    async def commit(self) -> None:
        """Writes the changed aggregates and commits; raises ConcurrentModification on a lost race."""
        try:
            await self._order_repository().save_changes()
            await self.session.commit()
        except StaleDataError as error:
            raise ConcurrentModification("a row was changed by someone else; reload and retry") from error
        for action in self.session.info.pop(AFTER_COMMIT, ()):
            action()

    async def rollback(self) -> None:
        """Discards everything since the last commit, tracked aggregates included."""
        await self.session.rollback()
        self.session.info.pop(AFTER_COMMIT, None)
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
        # Recording an update processed also removes it from the inbox, in the same transaction.
        self.updates = InboxProcessedUpdates(session)
        self.sla = SqlSlaRepository(session)
        self.reviews = SqlReviewRepository(session)
        self.api = SqlApiOrderRepository(session)
        self.aftersales = SqlAftersalesRepository(session)
        self.payments = SqlPaymentRepository(session)
        self.finance = SqlFinanceRepository(session)
        self.cancellations = SqlCancellationRepository(session)
        self.exceptions = SqlExceptionRepository(session)
