"""Finance tests: the production wiring with a finance chat and a management chat (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from application.finance import owe
from application.services import commit_change
from domain.finance import MoneyKind, MoneyOwed, OwedReason
from domain.orders.model import Order
from domain.orders.status import OrderStatus
from domain.payment import PaymentRecord, PaymentSource, PaymentStatus
from scheduler.outbox_sender import OutboxSender
from storage.outbox_queue import SqlOutboxQueue
from tests.product.conftest import NAMES, NOW, AnsweringBot, Product
from tests.storage.factories import make_order
from tests.wiring import production

FINANCE_CHAT = -1005000000001
MANAGEMENT_CHAT = -1006000000001
DESK_CHAT = -1001000000001
FIN_ID = 601
FIN2_ID = 602


@pytest.fixture
async def product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Product]:
    """The production objects with the finance and management chats configured, and the outbox sender."""
    monkeypatch.setitem(NAMES, FIN_ID, "Fiona Finance")
    monkeypatch.setitem(NAMES, FIN2_ID, "Frank Ledger")
    async with production(
        tmp_path / "finance.sqlite3",
        monkeypatch,
        NOW,
        admin_ids=[900],
        order_desk_chat_id=DESK_CHAT,
        finance_chat_id=FINANCE_CHAT,
        management_chat_id=MANAGEMENT_CHAT,
    ) as wiring:
        bot = AnsweringBot()
        sender = OutboxSender(
            SqlOutboxQueue(wiring.sessions),
            bot,
            wiring.clock,
            overall_per_second=1000,
            group_per_minute=1000,
            private_per_second=1000,
        )
        yield Product(
            wiring.settings, wiring.workflow, wiring.dispatcher, wiring.sessions, bot, sender, wiring.clock
        )
        bot.assert_no_violations()


async def paid_cancelled_order(
    product: Product, *, customer_id: int, language: str = "en", telegram_charge: bool = True
) -> Order:
    """A numbered, paid order cancelled after confirmation, with its Telegram Payments charge."""
    order = make_order(
        status=OrderStatus.CANCELLED, telegram_user_id=customer_id, created_at=NOW - timedelta(days=1)
    )
    order.paid = True
    order.number = "20260315007"
    order.customer.language = language
    async with product.uow() as uow:
        await uow.orders.add(order)
        if telegram_charge:
            await uow.payments.add(
                PaymentRecord(
                    order.id,
                    "card",
                    PaymentSource.TELEGRAM,
                    PaymentStatus.PAID,
                    order.amount,
                    order.currency,
                    NOW - timedelta(days=1),
                    telegram_payment_charge_id="tg-charge-1",
                    provider_payment_charge_id="prov-charge-77",
                )
            )
        await uow.commit()
    return order


async def owe_now(
    product: Product,
    order: Order,
    *,
    kind: MoneyKind = MoneyKind.REFUND,
    reason: OwedReason = OwedReason.CANCELLATION,
    amount: str = "245.80",
    note: str = "",
    at: datetime | None = None,
) -> MoneyOwed:
    """Owes money on the order as another use case would: in its unit of work, committed with its change."""
    now = at or product.clock.now()
    async with product.uow() as uow:
        loaded = await uow.orders.get(order.id)
        record = await owe(
            uow,
            loaded,
            kind=kind,
            amount=Decimal(amount),
            currency=order.currency,
            reason=reason,
            note=note,
            now=now,
            sla=product.workflow.sla,
        )
        await commit_change(loaded, uow, now, product.workflow.event_handlers, product.workflow.sla)
    return record
