"""SQL of payments (issue 12): one row per charge, receipt or reported payment; a charge id only once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.payment import PaymentRecord, PaymentSource, PaymentStatus, ReceiptKind, ReceiptRefusal
from storage.models import OrderPaymentRow
from storage.repositories import table_of, upsert


def _record(row: OrderPaymentRow) -> PaymentRecord:
    """Reads one payment row."""
    return PaymentRecord(
        order_id=row.order_id,
        method=row.method,
        source=PaymentSource(row.source),
        status=PaymentStatus(row.status),
        amount=row.amount,
        currency=row.currency,
        created_at=row.created_at,
        telegram_payment_charge_id=row.telegram_payment_charge_id,
        provider_payment_charge_id=row.provider_payment_charge_id,
        file_id=row.file_id,
        file_kind=ReceiptKind(row.file_kind) if row.file_kind else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        refusal=ReceiptRefusal(row.refusal) if row.refusal else None,
        id=row.id,
    )


class SqlPaymentRepository:
    """Payment rows in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: PaymentRecord) -> int | None:
        """Stores a payment; None, storing nothing, when its Telegram charge id is recorded already."""
        table = table_of(OrderPaymentRow)
        stmt = upsert(self._session, table).values(
            order_id=record.order_id,
            method=record.method,
            source=record.source.value,
            status=record.status.value,
            amount=record.amount,
            currency=record.currency,
            telegram_payment_charge_id=record.telegram_payment_charge_id,
            provider_payment_charge_id=record.provider_payment_charge_id,
            file_id=record.file_id,
            file_kind=record.file_kind.value if record.file_kind else None,
            decided_by=record.decided_by,
            decided_at=record.decided_at,
            refusal=record.refusal.value if record.refusal else None,
            created_at=record.created_at,
        )
        # A second transaction with the same charge id waits for the first and then inserts nothing.
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.telegram_payment_charge_id])
        new_id: int | None = (await self._session.execute(stmt.returning(table.c.id))).scalar_one_or_none()
        return new_id

    async def get(self, payment_id: int) -> PaymentRecord | None:
        """Reads a payment by id."""
        row = await self._session.get(OrderPaymentRow, payment_id)
        return _record(row) if row is not None else None

    async def for_order(self, order_id: str) -> list[PaymentRecord]:
        """Lists an order's payments, oldest first."""
        rows = await self._session.scalars(
            select(OrderPaymentRow).where(OrderPaymentRow.order_id == order_id).order_by(OrderPaymentRow.id)
        )
        return [_record(row) for row in rows]

    async def decide(
        self,
        payment_id: int,
        status: PaymentStatus,
        *,
        by: int,
        at: datetime,
        refusal: ReceiptRefusal | None = None,
    ) -> bool:
        """Accepts or refuses a submitted receipt; False if it was decided already (one winner)."""
        result = await self._session.execute(
            update(OrderPaymentRow)
            .where(OrderPaymentRow.id == payment_id, OrderPaymentRow.status == PaymentStatus.SUBMITTED.value)
            .values(
                status=status.value, decided_by=by, decided_at=at, refusal=refusal.value if refusal else None
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
