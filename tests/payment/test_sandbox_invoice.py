"""The emulated Telegram Payments of the sandbox, paid end to end by the real payment routers over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiogram import Bot, Dispatcher

from domain.orders.model import Order
from presentation.payment_texts import pay_keyboard
from sandbox.server import FakeBotApi, FakeUser, Json
from tests.fixtures import load, store
from tests.payment.conftest import Uows, unpaid_order
from tests.payment.fakes import PaymentDatabase
from tests.sandbox.test_server import api, connected_bot, dispatcher_polling

__all__ = ["api"]


@asynccontextmanager
async def polling(api: FakeBotApi, dispatcher: Dispatcher) -> AsyncIterator[Bot]:
    """Runs the dispatcher's long polling against the sandbox until the block ends."""
    async with connected_bot(api) as bot, dispatcher_polling(api, bot, dispatcher):
        yield bot


async def until(condition: Callable[[], bool]) -> None:
    """Waits (at most 5 s) for something the bot does in the background."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the bot's polling task changes it, nothing to await
            await asyncio.sleep(0.02)


async def customer_order(new_uow: Uows, api: FakeBotApi) -> tuple[Order, FakeUser]:
    """An unpaid bank-card order of a sandbox user; returns it and the user."""
    user = api.create_user("Emma Brown")
    order = unpaid_order(amount="85.00")
    order.customer.telegram_user_id = user.id
    await store(new_uow, order)
    return order, user


async def invoice_after_pay_now(api: FakeBotApi, bot: Bot, order: Order, user: FakeUser) -> Json:
    """The customer presses Pay now under a message about the order; returns the invoice the bot sends."""
    prompt = await bot.send_message(user.id, "pay", reply_markup=pay_keyboard(order, str))
    api.press_button(user, api.chats[user.id].messages[prompt.message_id], text="💳 Pay now")
    return await api.wait_for_bot_message(user.id, lambda message: "invoice" in message)


async def test_an_invoice_paid_in_the_sandbox_is_recorded_once(
    api: FakeBotApi, dispatcher: Dispatcher, new_uow: Uows, database: PaymentDatabase
) -> None:
    order, user = await customer_order(new_uow, api)

    async with polling(api, dispatcher) as bot:
        invoice = await invoice_after_pay_now(api, bot, order, user)
        assert invoice["invoice"]["total_amount"] == 8500 and invoice["invoice"]["currency"] == "EUR"
        assert invoice["reply_markup"]["inline_keyboard"][0][0]["pay"] is True

        query_id = api.pay_invoice(user, invoice)
        await until(lambda: len(database.payments) == 1)
        assert api.pre_checkout_answers[query_id]["ok"] in (True, "true")
        [paid_message] = [m for m in api.chats[user.id].messages.values() if "successful_payment" in m]
        # Telegram delivering the same payment again (another update id) changes nothing.
        await dispatcher.feed_raw_update(bot, {"update_id": 9999, "message": paid_message})

    [payment] = database.payments.values()
    assert (
        payment.telegram_payment_charge_id == paid_message["successful_payment"]["telegram_payment_charge_id"]
    )
    stored = await load(new_uow, order.id)
    assert stored.paid and [line.action for line in stored.audit].count("payment_received") == 1


async def test_a_changed_amount_is_refused_before_the_charge(
    api: FakeBotApi, dispatcher: Dispatcher, new_uow: Uows, database: PaymentDatabase
) -> None:
    order, user = await customer_order(new_uow, api)

    async with polling(api, dispatcher) as bot:
        invoice = await invoice_after_pay_now(api, bot, order, user)
        async with new_uow() as uow:
            changed = await uow.orders.get(order.id)
            changed.amount += 10
            await uow.commit()

        query_id = api.pay_invoice(user, invoice)
        await until(lambda: query_id in api.pre_checkout_answers)

    answer = api.pre_checkout_answers[query_id]
    assert answer["ok"] in (False, "false") and "amount of this order has changed" in answer["error_message"]
    assert database.payments == {}
    assert not any("successful_payment" in m for m in api.chats[user.id].messages.values())
