"""What the readiness check and the Prometheus metrics read from the database (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import OutboxRow, SlaAlertRow
from storage.outbox_queue import PENDING


@dataclass(frozen=True)
class OpsFigures:
    """The outbox backlog, its oldest message and the SLA breaches recorded so far."""

    outbox_backlog: int
    oldest_pending_at: datetime | None
    sla_breaches: int


class SqlOpsQueries:
    """Short read-only queries of their own."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def ping(self) -> None:
        """Raises unless the database answers."""
        async with self._session_factory() as session:
            await session.execute(text("SELECT 1"))

    async def figures(self) -> OpsFigures:
        """Reads the figures in one read-only session."""
        async with self._session_factory() as session:
            backlog, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.state == PENDING)
                )
            ).one()
            breaches = await session.scalar(
                select(func.count()).select_from(SlaAlertRow).where(SlaAlertRow.kind == "breach")
            )
        return OpsFigures(int(backlog), oldest, int(breaches or 0))
