"""Payment use cases (R-3.1): the pre-checkout check, Telegram charges, transfer receipts, reminders.

Each loads the order, asks the domain (domain/payment.py) and commits the payment row, the order
and the notices it causes in one transaction. A Telegram charge is recorded once per charge id,
however often its update arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from application.ports import UnitOfWork
from application.review import ReviewSetup
from application.services import EventHandlers, commit_change
from domain.clock import Clock
from domain.errors import DomainError, IllegalTransition, OrderNotFound
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Role
from domain.payment import (
    PaymentRecord,
    PaymentRequested,
    PaymentSource,
    PaymentState,
    PaymentStatus,
    PayRefusal,
    ReceiptKind,
    ReceiptRefusal,
    ReceiptRefused,
    ReceiptSubmitted,
    amount_due,
    awaits_payment,
    from_minor_units,
    needs_receipt,
    order_id_of,
    payment_state,
    refusal_to_pay,
    settle,
)
from domain.sla.clocks import SlaContext
from domain.text import FILE_ID_MAX, checked_file_id


class PaymentRepository(Protocol):
    """The payments of orders; a Telegram charge id is stored once."""

    async def add(self, record: PaymentRecord) -> int | None: ...

    async def get(self, payment_id: int) -> PaymentRecord | None: ...

    async def for_order(self, order_id: str) -> list[PaymentRecord]: ...

    async def decide(
        self,
        payment_id: int,
        status: PaymentStatus,
        *,
        by: int,
        at: datetime,
        refusal: ReceiptRefusal | None = None,
    ) -> bool: ...


class PaymentMismatch(DomainError):
    """A reported payment is not the order's amount and currency."""


class PaymentUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also knows the orders' payments."""

    payments: PaymentRepository


@dataclass(frozen=True)
class TelegramCharge:
    """What a successful_payment message says (amounts in the currency's smallest unit)."""

    payload: str
    payer_id: int
    total_amount: int
    currency: str
    telegram_payment_charge_id: str
    provider_payment_charge_id: str


@dataclass(frozen=True)
class ChargeOutcome:
    """What recording a charge did: the order, whether it was new, and whether it paid the order."""

    order: Order | None
    recorded: bool
    settled: bool


async def _order_of_payload(uow: UnitOfWork, payload: str) -> Order | None:
    """The order an invoice payload names, if it exists."""
    order_id = order_id_of(payload)
    if order_id is None:
        return None
    try:
        return await uow.orders.get(order_id)
    except OrderNotFound:
        return None


async def check_pre_checkout(
    uow: UnitOfWork, payload: str, *, payer_id: int, total_amount: int, currency: str
) -> PayRefusal | None:
    """Re-checks in the database that the order may still be charged this amount; None if it may."""
    async with uow:
        order = await _order_of_payload(uow, payload)
        if order is None:
            return PayRefusal.NOT_PAYABLE
        return refusal_to_pay(order, payer_id=payer_id, total_amount=total_amount, currency=currency)


async def record_telegram_payment(
    uow: PaymentUnitOfWork, charge: TelegramCharge, setup: ReviewSetup
) -> ChargeOutcome:
    """Records a Telegram charge once and marks the order paid, if the order still matches the charge."""
    async with uow:
        order = await _order_of_payload(uow, charge.payload)
        if order is None:
            return ChargeOutcome(None, recorded=False, settled=False)
        now = setup.clock.now()
        refusal = refusal_to_pay(
            order, payer_id=charge.payer_id, total_amount=charge.total_amount, currency=charge.currency
        )
        record = PaymentRecord(
            order_id=order.id,
            method=order.payment_method,
            source=PaymentSource.TELEGRAM,
            status=PaymentStatus.PAID,
            amount=from_minor_units(charge.total_amount, charge.currency),
            currency=charge.currency.upper(),
            created_at=now,
            telegram_payment_charge_id=charge.telegram_payment_charge_id[:FILE_ID_MAX],
            provider_payment_charge_id=charge.provider_payment_charge_id[:FILE_ID_MAX],
        )
        if await uow.payments.add(record) is None:
            # The same charge again (a redelivered update): it was recorded the first time.
            return ChargeOutcome(order, recorded=False, settled=False)
        amount = f"{record.amount} {record.currency}"
        if refusal is None:
            settle(
                order,
                source=PaymentSource.TELEGRAM,
                actor_id=charge.payer_id,
                role=Role.CUSTOMER,
                now=now,
                note=f"Telegram Payments: {amount}",
            )
        else:
            # Telegram charged although the order changed since the pre-checkout: keep it for the desk.
            order.note(
                f"{refusal.value}: {amount}",
                actor_id=charge.payer_id,
                role=Role.CUSTOMER,
                now=now,
                action="payment_mismatch",
            )
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return ChargeOutcome(order, recorded=True, settled=refusal is None)


async def submit_receipt(
    uow: PaymentUnitOfWork,
    order_id: str,
    *,
    customer_id: int,
    file_id: str,
    kind: ReceiptKind,
    setup: ReviewSetup,
) -> int:
    """Stores the customer's transfer receipt and shows it to the order desk; returns its id."""
    file_id = checked_file_id(file_id, "the receipt has no usable file")
    async with uow:
        order = await uow.orders.get(order_id)
        order.require_customer(customer_id, "submit_receipt")
        if not needs_receipt(order.payment_method) or not awaits_payment(order):
            raise IllegalTransition(order.status, "submit_receipt")
        now = setup.clock.now()
        record = PaymentRecord(
            order_id=order.id,
            method=order.payment_method,
            source=PaymentSource.RECEIPT,
            status=PaymentStatus.SUBMITTED,
            amount=amount_due(order),
            currency=order.currency,
            created_at=now,
            file_id=file_id,
            file_kind=kind,
        )
        payment_id = await uow.payments.add(record)
        assert payment_id is not None
        order.note(
            kind.value, actor_id=customer_id, role=Role.CUSTOMER, now=now, action="payment_receipt_sent"
        )
        order.record(ReceiptSubmitted(order.event_id(), order.id, now, payment_id, file_id, kind))
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return payment_id


async def awaiting_receipt(uow: UnitOfWork, customer_id: int) -> list[Order]:
    """The customer's unpaid transfer orders that wait for a receipt, newest first."""
    async with uow:
        orders = await uow.orders.list_for_customer(customer_id)
    return [order for order in orders if needs_receipt(order.payment_method) and awaits_payment(order)]


async def decide_receipt(
    uow: PaymentUnitOfWork,
    payment_id: int,
    *,
    actor_id: int,
    roles: frozenset[Role],
    accept: bool,
    reason: ReceiptRefusal | None,
    setup: ReviewSetup,
) -> Order:
    """Accepts a receipt (the order is paid) or refuses it (the customer is told why and how to pay)."""
    role = require(roles, Duty.RECORD_PAYMENT)
    if not accept and reason is None:
        raise DomainError("a refused receipt needs its reason")
    async with uow:
        record = await uow.payments.get(payment_id)
        if record is None:
            raise OrderNotFound(str(payment_id))
        order = await uow.orders.get(record.order_id)
        if record.status is not PaymentStatus.SUBMITTED or (accept and not awaits_payment(order)):
            raise IllegalTransition(order.status, "decide_receipt")
        now = setup.clock.now()
        status = PaymentStatus.ACCEPTED if accept else PaymentStatus.REFUSED
        if not await uow.payments.decide(payment_id, status, by=actor_id, at=now, refusal=reason):
            raise IllegalTransition(order.status, "decide_receipt")
        if accept:
            settle(
                order,
                source=PaymentSource.RECEIPT,
                actor_id=actor_id,
                role=role,
                now=now,
                note=f"receipt {payment_id} accepted",
            )
        else:
            assert reason is not None
            order.note(reason.value, actor_id=actor_id, role=role, now=now, action="payment_receipt_refused")
            order.record(ReceiptRefused(order.event_id(), order.id, now, reason))
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return order


async def request_payment(
    uow: UnitOfWork, order_id: str, *, actor_id: int, roles: frozenset[Role], setup: ReviewSetup
) -> Order:
    """Queues a reminder to the customer with how to pay (Remind the customer)."""
    role = require(roles, Duty.ASK_CUSTOMER)
    async with uow:
        order = await uow.orders.get(order_id)
        if not awaits_payment(order):
            raise IllegalTransition(order.status, "request_payment")
        if order.customer.telegram_user_id is None:
            raise DomainError("the customer has no Telegram chat; call them instead")
        now = setup.clock.now()
        order.note("", actor_id=actor_id, role=role, now=now, action="payment_reminder")
        order.record(PaymentRequested(order.event_id(), order.id, now, order.payment_method))
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return order


async def record_platform_payment(
    uow: PaymentUnitOfWork,
    order_id: str,
    *,
    amount: Decimal,
    currency: str,
    clock: Clock,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> Order:
    """Marks a platform's order paid at exactly its amount (POST /orders/{reference}/payment)."""
    async with uow:
        order = await uow.orders.get(order_id)
        if order.paid:
            return order
        if not awaits_payment(order):
            raise IllegalTransition(order.status, "record_platform_payment")
        if currency.upper() != order.currency.upper() or amount != amount_due(order):
            raise PaymentMismatch(
                f"the order's amount is {order.amount} {order.currency}; please pay exactly that"
            )
        now = clock.now()
        await uow.payments.add(
            PaymentRecord(
                order.id,
                order.payment_method,
                PaymentSource.PLATFORM,
                PaymentStatus.PAID,
                amount,
                order.currency,
                now,
            )
        )
        settle(
            order,
            source=PaymentSource.PLATFORM,
            actor_id=None,
            role=Role.CUSTOMER,
            now=now,
            note=f"reported by the platform: {amount} {order.currency}",
        )
        await commit_change(order, uow, now, handlers or {}, sla)
    return order


async def order_payment(
    uow: PaymentUnitOfWork, order_id: str
) -> tuple[Order, PaymentState, PaymentRecord | None]:
    """The order, what its payment stands at, and its latest receipt (if any)."""
    async with uow:
        order = await uow.orders.get(order_id)
        records = await uow.payments.for_order(order.id)
    receipts = [record for record in records if record.source is PaymentSource.RECEIPT]
    return order, payment_state(order, records), receipts[-1] if receipts else None
