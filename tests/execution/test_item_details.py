"""Fragile goods confirmed at picking, SKUs on the outbound note, and special goods' longer clearance
(R-4.1, R-4.2, R-4.4; issue 19), through the review and execution routers on the fake unit of work."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from aiogram import Dispatcher
from pypdf import PdfReader

from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.delivery import expected_delivery_date
from domain.orders.model import Item, Order
from domain.orders.special import RequestKind, SpecialRequest
from domain.orders.status import OrderStatus, Service
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.callbacks import ReviewAction, ReviewStep
from presentation.execution_cards import CarrierChoice, ExecStep
from presentation.outbound_note import outbound_note_pdf
from presentation.render import translator
from presentation.review_renderers import TelegramReviewRenderers
from tests.execution.conftest import (
    LOGISTICS_CHAT,
    LOGISTICS_ID,
    WAREHOUSE2_ID,
    WAREHOUSE_CHAT,
    WAREHOUSE_ID,
    execution_order,
)
from tests.execution.test_flow import Walk, last_reply
from tests.fakes import FakeDatabase
from tests.fixtures import load, store
from tests.mocked_bot import MockedBot
from tests.review.conftest import (
    DESK_CHAT,
    DESK_ID,
    TIMEZONE,
    Card,
    Uows,
    alerts,
    make_order,
    press,
)

pytestmark = pytest.mark.usefixtures("staffed")


@pytest.fixture
def walk(dispatcher: Dispatcher, mocked_bot: MockedBot, new_uow: Uows, database: FakeDatabase) -> Walk:
    """A walk on the test database."""
    return Walk(dispatcher, mocked_bot, new_uow, database)


async def confirm(walk: Walk, order: Order) -> None:
    """Stores an order and has the desk approve it (the review flow confirms and numbers it)."""
    await store(walk.uows, order)
    walk.order_id = order.id
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
    await walk.feed(
        press(
            next(walk.ids), approve, user_id=DESK_ID, card=Card(DESK_CHAT, 77, f"Review: {order.reference}")
        )
    )
    assert await walk.status() is OrderStatus.CONFIRMED


async def test_fragile_goods_are_confirmed_packed_and_labelled_before_the_pick_counts(
    walk: Walk, mocked_bot: MockedBot, new_uow: Uows
) -> None:
    await walk.confirm(Service.AIR_FREIGHT)
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("TEA-01 2\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)

    assert last_reply(mocked_bot).startswith("Fragile: TEA-01. Pack them separately")
    assert await walk.status() is OrderStatus.CONFIRMED
    # Another warehouse clerk's press has no question open: nothing is recorded.
    await walk.press(ExecStep.FRAGILE, WAREHOUSE2_ID, WAREHOUSE_CHAT)
    assert alerts(mocked_bot)[-1] == "This question is no longer open."
    assert await walk.status() is OrderStatus.CONFIRMED

    await walk.press(ExecStep.FRAGILE, WAREHOUSE_ID, WAREHOUSE_CHAT)

    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.PICKED
    assert order.shipment.picked == {"TEA-01": 2, "SILK-7": 3}
    assert order.shipment.fragile_labelled == ["TEA-01"]
    [picked] = [event for event in order.audit if event.action == "pick"]
    assert picked.note.endswith("fragile packed separately and labelled")
    [told] = (await walk.to_customer())[-1:]
    assert "易碎" in told.params["text"]


async def test_an_order_without_fragile_goods_is_picked_at_once(walk: Walk, new_uow: Uows) -> None:
    order = make_order(
        name="Li Wei",
        items=[Item("Silk scarf", 3, Decimal("0.200"), Decimal("12.00"), sku="SILK-7")],
    )
    await confirm(walk, order)
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("SILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)

    picked = await load(new_uow, walk.order_id)
    assert picked.status is OrderStatus.PICKED and picked.shipment.fragile_labelled == []


async def test_goods_without_an_sku_are_counted_by_name(walk: Walk, new_uow: Uows) -> None:
    order = make_order(name="Li Wei", items=[Item("Silk scarf", 3, Decimal("0.200"), Decimal("12.00"))])
    await confirm(walk, order)
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("SILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    assert await walk.status() is OrderStatus.CONFIRMED
    await walk.type("silk scarf 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    assert (await load(new_uow, walk.order_id)).status is OrderStatus.PICKED


async def test_the_outbound_note_lists_skus_hs_codes_and_the_confirmed_fragile_mark(
    walk: Walk, new_uow: Uows, i18n: PoI18n
) -> None:
    order = execution_order()
    order.items[1].hs_code = "621410"
    await confirm(walk, order)
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("TEA-01 2\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.FRAGILE, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.SCAN, WAREHOUSE_ID, WAREHOUSE_CHAT)
    scanned = await load(new_uow, walk.order_id)
    assert scanned.status is OrderStatus.OUTBOUND

    pdf = PdfReader(BytesIO(outbound_note_pdf(scanned, translator(i18n, "en"), TIMEZONE)))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in pdf.pages)
    assert "TEA-01" in text and "SILK-7" in text and "621410" in text and "HS code" in text
    assert "FRAGILE: packed separately, labelled" in text


async def walk_to_arrival(walk: Walk, mocked_bot: MockedBot) -> None:
    """Picks, scans, books, departs and arrives the confirmed order."""
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("TEA-01 2\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.FRAGILE, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.SCAN, WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.BOOK, LOGISTICS_ID, LOGISTICS_CHAT)
    _, card = await walk.card(LOGISTICS_CHAT)
    dhl = CarrierChoice(order_id=walk.order_id, carrier="DHL").pack()
    await walk.feed(press(next(walk.ids), dhl, user_id=LOGISTICS_ID, card=card))
    for text in ("1234567890", "2026-03-16 10:00", "DEC-2026-0001"):
        await walk.type(text, LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.press(ExecStep.DEPART, LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.press(ExecStep.ARRIVE, LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.type("Frankfurt airport", LOGISTICS_ID, LOGISTICS_CHAT)
    assert await walk.status() is OrderStatus.ARRIVED, last_reply(mocked_bot)


def special_goods_order() -> Order:
    """An order to Germany with green tea, whose clearance takes longer there (special_goods.toml)."""
    return make_order(
        name="Li Wei",
        items=[
            Item("Tea set", 2, Decimal("1.250"), Decimal("39.90"), sku="TEA-01", fragile=True),
            Item("Green tea leaves", 3, Decimal("0.200"), Decimal("12.00"), sku="SILK-7"),
        ],
    )


async def test_special_goods_are_told_in_the_confirmation_and_clear_on_the_longer_limit(
    walk: Walk, mocked_bot: MockedBot, new_uow: Uows, clock: FixedClock
) -> None:
    await confirm(walk, special_goods_order())
    confirmation = next(
        m for m in await walk.to_customer() if m.method == "sendMessage" and "订单号" in m.params["text"]
    )
    assert "清关可能需要更长时间" in confirmation.params["text"]
    assert "Green tea leaves（食品和保健品）" in confirmation.params["text"]

    await walk_to_arrival(walk, mocked_bot)

    order = await load(new_uow, walk.order_id)
    [clearance] = [clock_ for clock_ in order.clocks if clock_.stage == "clearance"]
    policy = load_policy()
    assert policy.special_goods_limit("clearance").wall_time == timedelta(days=5)
    assert clearance.due_at - clearance.started_at == timedelta(days=5)


async def test_ordinary_goods_clear_on_the_usual_limit(
    walk: Walk, mocked_bot: MockedBot, new_uow: Uows
) -> None:
    await walk.confirm(Service.AIR_FREIGHT)
    confirmation = next(
        m for m in await walk.to_customer() if m.method == "sendMessage" and "订单号" in m.params["text"]
    )
    assert "清关可能需要更长时间" not in confirmation.params["text"]

    await walk_to_arrival(walk, mocked_bot)

    order = await load(new_uow, walk.order_id)
    [clearance] = [clock_ for clock_ in order.clocks if clock_.stage == "clearance"]
    assert clearance.due_at - clearance.started_at == timedelta(hours=48)


async def test_the_review_card_flags_special_goods_and_checks_the_delivery_date(i18n: PoI18n) -> None:
    order = special_goods_order()
    order.requirements = replace(
        order.requirements,
        special_requests=(SpecialRequest(RequestKind.CUSTOMS_AGENT, "Agent <Wang>"),),
        delivery_by=date(2026, 3, 18),
    )
    renderers = TelegramReviewRenderers(i18n, TIMEZONE)

    card = renderers.review_card(order, [], second=False, language="en").params["text"]

    assert "Named customs agent: Agent &lt;Wang&gt;" in card
    # The confirmation's expected date (domain/delivery.py), the tea's longer clearance included.
    made_at = order.audit[-1].at if order.audit else order.created_at
    sla = SlaContext(load_policy(), BusinessCalendar(TIMEZONE))
    args = (order.service, order.address.country, made_at, sla)
    expected = expected_delivery_date(*args, special_goods=True)
    assert expected - expected_delivery_date(*args) == timedelta(days=3)
    assert date(2026, 3, 18) < expected < date(2026, 4, 30)
    assert f"⚠️ Delivery by 2026-03-18: expected only around {expected}, later than required" in card
    assert "Special goods, clearance may take longer" in card and "Green tea leaves" in card
    assert "Goods details" in card and "SKU TEA-01, fragile" in card
    order.requirements = replace(order.requirements, delivery_by=date(2026, 4, 30))
    card = renderers.review_card(order, [], second=False, language="en").params["text"]
    assert f"Delivery by 2026-04-30: expected around {expected} ✅" in card
