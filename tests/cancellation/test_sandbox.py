"""A customer cancels through the loopback fake Bot API (sandbox/), the production dispatcher polling it.

English and Chinese: /cancel <number>, the prompt with Yes / No, the press, the answer; a second
press of the same Yes is answered and changes nothing (issue 13, R-6.1).
"""

from __future__ import annotations

import pytest

from domain.orders.status import OrderStatus
from sandbox.server import FakeBotApi
from tests.payment.test_sandbox_invoice import polling
from tests.product.conftest import Product, store
from tests.sandbox.test_server import api
from tests.storage.factories import make_order

__all__ = ["api"]


@pytest.mark.parametrize(
    ("language", "name", "yes", "held", "already"),
    [
        ("en", "Emma Brown", "✖ Yes, cancel it", "is stopped", "is under way already"),
        ("zh", "李娜", "✖ 是的，取消", "已暂停处理", "已在处理中"),
    ],
)
async def test_a_customer_cancels_a_confirmed_order_through_the_sandbox(
    api: FakeBotApi, product: Product, language: str, name: str, yes: str, held: str, already: str
) -> None:
    user = api.create_user(name, language_code=language)
    order = make_order(status=OrderStatus.CONFIRMED, telegram_user_id=user.id)
    order.number, order.customer.language = "20260316009", language
    await store(product, order)

    async with polling(api, product.dispatcher):
        api.send_text(user, None, "/cancel 20260316009")
        prompt = await api.wait_for_bot_message(user.id, lambda m: bool(m.get("reply_markup")))
        api.press_button(user, prompt, text=yes)
        await api.wait_for_bot_message(user.id, lambda m: held in m.get("text", ""))
        # The answered prompt loses its buttons; asking again is answered and changes nothing.
        assert not api.chats[user.id].messages[prompt["message_id"]].get("reply_markup")
        api.send_text(user, None, "/cancel 20260316009")
        await api.wait_for_bot_message(user.id, lambda m: already in m.get("text", ""))

    async with product.uow() as uow:
        stored = await uow.orders.get(order.id)
    assert stored.status is OrderStatus.CANCELLATION_REQUESTED
    assert len([m for m in api.bot_messages(user.id) if held in m.get("text", "")]) == 1
