"""SQL of refunds and payouts (issue 13, R-6.1, R-6.4): one row per amount owed; paid once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.finance import MoneyKind, MoneyOwed, OwedReason, OwedStatus
from domain.payment import PaymentRecord, PaymentStatus
from storage.models import MoneyOwedRow, OrderPaymentRow
from storage.payment_repository import SqlPaymentRepository

# The payments that count as the order's money received (a receipt waiting or refused does not).
_RECEIVED = (PaymentStatus.PAID.value, PaymentStatus.ACCEPTED.value)


def _record(row: MoneyOwedRow) -> MoneyOwed:
    """Reads one row."""
    return MoneyOwed(
        order_id=row.order_id,
        kind=MoneyKind(row.kind),
        reason=OwedReason(row.reason),
        amount=row.amount,
        currency=row.currency,
        method=row.method,
        created_at=row.created_at,
        due_at=row.due_at,
        note=row.note,
        payment_source=row.payment_source,
        telegram_payment_charge_id=row.telegram_payment_charge_id,
        provider_payment_charge_id=row.provider_payment_charge_id,
        created_by=row.created_by,
        case_id=row.case_id,
        status=OwedStatus(row.status),
        paid_reference=row.paid_reference,
        paid_at=row.paid_at,
        paid_by=row.paid_by,
        recorded_at=row.recorded_at,
        id=row.id,
    )


class SqlFinanceRepository:
    """Refund and payout rows in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: MoneyOwed) -> int:
        """Stores a new record; returns its id."""
        row = MoneyOwedRow(
            order_id=record.order_id,
            kind=record.kind.value,
            reason=record.reason.value,
            amount=record.amount,
            currency=record.currency,
            method=record.method,
            payment_source=record.payment_source,
            telegram_payment_charge_id=record.telegram_payment_charge_id,
            provider_payment_charge_id=record.provider_payment_charge_id,
            note=record.note,
            created_by=record.created_by,
            case_id=record.case_id,
            created_at=record.created_at,
            due_at=record.due_at,
            status=record.status.value,
            paid_reference=record.paid_reference,
            paid_at=record.paid_at,
            paid_by=record.paid_by,
            recorded_at=record.recorded_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def get(self, record_id: int) -> MoneyOwed | None:
        """Reads a record by id as the database has it now (not as this session first saw it)."""
        row = await self._session.scalar(
            select(MoneyOwedRow).where(MoneyOwedRow.id == record_id).execution_options(populate_existing=True)
        )
        return _record(row) if row is not None else None

    async def for_order(self, order_id: str) -> list[MoneyOwed]:
        """Lists an order's records, oldest first."""
        rows = await self._session.scalars(
            select(MoneyOwedRow).where(MoneyOwedRow.order_id == order_id).order_by(MoneyOwedRow.id)
        )
        return [_record(row) for row in rows]

    async def open_records(self, *, offset: int, limit: int) -> list[MoneyOwed]:
        """Lists the open records, the earliest due first (on ix_money_owed_status_due_at)."""
        rows = await self._session.scalars(
            select(MoneyOwedRow)
            .where(MoneyOwedRow.status == OwedStatus.OPEN.value)
            .order_by(MoneyOwedRow.due_at, MoneyOwedRow.id)
            .offset(offset)
            .limit(limit)
        )
        return [_record(row) for row in rows]

    async def count_open(self) -> int:
        """Counts the open records."""
        count = await self._session.scalar(
            select(func.count()).select_from(MoneyOwedRow).where(MoneyOwedRow.status == OwedStatus.OPEN.value)
        )
        return int(count or 0)

    async def mark_paid(
        self, record_id: int, *, reference: str, paid_at: datetime, by: int | None, at: datetime
    ) -> bool:
        """Records an open record paid; False if it was paid already (one winner)."""
        result = await self._session.execute(
            update(MoneyOwedRow)
            .where(MoneyOwedRow.id == record_id, MoneyOwedRow.status == OwedStatus.OPEN.value)
            .values(
                status=OwedStatus.PAID.value,
                paid_reference=reference,
                paid_at=paid_at,
                paid_by=by,
                recorded_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def paid_with(self, order_id: str) -> PaymentRecord | None:
        """The order's latest payment received (a charge, an accepted receipt, a platform's), if any."""
        row = await self._session.scalar(
            select(OrderPaymentRow)
            .where(OrderPaymentRow.order_id == order_id, OrderPaymentRow.status.in_(_RECEIVED))
            .order_by(OrderPaymentRow.id.desc())
            .limit(1)
        )
        if row is None:
            return None
        return await SqlPaymentRepository(self._session).get(row.id)
