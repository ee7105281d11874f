"""Payments in SQL (SQLite and PostgreSQL): a Telegram charge is recorded once, a receipt decided once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

from application.payment import TelegramCharge, decide_receipt, record_telegram_payment, submit_receipt
from application.review import ReviewSetup
from domain.clock import FixedClock
from domain.orders.status import Action, OrderStatus, Role
from domain.payment import PaymentRecord, PaymentSource, PaymentStatus, ReceiptKind, ReceiptRefusal
from domain.review import ReviewPolicy
from storage.uow import SqlUnitOfWork
from tests.storage.factories import CUSTOMER_ID, T0, make_order

SETUP = ReviewSetup(ReviewPolicy(Decimal(10000), "CNY"), FixedClock(T0), "Asia/Shanghai", None)
Uows = Callable[[], SqlUnitOfWork]


async def _unpaid(new_uow: Uows, payment_method: str = "card") -> str:
    """Stores an unpaid order waiting for the first review; returns its id."""
    order = make_order()
    order.payment_method = payment_method
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=frozenset({Role.SYSTEM}), now=T0)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order.id


def _charge(order_id: str) -> TelegramCharge:
    return TelegramCharge(f"order:{order_id}", CUSTOMER_ID, 24580, "EUR", "tg-charge-1", "provider-1")


async def test_the_same_charge_twice_and_at_once_is_one_row(new_uow: Uows) -> None:
    order_id = await _unpaid(new_uow)

    outcomes = await asyncio.gather(
        *(record_telegram_payment(new_uow(), _charge(order_id), SETUP) for _ in range(2))
    )
    again = await record_telegram_payment(new_uow(), _charge(order_id), SETUP)

    assert sorted(outcome.recorded for outcome in (*outcomes, again)) == [False, False, True]
    async with new_uow() as uow:
        [payment] = await uow.payments.for_order(order_id)
        order = await uow.orders.get(order_id)
    assert payment == PaymentRecord(
        order_id=order_id,
        method="card",
        source=PaymentSource.TELEGRAM,
        status=PaymentStatus.PAID,
        amount=Decimal("245.80"),
        currency="EUR",
        created_at=T0,
        telegram_payment_charge_id="tg-charge-1",
        provider_payment_charge_id="provider-1",
        id=payment.id,
    )
    assert order.paid and order.status is OrderStatus.PENDING_REVIEW
    assert [line.action for line in order.audit].count("payment_received") == 1


async def test_a_receipt_is_stored_and_decided_once(new_uow: Uows) -> None:
    order_id = await _unpaid(new_uow, "alipay")
    payment_id = await submit_receipt(
        new_uow(),
        order_id,
        customer_id=CUSTOMER_ID,
        file_id="AgAC-photo",
        kind=ReceiptKind.PHOTO,
        setup=SETUP,
    )
    desk = frozenset({Role.ORDER_DESK})

    await decide_receipt(
        new_uow(),
        payment_id,
        actor_id=7,
        roles=desk,
        accept=False,
        reason=ReceiptRefusal.UNREADABLE,
        setup=SETUP,
    )
    async with new_uow() as uow:
        refused = await uow.payments.get(payment_id)
        assert not await uow.payments.decide(payment_id, PaymentStatus.ACCEPTED, by=8, at=T0)
    assert refused is not None
    assert (refused.status, refused.refusal, refused.decided_by, refused.file_kind) == (
        PaymentStatus.REFUSED,
        ReceiptRefusal.UNREADABLE,
        7,
        ReceiptKind.PHOTO,
    )
