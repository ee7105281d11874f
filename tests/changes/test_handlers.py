"""Changing an order in the chat (issue 13, R-6.2): the production routers on the fake database, EN and ZH."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiogram import Dispatcher

from application.notifier import build_notifier
from application.ports import UnitOfWork
from application.review import ReviewSetup
from bot.dispatcher import build_dispatcher
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.change_record import ChangeStatus
from domain.orders.status import OrderStatus, Role, Service
from presentation.notifications import TelegramNotices, fixed_team_chats
from tests.changes.conftest import (
    CHATS,
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    POLICY,
    SLA,
    TIMEZONE,
    WAREHOUSE_CHAT,
    Uows,
    make_order,
)
from tests.fakes import FakeDatabase
from tests.fixtures import grant_roles, load, store
from tests.mocked_bot import MockedBot
from tests.review.conftest import alerts, buttons, card_of, command, press, sent_texts


@pytest.fixture
def zh_warehouse_setup(i18n: PoI18n, clock: FixedClock) -> ReviewSetup:
    """The production notices; the warehouse chat chose Chinese with /lang."""

    async def chat_language(uow: UnitOfWork, chat_id: int) -> str | None:
        """The warehouse chat reads Chinese."""
        return "zh" if chat_id == WAREHOUSE_CHAT else None

    notices = TelegramNotices(i18n, TIMEZONE, POLICY)
    handlers = build_notifier(notices, fixed_team_chats(CHATS), chat_language=chat_language)
    return ReviewSetup(POLICY, clock, TIMEZONE, DESK_CHAT, SLA, handlers)


def dispatcher_for(new_uow: Uows, i18n: PoI18n, setup: ReviewSetup) -> Dispatcher:
    """The production dispatcher (every router, every middleware) with the review setup."""
    dispatcher = build_dispatcher(uow_factory=new_uow, i18n=i18n)
    dispatcher["review_setup"] = setup
    return dispatcher


async def staff(new_uow: Uows) -> None:
    """A desk clerk in the database."""
    await grant_roles(new_uow, {Role.ORDER_DESK: [DESK_ID]}, at=SLA_T0)


SLA_T0 = make_order().created_at


def last_buttons(bot: MockedBot) -> list[str]:
    """The callback data of the buttons of the bot's last direct message with buttons."""
    for request in reversed(bot.requests_for("sendMessage")):
        markup: Any = request.params.get("reply_markup")
        if markup:
            data = json.loads(markup) if isinstance(markup, str) else markup
            return [button.get("callback_data", "") for row in data["inline_keyboard"] for button in row]
    return []


class Chat:
    """A customer's private chat with the bot: send texts, press the last buttons."""

    def __init__(self, dispatcher: Dispatcher, bot: MockedBot, user_id: int, language: str) -> None:
        self.dispatcher, self.bot, self.user_id, self.language = dispatcher, bot, user_id, language
        self.update_id = 0

    async def say(self, text: str) -> str:
        """Sends a text and returns the bot's last reply."""
        self.update_id += 1
        update = command(self.update_id, text, user_id=self.user_id, language_code=self.language)
        await self.dispatcher.feed_update(self.bot, update)
        return sent_texts(self.bot)[-1]

    async def press(self, data: str) -> None:
        """Presses a button of the bot's message in this chat."""
        self.update_id += 1
        card = card_of_chat(self.user_id)
        await self.dispatcher.feed_update(
            self.bot,
            press(self.update_id, data, user_id=self.user_id, card=card, language_code=self.language),
        )


def card_of_chat(chat_id: int) -> Any:
    """A message in the chat to press buttons on."""
    from tests.review.conftest import Card

    return Card(chat_id, 500, "…")


async def test_an_address_change_in_english_from_command_to_the_desks_apply(
    new_uow: Uows, database: FakeDatabase, i18n: PoI18n, setup: ReviewSetup, bot: MockedBot
) -> None:
    await staff(new_uow)
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    chat = Chat(dispatcher_for(new_uow, i18n, setup), bot, CUSTOMER_ID, "en")

    offer = await chat.say("/change 20260316001")
    assert "what would you like to change" in offer
    offered = last_buttons(bot)
    assert offered == [f"oreq:{order.id}:address", f"oreq:{order.id}:contact", f"oreq:{order.id}:service"]

    await chat.press(offered[0])
    assert "Country of the destination" in sent_texts(bot)[-1]
    assert "country" in (await chat.say("Atlantis")).lower()
    assert (await chat.say("France")) == "City:"
    await chat.say("Paris")
    assert "Postcode" in await chat.say("1 Rue de Rivoli")
    refused = await chat.say("7500")
    assert "postcode" in refused.lower() and "75" in refused
    confirm = await chat.say("75001")
    assert "Paris" in confirm and "within the hour" in confirm
    send, _drop = last_buttons(bot)
    await chat.press(send)
    assert "is with our order desk" in sent_texts(bot)[-1]

    card = [message for message in database.outbox_of(DESK_CHAT) if "chg:" in str(buttons(message))][-1]
    (apply,) = buttons(card)
    dispatcher = chat.dispatcher
    await dispatcher.feed_update(bot, press(100, apply, user_id=DESK_ID, card=card_of(card)))
    await dispatcher.feed_update(bot, press(101, apply, user_id=DESK_ID, card=card_of(card)))

    stored = await load(new_uow, order.id)
    assert (stored.address.city, stored.changes[0].status) == ("Paris", ChangeStatus.APPLIED)
    (edited,) = bot.requests_for("editMessageText")
    assert "Applied" in edited.params["text"]
    assert "handled already" in alerts(bot)[-1]
    # A stale Send after the change went: one effect.
    await chat.press(send)
    assert len((await load(new_uow, order.id)).changes) == 1


async def test_in_chinese_the_intent_leads_to_the_change_and_the_chinese_warehouse_gets_the_card(
    new_uow: Uows, database: FakeDatabase, i18n: PoI18n, zh_warehouse_setup: ReviewSetup, bot: MockedBot
) -> None:
    await staff(new_uow)
    await store(new_uow, make_order(status=OrderStatus.PICKED, language="zh"))
    chat = Chat(dispatcher_for(new_uow, i18n, zh_warehouse_setup), bot, CUSTOMER_ID, "zh")

    offer = await chat.say("我想改收货地址")
    assert "您想修改什么" in offer
    await chat.press(last_buttons(bot)[1])
    assert "国际格式" in sent_texts(bot)[-1]
    assert "电话" in await chat.say("12345")
    await chat.say("+33612345678")
    confirm = await chat.say("-")
    assert "+33612345678" in confirm
    await chat.press(last_buttons(bot)[0])
    assert "已提交给订单管理部" in sent_texts(bot)[-1]

    card = [message for message in database.outbox_of(DESK_CHAT) if "chg:" in str(buttons(message))][-1]
    await chat.dispatcher.feed_update(bot, press(100, buttons(card)[0], user_id=DESK_ID, card=card_of(card)))

    warehouse = database.outbox_of(WAREHOUSE_CHAT)[-1].params
    assert "联系方式已修改" in warehouse["text"] and "+33612345678" in warehouse["text"]
    told = database.outbox_of(CUSTOMER_ID)[-1].params["text"]
    assert "联系方式已修改" in told


async def test_a_service_change_in_chinese_shows_the_price_and_changes_once(
    new_uow: Uows, database: FakeDatabase, i18n: PoI18n, setup: ReviewSetup, bot: MockedBot
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED, language="zh"))
    chat = Chat(dispatcher_for(new_uow, i18n, setup), bot, CUSTOMER_ID, "zh")

    await chat.say(f"/change {order.reference}")
    await chat.press(last_buttons(bot)[2])
    assert "请选择新的服务" in sent_texts(bot)[-1]
    sea = next(data for data in last_buttons(bot) if data.startswith("chs:") and ":s:" in data)
    await chat.press(sea)
    assert "退还" in sent_texts(bot)[-1]
    agree = last_buttons(bot)[0]
    await chat.press(agree)
    await chat.press(agree)

    stored = await load(new_uow, order.id)
    assert (stored.service, stored.status, len(stored.changes)) == (
        Service.SEA_FREIGHT,
        OrderStatus.PENDING_REVIEW,
        1,
    )
    assert "已改为国际海运" in sent_texts(bot)[-1] or "已改为" in " ".join(sent_texts(bot))


async def test_after_outbound_the_change_is_refused_with_the_alternative(
    new_uow: Uows, i18n: PoI18n, setup: ReviewSetup, bot: MockedBot
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.OUTBOUND))
    chat = Chat(dispatcher_for(new_uow, i18n, setup), bot, CUSTOMER_ID, "en")

    text = await chat.say("/change 20260316001")

    assert "cannot be changed now" in text and "left our warehouse" in text and "forward" in text
    assert last_buttons(bot) == [] or all(not data.startswith("oreq") for data in last_buttons(bot))
    await chat.press(f"oreq:{order.id}:address")
    assert "left our warehouse" in sent_texts(bot)[-1]


async def test_customer_service_files_an_address_change_for_a_caller_in_its_chat(
    new_uow: Uows, database: FakeDatabase, i18n: PoI18n, setup: ReviewSetup, bot: MockedBot
) -> None:
    care_id, care_chat = 601, -1001000000005
    await grant_roles(new_uow, {Role.CUSTOMER_SERVICE: [care_id]}, at=SLA_T0)
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED))
    dispatcher = dispatcher_for(new_uow, i18n, setup)
    step = 0

    async def say(text: str) -> str:
        nonlocal step
        step += 1
        await dispatcher.feed_update(bot, command(step, text, user_id=care_id, chat_id=care_chat))
        return sent_texts(bot)[-1]

    async def tap(data: str) -> None:
        nonlocal step
        step += 1
        from tests.review.conftest import Card

        await dispatcher.feed_update(bot, press(step, data, user_id=care_id, card=Card(care_chat, 900, "…")))

    assert "what would you like to change" in await say("/change 20260316001")
    await tap(last_buttons(bot)[0])
    for answer in ("Japan", "Tokyo", "1-1 Marunouchi"):
        await say(answer)
    confirm = await say("100-0005")
    assert "priced anew" in confirm
    send, _drop = last_buttons(bot)
    await tap(send)

    assert "with their consent on the phone" in sent_texts(bot)[-1]
    (record,) = (await load(new_uow, order.id)).changes
    assert (record.requested_by, record.consent.value, record.new["city"]) == (care_id, "by_phone", "Tokyo")
    assert record.consent_note.startswith("recorded by")
    assert "Customer service filed" in database.outbox_of(CUSTOMER_ID)[-1].params["text"]
