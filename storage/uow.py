"""The SQL unit of work: one session, one transaction, the repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import ConcurrentModification
from storage.repositories import (
    SqlOrderNumberAllocator,
    SqlOrderRepository,
    SqlOutboxRepository,
    SqlProcessedUpdates,
    SqlStaffRepository,
    SqlUserRepository,
)


class SqlUnitOfWork:
    """One database transaction; nothing is kept unless commit() is called.

    Entering an open unit of work again (a use case called with the unit of work a middleware
    opened) joins it: the inner block shares the transaction and leaves closing to the outer one.
    """

    orders: SqlOrderRepository
    staff: SqlStaffRepository
    users: SqlUserRepository
    outbox: SqlOutboxRepository
    numbers: SqlOrderNumberAllocator
    updates: SqlProcessedUpdates

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self._depth = 0

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
        # close() rolls the transaction back without expiring loaded rows, so they stay readable.
        await session.close()

    async def commit(self) -> None:
        """Writes the changed aggregates and commits; raises ConcurrentModification on a lost race."""
        try:
            await self.orders.save_changes()
            await self.session.commit()
        except StaleDataError as error:
            raise ConcurrentModification("a row was changed by someone else; reload and retry") from error

    async def rollback(self) -> None:
        """Discards everything since the last commit, tracked aggregates included."""
        await self.session.rollback()
        self.orders.forget()

    def _bind_repositories(self, session: AsyncSession) -> None:
        """Creates the repositories on the session."""
        self.orders = SqlOrderRepository(session)
        self.staff = SqlStaffRepository(session)
        self.users = SqlUserRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.numbers = SqlOrderNumberAllocator(session)
        self.updates = SqlProcessedUpdates(session)
