"""Paying in the chat through the real routers and middlewares, Bot API calls checked by the mocked bot."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey

from domain.orders.status import OrderStatus
from domain.payment import PaymentStatus, ReceiptKind
from handlers.payment import PaymentDialog
from presentation.callbacks import ReviewAction, ReviewStep
from presentation.payment_texts import PaymentAction, PayStep, ReceiptAction, ReceiptStep
from tests.fixtures import load, store
from tests.mocked_bot import MockedBot
from tests.payment.conftest import (
    PROVIDER_TOKEN,
    Uows,
    customer_file,
    pre_checkout,
    successful_payment,
    unpaid_order,
)
from tests.payment.fakes import PaymentDatabase
from tests.review.conftest import (
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    Card,
    alerts,
    buttons,
    card_of,
    deliver,
    press,
)

pytestmark = pytest.mark.usefixtures("staffed")


async def test_pre_checkout_is_answered_after_checking_the_order_again(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot
) -> None:
    order = await store(new_uow, unpaid_order(language="zh"))

    await dispatcher.feed_update(bot, pre_checkout(1, order, 24580, "EUR"))
    changed = await load(new_uow, order.id)
    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
        stored.amount = changed.amount + 1
        await uow.commit()
    await dispatcher.feed_update(bot, pre_checkout(2, order, 24580, "EUR", language_code="zh-hans"))

    first, second = bot.requests_for("answerPreCheckoutQuery")
    assert (first.params["pre_checkout_query_id"], first.params["ok"]) == ("pc1", "true")
    assert second.params["ok"] == "false"
    assert second.params["error_message"] == "此订单金额已变更；请支付新的账单。"


async def test_pre_checkout_is_refused_for_a_cancelled_order(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot
) -> None:
    order = unpaid_order()
    order.status = OrderStatus.CANCELLED
    await store(new_uow, order)

    await dispatcher.feed_update(bot, pre_checkout(1, order, 24580, "EUR"))

    [answer] = bot.requests_for("answerPreCheckoutQuery")
    assert answer.params["ok"] == "false" and "can no longer be paid" in answer.params["error_message"]


async def test_successful_payment_delivered_twice_pays_once(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order())

    await dispatcher.feed_update(bot, successful_payment(1, order, 24580, "EUR", "charge-77"))
    await dispatcher.feed_update(bot, successful_payment(2, order, 24580, "EUR", "charge-77"))

    [payment] = database.payments.values()
    assert payment.telegram_payment_charge_id == "charge-77" and payment.status is PaymentStatus.PAID
    stored = await load(new_uow, order.id)
    assert stored.paid and [line.action for line in stored.audit].count("payment_received") == 1
    await deliver(bot, database.outbox_of(), new_uow)


async def test_approve_refuses_an_unpaid_order_and_offers_the_reminder(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order(payment_method="alipay"))
    card = Card(DESK_CHAT, 77, f"Review: {order.reference}")
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE).pack()

    await dispatcher.feed_update(bot, press(1, approve, user_id=DESK_ID, card=card))

    assert (await load(new_uow, order.id)).status is OrderStatus.PENDING_REVIEW
    [refusal] = alerts(bot)
    assert refusal.startswith("Not paid yet: no payment yet.") and "Remind the customer" in refusal
    [edited] = bot.requests_for("editMessageReplyMarkup")
    remind = PaymentAction(order_id=order.id, act=PayStep.REMIND).pack()
    assert remind in str(edited.decoded("reply_markup"))

    await dispatcher.feed_update(bot, press(2, remind, user_id=DESK_ID, card=card))

    assert alerts(bot)[-1].startswith("Reminder sent to the customer")
    [reminder] = database.outbox_of(CUSTOMER_ID)
    assert "is not paid yet" in reminder.params["text"] and "Alipay" in reminder.params["text"]
    await deliver(bot, [reminder], new_uow)


async def test_pay_now_sends_the_invoice_in_the_smallest_unit(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot
) -> None:
    order = await store(new_uow, unpaid_order(amount="85.00"))
    mine = Card(CUSTOMER_ID, 5, "not paid")
    pay = PaymentAction(order_id=order.id, act=PayStep.INVOICE).pack()

    await dispatcher.feed_update(bot, press(1, pay, user_id=4242, card=Card(4242, 5, "x")))
    await dispatcher.feed_update(bot, press(2, pay, user_id=CUSTOMER_ID, card=mine))

    assert alerts(bot)[0] == "This is not your order."
    [invoice] = bot.requests_for("sendInvoice")
    assert invoice.params["provider_token"] == PROVIDER_TOKEN
    assert (invoice.params["currency"], invoice.decoded("prices")[0]["amount"]) == ("EUR", 8500)
    assert invoice.params["payload"] == f"order:{order.id}"


async def test_a_receipt_reaches_the_desk_which_accepts_it(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot, database: PaymentDatabase
) -> None:
    order = await store(new_uow, unpaid_order(payment_method="bank_transfer"))
    send = PaymentAction(order_id=order.id, act=PayStep.RECEIPT).pack()

    await dispatcher.feed_update(bot, press(1, send, user_id=CUSTOMER_ID, card=Card(CUSTOMER_ID, 5, "pay")))
    key = StorageKey(bot_id=bot.id, chat_id=CUSTOMER_ID, user_id=CUSTOMER_ID)
    assert await dispatcher.storage.get_state(key) == PaymentDialog.receipt.state
    await dispatcher.feed_update(bot, customer_file(2, photo=False))

    [payment] = database.payments.values()
    assert (payment.file_id, payment.file_kind, payment.status) == (
        "receipt-pdf",
        ReceiptKind.DOCUMENT,
        PaymentStatus.SUBMITTED,
    )
    [shown] = [m for m in database.outbox_of(DESK_CHAT) if m.method == "sendDocument"]
    await deliver(bot, [shown], new_uow)
    receipt_card = Card(DESK_CHAT, 88, f"Payment receipt for {order.reference}")
    refuse = ReceiptAction(payment_id=payment.id or 0, act=ReceiptStep.REFUSE).pack()
    accept = ReceiptAction(payment_id=payment.id or 0, act=ReceiptStep.ACCEPT).pack()

    await dispatcher.feed_update(bot, press(3, refuse, user_id=DESK_ID, card=receipt_card))
    await dispatcher.feed_update(bot, press(4, accept, user_id=CUSTOMER_ID, card=receipt_card))
    await dispatcher.feed_update(bot, press(5, accept, user_id=DESK_ID, card=receipt_card))

    assert alerts(bot)[-2:] == ["Only the order desk can review orders.", "Payment accepted"]
    assert (await load(new_uow, order.id)).paid
    [edited] = bot.requests_for("editMessageCaption")
    assert "Payment accepted" in edited.params["caption"] and "reply_markup" not in edited.params
    [refreshed] = [m for m in database.outbox_of(DESK_CHAT) if (m.dedup_key or "").startswith("paid-card:")]
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE).pack()
    await dispatcher.feed_update(bot, press(6, approve, user_id=DESK_ID, card=card_of(refreshed)))
    assert (await load(new_uow, order.id)).status is OrderStatus.CONFIRMED
    assert buttons(refreshed)[0] == approve


async def test_a_photo_sent_later_is_the_receipt_of_the_one_order_waiting_for_it(
    dispatcher: Dispatcher, new_uow: Uows, bot: MockedBot, database: PaymentDatabase
) -> None:
    await store(new_uow, unpaid_order(payment_method="card"))
    transfer = await store(new_uow, unpaid_order(payment_method="wechat_pay"))

    await dispatcher.feed_update(bot, customer_file(1))

    [payment] = database.payments.values()
    assert (payment.order_id, payment.file_id) == (transfer.id, "receipt-photo")
    assert "checks your receipt" in bot.requests_for("sendMessage")[-1].params["text"]

    second = await store(new_uow, unpaid_order(payment_method="alipay"))
    await dispatcher.feed_update(bot, customer_file(2))

    assert len(database.payments) == 1
    ask = bot.requests_for("sendMessage")[-1]
    assert "Which order is this receipt for?" in ask.params["text"]
    choices = str(ask.decoded("reply_markup"))
    assert f"pay:{second.id}:rcpt" in choices and f"pay:{transfer.id}:rcpt" in choices
