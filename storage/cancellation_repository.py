"""SQL of cancellations (issue 13, R-6.1): one row per cancellation; a step is a conditional update."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.cancellation import Cancellation, CancellationPath, CancellationState
from storage.models import CancellationRow

_FIELDS = (
    "order_id",
    "requested_at",
    "requested_by",
    "consent",
    "reason",
    "share_percent",
    "charge",
    "currency",
    "decided_at",
    "decided_by",
    "refund",
    "other_service_offered",
)


def _cancellation(row: CancellationRow) -> Cancellation:
    """Reads one row."""
    return Cancellation(
        path=CancellationPath(row.path),
        state=CancellationState(row.state),
        id=row.id,
        **{name: getattr(row, name) for name in _FIELDS},
    )


class SqlCancellationRepository:
    """Cancellation rows in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, cancellation: Cancellation) -> int:
        """Stores a new cancellation and returns its id."""
        row = CancellationRow(
            path=cancellation.path.value,
            state=cancellation.state.value,
            **{name: getattr(cancellation, name) for name in _FIELDS},
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def latest_for(self, order_id: str) -> Cancellation | None:
        """The order's latest cancellation, if any."""
        row = await self._session.scalar(
            select(CancellationRow)
            .where(CancellationRow.order_id == order_id)
            .order_by(CancellationRow.id.desc())
            .limit(1)
        )
        return _cancellation(row) if row is not None else None

    async def save(self, cancellation: Cancellation, *, was: CancellationState) -> bool:
        """Writes a step of a cancellation still in state `was`; False when another step won."""
        result = await self._session.execute(
            update(CancellationRow)
            .where(CancellationRow.id == cancellation.id, CancellationRow.state == was.value)
            .values(
                path=cancellation.path.value,
                state=cancellation.state.value,
                **{name: getattr(cancellation, name) for name in _FIELDS},
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
