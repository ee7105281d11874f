"""An order's changes and what is left to pay round-trip through SQLite and PostgreSQL (issue 13, R-6.2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from domain.orders.change_record import ChangeRecord, ChangeStatus, Consent
from domain.orders.status import Role
from storage.uow import SqlUnitOfWork
from tests.storage.factories import T0, reviewed_order

NewUow = Callable[[], SqlUnitOfWork]


async def test_changes_and_outstanding_round_trip(new_uow: NewUow) -> None:
    order = reviewed_order()
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
        stored.outstanding = Decimal("12.50")
        stored.changes.append(
            ChangeRecord(
                number=1,
                kind="address",
                old={"country": "DE", "city": "Berlin"},
                new={"country": "FR", "city": "Paris"},
                requested_by=601,
                requested_role=Role.CUSTOMER_SERVICE,
                requested_at=T0,
                consent=Consent.BY_PHONE,
                status=ChangeStatus.APPLIED,
                consent_note="caller confirmed",
                decided_by=701,
                decided_at=T0 + timedelta(minutes=20),
                amount_before=Decimal("245.80"),
                amount_after=Decimal("258.30"),
            )
        )
        await uow.commit()
    async with new_uow() as uow:
        again = await uow.orders.get(order.id)

    assert again.outstanding == Decimal("12.50")
    assert again.changes == stored.changes
