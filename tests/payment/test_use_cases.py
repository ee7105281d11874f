"""Payment use cases on the fake unit of work (R-3.1, issue 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.payment import (
    TelegramCharge,
    check_pre_checkout,
    decide_receipt,
    record_platform_payment,
    record_telegram_payment,
    request_payment,
    submit_receipt,
)
from application.review import ReviewSetup, approve, cancel_by_customer, record_payment_receipt
from domain.errors import DomainError, IllegalTransition, NotPermitted
from domain.orders.status import Channel, OrderStatus, Role
from domain.payment import (
    NotPaid,
    PaymentStatus,
    PayRefusal,
    ReceiptKind,
    ReceiptRefusal,
    from_minor_units,
    minor_units,
)
from tests.fixtures import load, store
from tests.payment.conftest import Uows, rejected_as_not_paid, unpaid_order
from tests.payment.fakes import PaymentDatabase
from tests.review.conftest import CUSTOMER_ID, DESK_CHAT, DESK_ID, buttons

DESK = frozenset({Role.ORDER_DESK})


def charge(
    order_id: str, total: int = 24580, currency: str = "EUR", charge_id: str = "tg-1"
) -> TelegramCharge:
    """A successful_payment for the order."""
    return TelegramCharge(f"order:{order_id}", CUSTOMER_ID, total, currency, charge_id, f"prov-{charge_id}")


async def refuse(new_uow: Uows, payment_id: int, reason: ReceiptRefusal, setup: ReviewSetup) -> None:
    """The desk clerk refuses a receipt for the reason."""
    await decide_receipt(
        new_uow(), payment_id, actor_id=DESK_ID, roles=DESK, accept=False, reason=reason, setup=setup
    )


def test_amounts_go_to_telegram_in_the_smallest_unit_of_the_currency() -> None:
    assert minor_units(Decimal("85.00"), "CNY") == 8500
    assert minor_units(Decimal("245.8"), "EUR") == 24580
    assert minor_units(Decimal("1200"), "JPY") == 1200
    assert from_minor_units(8500, "CNY") == Decimal("85.00")
    assert from_minor_units(1200, "JPY") == Decimal(1200)


async def test_pre_checkout_accepts_only_the_order_as_it_stands(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, unpaid_order())
    payload = f"order:{order.id}"

    async def check(total: int = 24580, currency: str = "EUR", payer: int = CUSTOMER_ID) -> PayRefusal | None:
        return await check_pre_checkout(
            new_uow(), payload, payer_id=payer, total_amount=total, currency=currency
        )

    assert await check() is None
    assert await check(total=24500) is PayRefusal.AMOUNT_CHANGED
    assert await check(currency="CNY") is PayRefusal.CURRENCY_CHANGED
    assert await check(payer=1234) is PayRefusal.NOT_YOURS
    assert await check_pre_checkout(
        new_uow(), "order:nope", payer_id=CUSTOMER_ID, total_amount=1, currency="EUR"
    ) is (PayRefusal.NOT_PAYABLE)
    await cancel_by_customer(new_uow(), order.id, customer_id=CUSTOMER_ID, setup=setup)
    assert await check() is PayRefusal.NOT_PAYABLE


async def test_a_charge_delivered_twice_is_recorded_once(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order())

    first = await record_telegram_payment(new_uow(), charge(order.id), setup)
    second = await record_telegram_payment(new_uow(), charge(order.id), setup)

    assert (first.recorded, first.settled, second.recorded, second.settled) == (True, True, False, False)
    [payment] = database.payments.values()
    assert (payment.amount, payment.currency, payment.status) == (
        Decimal("245.80"),
        "EUR",
        PaymentStatus.PAID,
    )
    assert (payment.telegram_payment_charge_id, payment.provider_payment_charge_id) == ("tg-1", "prov-tg-1")
    assert payment.created_at == setup.clock.now()
    stored = await load(new_uow, order.id)
    assert stored.paid and [line.action for line in stored.audit].count("payment_received") == 1
    thanks = [m for m in database.outbox_of(CUSTOMER_ID) if (m.dedup_key or "").startswith("paid:")]
    assert len(thanks) == 1 and "Payment of 245.80 EUR received" in thanks[0].params["text"]
    [card] = [m for m in database.outbox_of(DESK_CHAT) if (m.dedup_key or "").startswith("paid-card:")]
    assert "Payment received for" in card.params["text"]
    assert f"rv:{order.id}:ap:1" in buttons(card)


async def test_a_charge_for_a_changed_order_is_kept_but_does_not_pay_it(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order())

    outcome = await record_telegram_payment(new_uow(), charge(order.id, total=100), setup)

    assert (outcome.recorded, outcome.settled) == (True, False)
    stored = await load(new_uow, order.id)
    assert not stored.paid and stored.audit[-1].action == "payment_mismatch"
    assert len(database.payments) == 1


async def test_approve_refuses_an_unpaid_order_and_passes_it_once_paid(
    new_uow: Uows, setup: ReviewSetup, staffed: None
) -> None:
    order = await store(new_uow, unpaid_order())

    with pytest.raises(NotPaid):
        await approve(new_uow(), order.id, actor_id=DESK_ID, roles=DESK, setup=setup)
    assert (await load(new_uow, order.id)).status is OrderStatus.PENDING_REVIEW

    await record_telegram_payment(new_uow(), charge(order.id), setup)
    outcome = await approve(new_uow(), order.id, actor_id=DESK_ID, roles=DESK, setup=setup)
    assert outcome.status is OrderStatus.CONFIRMED


async def test_a_payment_after_a_not_paid_rejection_sends_the_order_back_to_review(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, rejected_as_not_paid(unpaid_order()))

    await record_telegram_payment(new_uow(), charge(order.id), setup)

    stored = await load(new_uow, order.id)
    assert (stored.status, stored.paid) == (OrderStatus.PENDING_REVIEW, True)
    assert [line.action for line in stored.audit][-3:] == ["payment_received", "resubmit", "pass_validation"]
    cards = [m for m in database.outbox_of(DESK_CHAT) if (m.dedup_key or "").startswith("review-card:")]
    assert len(cards) == 1 and f"rv:{stored.id}:ap:1" in buttons(cards[0])


async def test_a_receipt_goes_to_the_desk_and_accepting_it_pays_the_order(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order(payment_method="alipay"))

    payment_id = await submit_receipt(
        new_uow(), order.id, customer_id=CUSTOMER_ID, file_id="photo-1", kind=ReceiptKind.PHOTO, setup=setup
    )

    [shown] = [m for m in database.outbox_of(DESK_CHAT) if (m.dedup_key or "").startswith("receipt:")]
    assert (shown.method, shown.params["photo"]) == ("sendPhoto", "photo-1")
    assert order.reference in shown.params["caption"] and "245.80 EUR" in shown.params["caption"]
    assert buttons(shown) == [f"rcp:{payment_id}:ok", f"rcp:{payment_id}:no"]
    with pytest.raises(NotPermitted):
        await decide_receipt(
            new_uow(),
            payment_id,
            actor_id=1,
            roles=frozenset({Role.WAREHOUSE}),
            accept=True,
            reason=None,
            setup=setup,
        )

    await decide_receipt(
        new_uow(), payment_id, actor_id=DESK_ID, roles=DESK, accept=True, reason=None, setup=setup
    )

    assert (await load(new_uow, order.id)).paid
    assert database.payments[payment_id].status is PaymentStatus.ACCEPTED
    assert database.payments[payment_id].decided_by == DESK_ID
    with pytest.raises(IllegalTransition):
        await refuse(new_uow, payment_id, ReceiptRefusal.UNREADABLE, setup)


async def test_a_refused_receipt_tells_the_customer_why_and_how_to_pay(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order(payment_method="bank_transfer"))
    payment_id = await submit_receipt(
        new_uow(), order.id, customer_id=CUSTOMER_ID, file_id="pdf-1", kind=ReceiptKind.DOCUMENT, setup=setup
    )

    await refuse(new_uow, payment_id, ReceiptRefusal.WRONG_AMOUNT, setup)

    stored = await load(new_uow, order.id)
    assert not stored.paid and stored.status is OrderStatus.PENDING_REVIEW
    [told] = [
        m for m in database.outbox_of(CUSTOMER_ID) if (m.dedup_key or "").startswith("receipt-refused:")
    ]
    text = told.params["text"]
    assert "the amount on the receipt is not the amount due" in text
    assert "Account no.: 7451 0000 1234 5678" in text and order.reference in text
    assert buttons(told) == [f"pay:{order.id}:rcpt"]


async def test_a_receipt_is_only_for_the_own_unpaid_transfer_order(new_uow: Uows, setup: ReviewSetup) -> None:
    card_order = await store(new_uow, unpaid_order())
    transfer = await store(new_uow, unpaid_order(payment_method="wechat_pay"))

    with pytest.raises(IllegalTransition):
        await submit_receipt(
            new_uow(),
            card_order.id,
            customer_id=CUSTOMER_ID,
            file_id="f",
            kind=ReceiptKind.PHOTO,
            setup=setup,
        )
    with pytest.raises(NotPermitted):
        await submit_receipt(
            new_uow(), transfer.id, customer_id=42, file_id="f", kind=ReceiptKind.PHOTO, setup=setup
        )


async def test_remind_the_customer_queues_how_to_pay(
    new_uow: Uows, setup: ReviewSetup, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order(payment_method="wechat_pay", language="zh"))

    await request_payment(new_uow(), order.id, actor_id=DESK_ID, roles=DESK, setup=setup)

    [reminder] = database.outbox_of(CUSTOMER_ID)
    assert "尚未付款" in reminder.params["text"] and "微信支付" in reminder.params["text"]
    assert buttons(reminder) == [f"pay:{order.id}:rcpt"]
    assert (await load(new_uow, order.id)).audit[-1].action == "payment_reminder"
    with pytest.raises(NotPermitted):
        await request_payment(new_uow(), order.id, actor_id=1, roles=frozenset({Role.WAREHOUSE}), setup=setup)


async def test_a_platform_pays_later_at_exactly_the_amount(new_uow: Uows, setup: ReviewSetup) -> None:
    platform = unpaid_order()
    platform.channel = Channel.PLATFORM_API
    platform.customer.telegram_user_id = None
    order = await store(new_uow, platform)

    with pytest.raises(DomainError):
        await record_platform_payment(
            new_uow(), order.id, amount=Decimal("1"), currency="EUR", clock=setup.clock
        )
    paid = await record_platform_payment(
        new_uow(), order.id, amount=Decimal("245.80"), currency="EUR", clock=setup.clock
    )

    assert paid.paid
    again = await record_platform_payment(
        new_uow(), order.id, amount=Decimal("245.80"), currency="EUR", clock=setup.clock
    )
    assert again.paid and [line.action for line in again.audit].count("payment_received") == 1


async def test_offline_receipt_after_a_not_paid_rejection_reopens_review(
    new_uow: Uows, setup: ReviewSetup
) -> None:
    offline = rejected_as_not_paid(unpaid_order())
    offline.channel = Channel.HOTLINE
    order = await store(new_uow, offline)

    await record_payment_receipt(
        new_uow(), order.reference, actor_id=DESK_ID, roles=DESK, receipt="B-1", setup=setup
    )

    stored = await load(new_uow, order.id)
    assert (stored.status, stored.paid, stored.audit[-1].action) == (
        OrderStatus.PENDING_REVIEW,
        True,
        "payment_receipt",
    )
