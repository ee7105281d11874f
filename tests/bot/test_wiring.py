"""The production wiring end to end: build_workflow and build_dispatcher on a migrated SQLite database.

Every other flow test wires what it needs by hand or runs on the fake unit of work; these drive the
objects bot/app.py builds (team chats looked up in the database, the notification policy, the
review setup, the SLA context) with a recording bot, so a wiring mistake fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiogram import Dispatcher
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.app import build_api_app
from api.openapi import ORDER_EXAMPLE
from bot.app import Workflow
from bot.config import Settings
from domain.clock import FixedClock
from domain.orders.status import OrderStatus
from presentation.callbacks import ReviewAction, ReviewStep
from presentation.execution_cards import ExecAction, ExecStep
from tests.api.openapi_check import check_answer
from tests.intake.conftest import Chat, answer_up_to_preview, confirm
from tests.mocked_bot import MockedBot
from tests.product.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    NOW,
    PICKER_ID,
    WAREHOUSE_CHAT,
    WIRED_SETTINGS,
)
from tests.review.conftest import Card, buttons, card_of, command, press
from tests.wiring import StoredState, production

API_KEY = "key-a-0123456789"


@dataclass
class Wired(StoredState):
    """The production objects on one database, and the recording bot they talk to."""

    settings: Settings
    workflow: Workflow
    dispatcher: Dispatcher
    sessions: async_sessionmaker[AsyncSession]
    bot: MockedBot
    update_ids: Iterator[int]

    async def say(self, text: str, *, user_id: int, chat_id: int | None = None) -> None:
        """Sends a message (in a team chat when chat_id is given)."""
        await self.dispatcher.feed_update(
            self.bot, command(next(self.update_ids), text, user_id=user_id, chat_id=chat_id)
        )

    async def press(self, data: str, *, user_id: int, card: Card) -> None:
        """Presses a button of a card."""
        await self.dispatcher.feed_update(
            self.bot, press(next(self.update_ids), data, user_id=user_id, card=card)
        )


@pytest.fixture
async def wired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Wired]:
    """Settings, migrations, workflow, dispatcher, admins and team chats, in the order run() uses them."""
    async with production(tmp_path / "wired.sqlite3", monkeypatch, NOW, **WIRED_SETTINGS) as wiring:
        bot = MockedBot()
        ids = itertools.count(1)
        yield Wired(wiring.settings, wiring.workflow, wiring.dispatcher, wiring.sessions, bot, ids)
        bot.assert_no_violations()


async def test_an_order_from_the_wizard_is_reviewed_picked_and_watched_by_the_sla(wired: Wired) -> None:
    await wired.say(f"/staff add {DESK_ID} order_desk", user_id=ADMIN_ID)
    await wired.say(f"/staff add {PICKER_ID} warehouse", user_id=ADMIN_ID)

    # Intake: the customer's wizard places the order, and its review card reaches the desk.
    ann = Chat(wired.dispatcher, wired.bot, wired.update_ids, user_id=CUSTOMER_ID)
    await answer_up_to_preview(ann)
    reference = await confirm(ann)
    order = await wired.order(reference)
    assert order.status is OrderStatus.PENDING_REVIEW
    [review_card] = [m for m in await wired.outbox(DESK_CHAT) if m.order_id == order.id]
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
    assert approve in buttons(review_card)

    # Payment (R-3.1, issue 12): the Alipay transfer's receipt goes to the desk, which accepts it.
    await ann.send_photo()
    [receipt] = [m for m in await wired.outbox(DESK_CHAT) if m.method == "sendPhoto"]
    accept = next(data for data in buttons(receipt) if data.endswith(":ok"))
    await wired.press(accept, user_id=DESK_ID, card=Card(DESK_CHAT, 78, receipt.params["caption"]))
    assert (await wired.order(reference)).paid

    # Review: the clerk approves; the customer gets the confirmation and its PDF.
    await wired.press(approve, user_id=DESK_ID, card=card_of(review_card))
    order = await wired.order(reference)
    assert order.status is OrderStatus.CONFIRMED and order.number is not None
    told = [m for m in await wired.outbox(CUSTOMER_ID) if m.order_id == order.id]
    assert [m.method for m in told] == ["sendMessage", "sendMessage", "sendDocument"]
    assert "Payment of 85.00 CNY received" in told[0].params["text"]
    assert order.number in told[1].params["text"]

    # Execution: the warehouse card reaches the warehouse chat; the picker counts the goods.
    [pick_card] = [
        m for m in await wired.outbox(WAREHOUSE_CHAT) if m.order_id == order.id and m.method == "sendMessage"
    ]
    pick = ExecAction(order_id=order.id, step=ExecStep.PICK).pack()
    assert pick in buttons(pick_card)
    await wired.press(pick, user_id=PICKER_ID, card=card_of(pick_card, message_id=500))
    await wired.say("Cotton T-shirts 2", user_id=PICKER_ID, chat_id=WAREHOUSE_CHAT)
    assert (await wired.order(reference)).status is OrderStatus.PICKED
    assert len([m for m in await wired.outbox(CUSTOMER_ID) if m.order_id == order.id]) == 4

    # SLA: a day later the outbound scan is overdue, and /sla in the warehouse chat shows it.
    assert isinstance(wired.workflow.clock, FixedClock)
    wired.workflow.clock.advance(timedelta(days=2))
    await wired.say("/sla", user_id=PICKER_ID, chat_id=WAREHOUSE_CHAT)
    listing = wired.bot.requests_for("sendMessage")[-1].params["text"]
    assert order.number in listing and "overdue" in listing


async def test_an_order_from_the_platform_api_gets_its_review_card(wired: Wired) -> None:
    workflow = wired.workflow
    app = build_api_app(
        wired.uow, workflow.clock, {"shop-a": API_KEY}, handlers=workflow.event_handlers, sla=workflow.sla
    )
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/orders", json=ORDER_EXAMPLE, headers={"Authorization": f"Bearer {API_KEY}"}
        )
        document = await response.json()
    check_answer("POST", "/api/v1/orders", response.status, document)

    assert response.status == 201
    order = await wired.order(document["reference"])
    assert order.status is OrderStatus.PENDING_REVIEW
    [card] = [m for m in await wired.outbox(DESK_CHAT) if m.order_id == order.id]
    assert ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack() in buttons(card)
