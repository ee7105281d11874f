"""SQL implementation of the ApiOrderRepository port: which API key created which order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports import ApiOrderLink
from storage.models import ApiIdempotencyRow
from storage.repositories import columns_of, record_from, table_of, upsert


class SqlApiOrderRepository:
    """Links API-created orders to their key and Idempotency-Key, in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, link: ApiOrderLink) -> bool:
        """Records the link; returns False, writing nothing, if the key's Idempotency-Key is taken."""
        table = table_of(ApiIdempotencyRow)
        stmt = (
            upsert(self._session, table)
            .values(**columns_of(link))
            # A racing request with the same key waits for the other's commit, then inserts nothing.
            .on_conflict_do_nothing(index_elements=[table.c.key_name, table.c.idempotency_key])
            .returning(table.c.id)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    async def by_idempotency_key(self, key_name: str, idempotency_key: str) -> ApiOrderLink | None:
        """Finds the order a key made under an Idempotency-Key."""
        row = await self._session.scalar(
            select(ApiIdempotencyRow).where(
                ApiIdempotencyRow.key_name == key_name, ApiIdempotencyRow.idempotency_key == idempotency_key
            )
        )
        return record_from(ApiOrderLink, row) if row is not None else None

    async def by_order(self, order_id: str) -> ApiOrderLink | None:
        """Finds which key created an order; None for orders from other channels."""
        row = await self._session.scalar(
            select(ApiIdempotencyRow).where(ApiIdempotencyRow.order_id == order_id)
        )
        return record_from(ApiOrderLink, row) if row is not None else None
