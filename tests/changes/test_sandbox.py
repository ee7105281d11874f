"""A change end to end through the fake Bot API (issue 13, R-6.2): the real bot polls the sandbox, EN, ZH."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher

from application.notifier import build_notifier
from application.ports import UnitOfWork
from application.review import ReviewSetup
from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.status import OrderStatus, Role
from presentation.notifications import TelegramNotices, fixed_team_chats
from sandbox.server import FakeBotApi, Json
from tests.changes.conftest import (
    CHATS,
    DESK_CHAT,
    POLICY,
    SLA,
    T0,
    TIMEZONE,
    WAREHOUSE_CHAT,
    Uows,
    make_order,
)
from tests.fakes import FakeDatabase
from tests.fixtures import load, store
from tests.payment.test_sandbox_invoice import polling
from tests.review.conftest import deliver
from tests.sandbox.test_server import api

__all__ = ["api"]

TEXTS = {
    "en": {
        "address": "✏️ Change address",
        "send": "✅ Send the change",
        "apply": "✅ Apply change",
        "sent": "is with our order desk",
        "done": "is changed",
        "warehouse": "changed",
    },
    "zh": {
        "address": "✏️ 修改地址",
        "send": "✅ 提交修改",
        "apply": "✅ Apply change",
        "sent": "已提交给订单管理部",
        "done": "已修改",
        "warehouse": "已修改",
    },
}


def setup_for(i18n: PoI18n, clock: FixedClock, team_language: str) -> ReviewSetup:
    """The production notices; the warehouse chat reads the given language."""

    async def chat_language(uow: UnitOfWork, chat_id: int) -> str | None:
        """The warehouse chat's choice."""
        return team_language if chat_id == WAREHOUSE_CHAT else None

    notices = TelegramNotices(i18n, TIMEZONE, POLICY)
    handlers = build_notifier(notices, fixed_team_chats(CHATS), chat_language=chat_language)
    return ReviewSetup(POLICY, clock, TIMEZONE, DESK_CHAT, SLA, handlers)


async def said(api: FakeBotApi, chat_id: int, text: str) -> Json:
    """The next bot message in the chat containing the text."""
    return await api.wait_for_bot_message(chat_id, lambda message: text in (message.get("text") or ""))


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_an_address_change_through_the_sandbox(
    api: FakeBotApi, new_uow: Uows, database: FakeDatabase, i18n: PoI18n, clock: FixedClock, language: str
) -> None:
    words = TEXTS[language]
    customer = api.create_user("Emma Brown" if language == "en" else "李娜", language_code=language)
    clerk = api.create_user("Olivia Desk")
    desk = api.create_group("Order desk", [clerk], chat_id=DESK_CHAT)
    api.create_group("Warehouse", chat_id=WAREHOUSE_CHAT)
    async with new_uow() as uow:
        await uow.staff.grant(clerk.id, Role.ORDER_DESK, by=None, at=T0)
        await uow.commit()
    order = await store(
        new_uow, make_order(status=OrderStatus.CONFIRMED, language=language, customer_id=customer.id)
    )
    dispatcher: Dispatcher = build_dispatcher(uow_factory=new_uow, i18n=i18n)
    dispatcher["review_setup"] = setup_for(i18n, clock, language)

    async with polling(api, dispatcher) as bot:
        api.send_text(customer, None, "/change 20260316001")
        offer = await said(api, customer.id, "20260316001")
        api.press_button(customer, offer, text=words["address"])
        await api.wait_for_bot_message(customer.id)
        for answer in ("France", "Paris", "1 Rue de Rivoli", "75001"):
            api.send_text(customer, None, answer)
            reply = await api.wait_for_bot_message(customer.id)
        assert "Paris" in reply["text"]
        api.press_button(customer, reply, text=words["send"])
        await said(api, customer.id, words["sent"])

        await deliver(bot, database.outbox_of(DESK_CHAT), new_uow)
        card = await said(api, desk.id, "Paris")
        api.press_button(clerk, card, text=words["apply"])
        await api.wait_for_bot_output(desk.id, kinds=("edited",))
        await deliver(bot, database.outbox_of(customer.id) + database.outbox_of(WAREHOUSE_CHAT), new_uow)
        await said(api, customer.id, words["done"])
        warehouse = await said(api, WAREHOUSE_CHAT, "Paris")

    assert words["warehouse"] in warehouse["text"]
    assert (await load(new_uow, order.id)).address.city == "Paris"
