"""The refund and payout table on SQLite and PostgreSQL: owe and pay through SqlUnitOfWork (issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from application.finance import open_page, owe, record_paid
from application.services import Actor, commit_change
from domain.clock import FixedClock
from domain.finance import MoneyKind, OwedReason, OwedStatus
from domain.orders.status import OrderStatus, Role
from domain.payment import PaymentRecord, PaymentSource, PaymentStatus
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import shipped_policy
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401
from tests.storage.factories import make_order

T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
SLA = SlaContext(shipped_policy(), BusinessCalendar())
Uows = Callable[[], SqlUnitOfWork]


async def test_a_refund_and_a_payout_of_one_order_keep_their_own_clocks_in_sql(new_uow: Uows) -> None:  # noqa: F811
    order = make_order(status=OrderStatus.CANCELLED, created_at=T0 - timedelta(days=1))
    order.paid = True
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.payments.add(
            PaymentRecord(
                order.id,
                "alipay",
                PaymentSource.RECEIPT,
                PaymentStatus.ACCEPTED,
                order.amount,
                order.currency,
                T0 - timedelta(days=1),
            )
        )
        await uow.commit()
    owed = []
    for at, kind, reason, amount in (
        (T0, MoneyKind.REFUND, OwedReason.RECALL, "200.00"),
        (T0 + timedelta(hours=1), MoneyKind.PAYOUT, OwedReason.DAMAGE_COMPENSATION, "50.00"),
    ):
        async with new_uow() as uow:
            loaded = await uow.orders.get(order.id)
            owed.append(
                await owe(
                    uow,
                    loaded,
                    kind=kind,
                    amount=Decimal(amount),
                    currency="EUR",
                    reason=reason,
                    note="",
                    now=at,
                    sla=SLA,
                )
            )
            await commit_change(loaded, uow, at, {}, SLA)

    page = await open_page(new_uow(), roles=frozenset({Role.FINANCE}))
    assert [entry.record.id for entry in page.entries] == [record.id for record in owed]
    assert {entry.record.method for entry in page.entries} == {"alipay"}
    paid_at = T0 + timedelta(hours=2)
    payout = owed[1]
    assert payout.id is not None
    await record_paid(
        new_uow(),
        payout.id,
        actor=Actor(5, frozenset({Role.FINANCE})),
        reference="AP-7",
        paid_at=paid_at,
        clock=FixedClock(T0 + timedelta(hours=3)),
        handlers={},
        sla=SLA,
    )

    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
        records = await uow.finance.for_order(order.id)
    assert [(c.stage, c.running) for c in stored.clocks] == [("refund", True), ("compensation", False)]
    assert [(r.status, r.paid_at) for r in records] == [(OwedStatus.OPEN, None), (OwedStatus.PAID, paid_at)]
    assert records[0].due_at == datetime(2026, 3, 19, 2, tzinfo=UTC)


async def test_retention_erases_a_records_note_and_keeps_its_figures(new_uow: Uows) -> None:  # noqa: F811
    order = make_order(status=OrderStatus.ARCHIVED, created_at=T0 - timedelta(days=1))
    order.paid = True
    async with new_uow() as uow:
        await uow.orders.add(order)
        loaded = await uow.orders.get(order.id)
        await owe(
            uow,
            loaded,
            kind=MoneyKind.PAYOUT,
            amount=Decimal("9.90"),
            currency="EUR",
            reason=OwedReason.DISCOUNT,
            note="Li Wei called from +8613800138000",
            now=T0,
            sla=SLA,
        )
        await commit_change(loaded, uow, T0, {}, SLA)
    async with new_uow() as uow:
        await uow.aftersales.erase(order.id, T0 + timedelta(days=400), directory=None)
        await uow.commit()

    async with new_uow() as uow:
        [record] = await uow.finance.for_order(order.id)
    assert (record.note, record.amount, record.reason) == ("", Decimal("9.90"), OwedReason.DISCOUNT)
