"""The fake unit of work with payments, behaving like storage.payment_repository on the fake database."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from application.payment import PaymentRepository, PaymentUnitOfWork
from domain.payment import PaymentRecord, PaymentStatus, ReceiptRefusal
from tests.fakes import (
    FakeDatabase,
    FakeOrderRepository,
    FakeUnitOfWork,
    _OrderRowsById,
    _Transaction,
)


class FakePaymentRepository(_OrderRowsById[PaymentRecord]):
    """Payments; a Telegram charge id is stored once (a racing second insert waits, then finds it)."""

    def __init__(
        self,
        database: PaymentDatabase,
        transaction: Callable[[], _Transaction],
        orders: FakeOrderRepository,
    ) -> None:
        self._payments_db = database
        super().__init__(database, transaction, orders)

    async def add(self, record: PaymentRecord) -> int | None:
        """Stores a payment; None, storing nothing, when its charge id is recorded already."""
        self._require_order(record.order_id)
        charge = record.telegram_payment_charge_id
        if charge is not None:
            await self._lock("charge", charge)
            if any(known.telegram_payment_charge_id == charge for known in self._view().values()):
                return None
        payment_id = self._database.next_id()
        self._rows[payment_id] = dataclasses.replace(record, id=payment_id)
        return payment_id

    async def get(self, payment_id: int) -> PaymentRecord | None:
        """Reads a payment by id."""
        return self._view().get(payment_id)

    async def for_order(self, order_id: str) -> list[PaymentRecord]:
        """Lists an order's payments, oldest first."""
        return [record for _, record in sorted(self._view().items()) if record.order_id == order_id]

    async def decide(
        self,
        payment_id: int,
        status: PaymentStatus,
        *,
        by: int,
        at: datetime,
        refusal: ReceiptRefusal | None = None,
    ) -> bool:
        """Decides a submitted receipt once."""
        await self._lock("payment", payment_id)
        record = self._view().get(payment_id)
        if record is None or record.status is not PaymentStatus.SUBMITTED:
            return False
        self._rows[payment_id] = dataclasses.replace(
            record, status=status, decided_by=by, decided_at=at, refusal=refusal
        )
        return True

    def _table(self) -> dict[int, PaymentRecord]:
        """The committed payments."""
        return self._payments_db.payments


class PaymentDatabase(FakeDatabase):
    """The fake database with a payments table."""

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[int, PaymentRecord] = {}

    def unit_of_work(self) -> FakePaymentUnitOfWork:
        """Opens a unit of work that knows payments."""
        return FakePaymentUnitOfWork(self)


class FakePaymentUnitOfWork(FakeUnitOfWork, PaymentUnitOfWork):
    """A FakeUnitOfWork with the payments repository in the same transaction."""

    payments: PaymentRepository

    def __init__(self, database: PaymentDatabase) -> None:
        super().__init__(database)
        self._payments_db = database

    def _bind(self) -> None:
        """Adds the payments repository to the new transaction's."""
        super()._bind()
        orders = self._open_orders()
        payments = FakePaymentRepository(self._payments_db, self._current, orders)
        self.payments = payments
        self._pending.append(payments)
