"""Claims end to end through the fake Bot API, in English and Chinese (issue 14, R-6.4).

Damaged: the customer reports it from the delivered message, attaches photos and the broken piece,
customer service contacts them and offers a compensation, the customer accepts and finance owes it.
Wrong shipment: logistics marks it and attaches the evidence, the customer accepts a reship, the
warehouse ships it. Lost: logistics attaches the proof, the customer accepts the order's value and
finance pays it. Every clock opens and closes through the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from aiogram import Dispatcher

from application.claims import ClaimsSetup
from application.finance import record_paid
from application.services import Actor
from domain.clock import FixedClock
from domain.finance import OwedReason
from domain.orders.model import Order
from domain.orders.status import ExceptionType, OrderStatus, Role
from presentation.claims_texts import ClaimAction, ClaimItem, ClaimReport
from presentation.survey_texts import ProblemAction
from storage.models import OutboxRow
from tests.claims.conftest import (
    CS_CHAT,
    CUSTOMER_ID,
    DELIVERED_AT,
    LOGISTICS_CHAT,
    LOGISTICS_ID,
    SERVICE_ID,
    STRANGER_ID,
    WAREHOUSE_CHAT,
    WAREHOUSE_ID,
    Uows,
    delivered_order,
    dispatcher_for,
    mark,
    outbox,
    photo,
    wiring,
)
from tests.mocked_bot import MockedBot
from tests.review.conftest import Card, alerts, press
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401

TEXTS = {
    "en": {
        "what": "What is wrong with order 20260310001?",
        "evidence": "please attach the evidence within 2 h",
        "proof": "please attach the proof within 2 h",
        "line": "Tea set: 1 of 2",
        "kept": "Photo 2 kept for order 20260310001",
        "recorded": "Evidence recorded: 2 photo(s)",
        "contacted": "Customer contacted — ",
        "offer": "we offer compensation of 39.90 EUR",
        "reship": "we offer reship the affected goods",
        "lost": "we offer compensation of 142.30 EUR",
        "task": "please pick, pack and ship these goods within 24 h",
        "on_way": "The replacement goods of order 20260310001 are on their way.",
        "accepted": "The customer accepted",
        "role": "Your role does not allow this.",
        "handled": "Already handled by ",
        "handled_customer": "Already handled by the customer at ",
        "not_yours": "This is not your order.",
    },
    "zh": {
        "what": "订单 20260310001 有什么问题？",
        "evidence": "请在 2 小时内提交证据",
        "proof": "请在 2 小时内提交证明",
        "line": "Tea set：1/2",
        "kept": "已为订单 20260310001 保存第 2 张照片",
        "recorded": "证据已记录：2 张照片",
        "contacted": "已联系客户 — ",
        "offer": "我们提供39.90 EUR 的赔偿",
        "reship": "我们提供补发受影响的货物",
        "lost": "我们提供142.30 EUR 的赔偿",
        "task": "请在 24 小时内拣货、包装并发出以下货物",
        "on_way": "订单 20260310001 的补发货物已发出。",
        "accepted": "客户已接受",
        "role": "您的角色无权执行此操作。",
        "handled": "已由 ",
        "handled_customer": "已由 客户 于 ",
        "not_yours": "这不是您的订单。",
    },
}


def plain(text: str) -> str:
    """A message's text as Telegram shows it."""
    return re.sub(r"<[^>]+>", "", text).replace("&amp;", "&")


def buttons(row: OutboxRow) -> list[str]:
    """The callback data of an outbox row's buttons."""
    markup = row.params.get("reply_markup") or {"inline_keyboard": []}
    return [button["callback_data"] for line in markup["inline_keyboard"] for button in line]


def card(row: OutboxRow, message_id: int) -> Card:
    """The message an outbox row became once sent."""
    return Card(row.chat_id, message_id, plain(row.params["text"]))


def last_with(rows: list[OutboxRow], text: str) -> OutboxRow:
    """The newest row whose text has text."""
    found = [row for row in rows if text in plain(str(row.params.get("text", "")))]
    assert found, (text, [row.params.get("text") for row in rows])
    return found[-1]


class Chat:
    """Feeds updates to the dispatcher with fresh ids."""

    def __init__(self, dispatcher: Dispatcher, bot: MockedBot, language: str) -> None:
        self.dispatcher, self.bot, self.language, self.next_id = dispatcher, bot, language, 1

    async def press(self, data: str, user_id: int, where: Card) -> str:
        """Presses a button; returns the callback's answer."""
        self.next_id += 1
        await self.dispatcher.feed_update(
            self.bot, press(self.next_id, data, user_id=user_id, card=where, language_code=self.language)
        )
        return str(alerts(self.bot)[-1])

    async def photo(self, file_id: str, user_id: int, chat_id: int) -> str:
        """Sends a photo; returns the bot's reply."""
        self.next_id += 1
        await self.dispatcher.feed_update(
            self.bot, photo(self.next_id, file_id, user_id=user_id, chat_id=chat_id, language=self.language)
        )
        return plain(str(self.bot.requests_for("sendMessage")[-1].params["text"]))


async def attach(
    chat: Chat, evidence: OutboxRow, user_id: int, texts: dict[str, str], *, lost: bool = False
) -> None:
    """Chooses one tea set (unless lost), sends two photos and presses Evidence complete."""
    order_id = ClaimAction.unpack(buttons(evidence)[-1]).order_id
    where = card(evidence, 300)
    line = ClaimItem(order_id=order_id, line=0).pack()
    # Lost goods have no goods line to choose: the whole order is affected.
    assert (line in buttons(evidence)) is not lost
    if not lost:
        await chat.press(line, user_id, where)
        quantities = chat.bot.requests_for("editMessageReplyMarkup")[-1].decoded("reply_markup")
        one = [b["callback_data"] for row in quantities["inline_keyboard"] for b in row if b["text"] == "1"]
        await chat.press(one[0], user_id, where)
        assert texts["line"] in plain(chat.bot.requests_for("editMessageText")[-1].params["text"])
    await chat.press(ClaimAction(order_id=order_id, what="photos").pack(), user_id, where)
    await chat.photo("PHOTO-1", user_id, where.chat_id)
    assert texts["kept"] in await chat.photo("PHOTO-2", user_id, where.chat_id)


@dataclass
class Claim:
    """A delivered order, the wiring on a controlled clock, and the chat that drives the bot."""

    texts: dict[str, str]
    clock: FixedClock
    setup: ClaimsSetup
    order: Order
    chat: Chat


async def delivered_claim(
    uows: Uows, bot: MockedBot, language: str, marked: ExceptionType | None = None
) -> Claim:
    """Stores a delivered order an hour ago, marks the exception on it if given, and wires the chat."""
    clock = FixedClock(DELIVERED_AT + timedelta(hours=1))
    setup, aftersales = wiring(clock, language)
    order = await delivered_order(uows, language)
    if marked is not None:
        await mark(uows, order.id, marked, setup)
    chat = Chat(dispatcher_for(uows, setup, aftersales, language), bot, language)
    return Claim(TEXTS[language], clock, setup, order, chat)


async def accept_remedy(uows: Uows, claim: Claim, evidence: OutboxRow, remedy: str, offered: str) -> None:
    """Logistics completes the evidence, customer service offers the remedy, the customer accepts."""
    chat, order_id, texts = claim.chat, claim.order.id, claim.texts
    await chat.press(
        ClaimAction(order_id=order_id, what="evidence").pack(), LOGISTICS_ID, card(evidence, 300)
    )
    claim_card = last_with(await outbox(uows, CS_CHAT), texts["recorded"])
    await chat.press(
        ClaimAction(order_id=order_id, what="contacted").pack(), SERVICE_ID, card(claim_card, 400)
    )
    choices = last_with(await outbox(uows, CS_CHAT), texts["contacted"])
    await chat.press(ClaimAction(order_id=order_id, what=remedy).pack(), SERVICE_ID, card(choices, 401))
    offer = last_with(await outbox(uows, CUSTOMER_ID), texts[offered])
    await chat.press(ClaimAction(order_id=order_id, what="accept").pack(), CUSTOMER_ID, card(offer, 500))


async def remedy_accepted_on_logistics_evidence(
    uows: Uows, bot: MockedBot, language: str, marked: ExceptionType, remedy: str, offered: str
) -> Claim:
    """Logistics marks the exception and documents it (a loss: its proof); the customer accepts the remedy."""
    claim = await delivered_claim(uows, bot, language, marked)
    lost = marked is ExceptionType.LOST
    evidence = last_with(await outbox(uows, LOGISTICS_CHAT), claim.texts["proof" if lost else "evidence"])
    await attach(claim.chat, evidence, LOGISTICS_ID, claim.texts, lost=lost)
    await accept_remedy(uows, claim, evidence, remedy, offered)
    return claim


def clocks(order: Order, stage: str) -> list[tuple[bool, bool | None]]:
    """Every clock of a stage: running, and met once closed."""
    return [(clock.running, clock.met) for clock in order.clocks if clock.stage == stage]


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_customer_reports_damaged_goods_with_photos_and_is_compensated(
    new_uow: Uows,  # noqa: F811
    bot: MockedBot,
    language: str,
) -> None:
    claim = await delivered_claim(new_uow, bot, language)
    texts, clock, order, chat = claim.texts, claim.clock, claim.order, claim.chat
    delivered = Card(CUSTOMER_ID, 100, "delivered")

    # Report a problem on the delivered message asks what is wrong.
    await chat.press(ProblemAction(order_id=order.id).pack(), CUSTOMER_ID, delivered)
    asked = bot.requests_for("sendMessage")[-1]
    assert plain(asked.params["text"]) == texts["what"]
    damaged = ClaimReport(order_id=order.id, kind="damaged").pack()
    assert damaged in [
        b["callback_data"] for row in asked.decoded("reply_markup")["inline_keyboard"] for b in row
    ]
    await chat.press(damaged, CUSTOMER_ID, Card(CUSTOMER_ID, 101, texts["what"]))

    evidence = last_with(await outbox(new_uow, CUSTOMER_ID), texts["evidence"])
    await attach(chat, evidence, CUSTOMER_ID, texts)
    clock.current += timedelta(minutes=30)
    await chat.press(ClaimAction(order_id=order.id, what="evidence").pack(), CUSTOMER_ID, card(evidence, 300))

    claim_card = last_with(await outbox(new_uow, CS_CHAT), texts["recorded"])
    contacted = ClaimAction(order_id=order.id, what="contacted").pack()
    assert contacted in buttons(claim_card)
    # A logistics member is no customer service; customer service's double press has one effect.
    assert await chat.press(contacted, LOGISTICS_ID, card(claim_card, 400)) == texts["role"]
    clock.current += timedelta(minutes=20)
    await chat.press(contacted, SERVICE_ID, card(claim_card, 400))
    assert texts["handled"] in await chat.press(contacted, SERVICE_ID, card(claim_card, 400))

    choices = last_with(await outbox(new_uow, CS_CHAT), texts["contacted"])
    compensate = ClaimAction(order_id=order.id, what="compensate").pack()
    assert compensate in buttons(choices)
    await chat.press(compensate, SERVICE_ID, card(choices, 401))

    offer = last_with(await outbox(new_uow, CUSTOMER_ID), texts["offer"])
    accept = ClaimAction(order_id=order.id, what="accept").pack()
    assert buttons(offer) == [accept, ClaimAction(order_id=order.id, what="decline").pack()]
    assert await chat.press(accept, STRANGER_ID, Card(STRANGER_ID, 5, "")) == texts["not_yours"]
    await chat.press(accept, CUSTOMER_ID, card(offer, 500))
    assert texts["handled_customer"] in await chat.press(accept, CUSTOMER_ID, card(offer, 500))

    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
        owed = await uow.finance.for_order(order.id)
    assert [(record.reason, record.amount) for record in owed] == [
        (OwedReason.DAMAGE_COMPENSATION, Decimal("39.90"))
    ]
    assert stored.status is OrderStatus.EXCEPTION and stored.exception_type is ExceptionType.DAMAGED
    assert [line.actor_role for line in stored.audit if line.action == "claim_photo"] == [Role.CUSTOMER] * 2
    assert [line.action for line in stored.audit].count("claim_contacted") == 1
    assert [line.action for line in stored.audit].count("claim_accepted") == 1
    assert clocks(stored, "evidence") == [(False, True)]
    assert clocks(stored, "claim_contact") == [(False, True)]
    assert clocks(stored, "compensation") == [(True, None)]
    settled = last_with(await outbox(new_uow, CS_CHAT), texts["accepted"])
    close = ClaimAction(order_id=order.id, what="close").pack()
    assert buttons(settled) == [close]
    async with new_uow() as uow:
        (case,) = await uow.exceptions.of_order(order.id)
    # The exception case keeps the evidence (the customer's photos, the affected goods) and the compensation.
    assert [(file.file_id, file.from_customer) for file in case.evidence.files] == [
        ("PHOTO-1", True),
        ("PHOTO-2", True),
    ]
    assert case.evidence.items == ["Tea set x 1"]
    assert case.compensation is not None and case.compensation.amount == Decimal("39.90")
    assert case.compensation.accepted_at is not None
    assert owed[0].case_id == case.id

    # Closing goes through the exception flow: the order resumes, the record clock starts.
    assert await chat.press(close, LOGISTICS_ID, card(settled, 402)) == texts["role"]
    await chat.press(close, SERVICE_ID, card(settled, 402))
    assert texts["handled"] in await chat.press(close, SERVICE_ID, card(settled, 402))
    async with new_uow() as uow:
        closed = await uow.orders.get(order.id)
        (case,) = await uow.exceptions.of_order(order.id)
    assert closed.status is OrderStatus.DELIVERED
    assert case.result is not None and case.result.value == "compensated" and not case.open
    assert clocks(closed, "exception_record") == [(True, None)]
    bot.assert_no_violations()


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_logistics_marks_a_wrong_shipment_and_the_warehouse_reships(
    new_uow: Uows,  # noqa: F811
    bot: MockedBot,
    language: str,
) -> None:
    claim = await remedy_accepted_on_logistics_evidence(
        new_uow, bot, language, ExceptionType.WRONG_SHIPMENT, "reship", "reship"
    )
    texts, clock, order, chat = claim.texts, claim.clock, claim.order, claim.chat

    task = last_with(await outbox(new_uow, WAREHOUSE_CHAT), texts["task"])
    assert "Tea set (TEA-01)" in plain(task.params["text"])
    reshipped = ClaimAction(order_id=order.id, what="reshipped").pack()
    assert buttons(task) == [reshipped]
    assert await chat.press(reshipped, LOGISTICS_ID, card(task, 600)) == texts["role"]
    clock.current += timedelta(hours=3)
    await chat.press(reshipped, WAREHOUSE_ID, card(task, 600))
    last_with(await outbox(new_uow, CUSTOMER_ID), texts["on_way"])

    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
        assert await uow.finance.for_order(order.id) == []
    assert clocks(stored, "evidence") == [(False, True)]
    assert clocks(stored, "claim_contact") == [(False, True)]
    assert clocks(stored, "reship") == [(False, True)]
    bot.assert_no_violations()


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_lost_goods_are_paid_at_the_orders_value_by_finance(
    new_uow: Uows,  # noqa: F811
    bot: MockedBot,
    language: str,
) -> None:
    claim = await remedy_accepted_on_logistics_evidence(
        new_uow, bot, language, ExceptionType.LOST, "compensate", "lost"
    )
    clock, order = claim.clock, claim.order

    async with new_uow() as uow:
        (record,) = await uow.finance.for_order(order.id)
    assert (record.reason, record.amount) == (OwedReason.LOSS_COMPENSATION, Decimal("142.30"))
    assert record.id is not None
    clock.current += timedelta(days=2)
    await record_paid(
        new_uow(),
        record.id,
        actor=Actor(77, frozenset({Role.FINANCE})),
        reference="BANK-42",
        paid_at=None,
        clock=clock,
        handlers=claim.setup.handlers,
        sla=claim.setup.sla,
    )
    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
    assert clocks(stored, "evidence") == [(False, True)]
    assert clocks(stored, "claim_contact") == [(False, True)]
    assert clocks(stored, "compensation") == [(False, True)]
    bot.assert_no_violations()
