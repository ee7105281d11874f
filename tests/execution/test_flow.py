"""Execution from confirmation to receipt: the dispatcher, the fake unit of work, the outbox (R-4, R-5.2)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from application.execution import ExecutionSetup, outbound_scan, pick
from application.ports import OutboxMessage
from application.services import Actor
from domain.clock import FixedClock
from domain.intake.validation import phone_example
from domain.kpi import ErrorKind, classify_audit
from domain.orders.events import OrderStatusChanged
from domain.orders.status import OrderStatus, Role, Service
from presentation.callbacks import MarkException, MarkStep, ReviewAction, ReviewStep
from presentation.execution_cards import CarrierChoice, ExecAction, ExecStep, ReceiptAction
from presentation.survey_texts import ProblemAction
from tests.execution.conftest import (
    LOGISTICS2_ID,
    LOGISTICS_CHAT,
    LOGISTICS_ID,
    WAREHOUSE2_ID,
    WAREHOUSE_CHAT,
    WAREHOUSE_ID,
    execution_order,
    photo_message,
)
from tests.fakes import FakeDatabase
from tests.fixtures import load, store
from tests.mocked_bot import MockedBot
from tests.review.conftest import (
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    OTHER_CUSTOMER_ID,
    Card,
    Uows,
    alerts,
    buttons,
    card_of,
    command,
    count_audit,
    deliver,
    outbox,
    press,
    sent_texts,
)

pytestmark = pytest.mark.usefixtures("staffed")


# Who performs a step, and in which chat: the warehouse picks and scans, logistics does the rest.
STEP_CLERKS = {
    step: (WAREHOUSE_ID, WAREHOUSE_CHAT) for step in (ExecStep.PICK, ExecStep.FRAGILE, ExecStep.SCAN)
}


class Walk:
    """Drives one order through the chats like the staff and the customer would."""

    def __init__(self, dispatcher: Dispatcher, bot: MockedBot, uows: Uows, database: FakeDatabase) -> None:
        self.dispatcher, self.bot, self.uows, self.database = dispatcher, bot, uows, database
        self.ids = itertools.count(1)
        self.order_id = ""

    async def feed(self, update: Update) -> None:
        """Feeds one update."""
        await self.dispatcher.feed_update(self.bot, update)

    async def card(self, chat_id: int) -> tuple[OutboxMessage, Card]:
        """The latest card queued for a team chat about the order."""
        messages = [
            m
            for m in await outbox(self.database, chat_id)
            if m.order_id == self.order_id and m.method == "sendMessage"
        ]
        return messages[-1], card_of(messages[-1], message_id=500 + len(messages))

    async def press(self, step: ExecStep, user_id: int, chat_id: int, card_chat: int | None = None) -> None:
        """Presses a step's button on the latest card of the chat (or a copy of another chat's card)."""
        _, card = await self.card(card_chat or chat_id)
        data = ExecAction(order_id=self.order_id, step=step).pack()
        await self.feed(
            press(next(self.ids), data, user_id=user_id, card=Card(chat_id, card.message_id, card.text))
        )

    async def type(self, text: str, user_id: int, chat_id: int) -> None:
        """Types a message in a chat."""
        await self.feed(command(next(self.ids), text, user_id=user_id, chat_id=chat_id))

    async def step(self, step: ExecStep, *answers: str) -> None:
        """Presses a step on its department's card as that department's clerk, then types the answers."""
        user_id, chat_id = STEP_CLERKS.get(step, (LOGISTICS_ID, LOGISTICS_CHAT))
        await self.press(step, user_id, chat_id)
        for answer in answers:
            await self.type(answer, user_id, chat_id)

    async def to_customer(self) -> list[OutboxMessage]:
        """Everything queued for the customer about the order."""
        return [m for m in await outbox(self.database, CUSTOMER_ID) if m.order_id == self.order_id]

    async def status(self) -> OrderStatus:
        """The order's status in the database."""
        return (await load(self.uows, self.order_id)).status

    async def confirm(self, service: Service) -> None:
        """Stores an order and has the desk approve it (the review flow confirms and numbers it)."""
        order = await store(self.uows, execution_order(service))
        self.order_id = order.id
        approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
        card = Card(DESK_CHAT, 77, f"Review: {order.reference}")
        await self.feed(press(next(self.ids), approve, user_id=DESK_ID, card=card))
        assert await self.status() is OrderStatus.CONFIRMED


@pytest.fixture
def walk(dispatcher: Dispatcher, mocked_bot: MockedBot, new_uow: Uows, database: FakeDatabase) -> Walk:
    """A walk on the test database."""
    return Walk(dispatcher, mocked_bot, new_uow, database)


def last_reply(bot: MockedBot) -> str:
    """The text of the bot's latest direct message."""
    return sent_texts(bot)[-1]


async def test_air_freight_order_walks_from_confirmation_to_receipt(
    walk: Walk, mocked_bot: MockedBot, clock: FixedClock, new_uow: Uows
) -> None:
    await walk.confirm(Service.AIR_FREIGHT)
    told = len(await walk.to_customer())  # the review flow's confirmation text and PDF

    # Warehouse: the card reached the warehouse chat with Picked; the wrong role and chat are refused.
    message, card = await walk.card(WAREHOUSE_CHAT)
    assert ExecAction(order_id=walk.order_id, step=ExecStep.PICK).pack() in buttons(message)
    assert "FRAGILE" in card.text and "TEA-01" in card.text
    await walk.press(ExecStep.PICK, LOGISTICS_ID, WAREHOUSE_CHAT)
    assert alerts(mocked_bot)[-1] == "Only warehouse can do this."
    await walk.press(ExecStep.PICK, WAREHOUSE_ID, LOGISTICS_CHAT, card_chat=WAREHOUSE_CHAT)
    assert alerts(mocked_bot)[-1] == "Do this in the warehouse chat."
    await walk.step(ExecStep.SCAN)
    assert alerts(mocked_bot)[-1] == "Not possible now: the order is confirmed."

    await walk.step(ExecStep.PICK)
    assert "TEA-01 2" in last_reply(mocked_bot)
    await walk.type("TEA-01 1\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    assert last_reply(mocked_bot) == "TEA-01: the order has 2, you counted 1. Check the goods."
    await walk.type("TEA-01 2\nSILK-8 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    assert last_reply(mocked_bot) == "SILK-8 is not in this order; check the SKU."
    assert await walk.status() is OrderStatus.CONFIRMED
    await walk.type("tea-01 x 2\nSILK-7: 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    # The warehouse confirms the fragile tea set is packed and labelled before the pick counts (issue 19).
    assert await walk.status() is OrderStatus.CONFIRMED
    await walk.press(ExecStep.FRAGILE, WAREHOUSE_ID, WAREHOUSE_CHAT)
    assert await walk.status() is OrderStatus.PICKED
    [picked] = (await walk.to_customer())[told:]
    assert "已在我们的仓库打包" in picked.params["text"] and "易碎" in picked.params["text"]
    assert "下一步：离开我们的仓库" in picked.params["text"]

    # Outbound scan: operator and time recorded, the note and the Booked card go to logistics.
    await walk.press(ExecStep.SCAN, WAREHOUSE2_ID, WAREHOUSE_CHAT)
    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.OUTBOUND
    assert order.shipment.outbound_operator == "User302" and order.shipment.outbound_at == clock.now()
    to_logistics = [m for m in await outbox(walk.database, LOGISTICS_CHAT) if m.order_id == walk.order_id]
    assert [m.method for m in to_logistics] == ["sendDocument", "sendMessage"]
    await deliver(mocked_bot, to_logistics, new_uow)
    [note] = mocked_bot.requests_for("sendDocument")
    assert note.files
    assert ExecAction(order_id=walk.order_id, step=ExecStep.BOOK).pack() in buttons(to_logistics[-1])
    assert "已离开我们的仓库" in (await walk.to_customer())[-1].params["text"]

    # Booking: carrier, waybill in the carrier's format, departure in the future, declaration.
    await walk.step(ExecStep.BOOK)
    dhl = CarrierChoice(order_id=walk.order_id, carrier="DHL").pack()
    _, card = await walk.card(LOGISTICS_CHAT)
    await walk.feed(press(next(walk.ids), dhl, user_id=LOGISTICS_ID, card=card))
    await walk.type("12345", LOGISTICS_ID, LOGISTICS_CHAT)
    assert last_reply(mocked_bot) == "12345 is not a DHL Express waybill number; it looks like 1234567890."
    await walk.type("123 456 7890", LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.type("2026-03-14 10:00", LOGISTICS_ID, LOGISTICS_CHAT)
    assert (
        last_reply(mocked_bot)
        == "That time has passed (it is 2026-03-15 09:30 now); give a time in the future."
    )
    await walk.type("2026-03-16 10:00", LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.type("DEC-2026-0001", LOGISTICS_ID, LOGISTICS_CHAT)
    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.BOOKED
    assert (order.shipment.carrier, order.shipment.waybill, order.shipment.customs_declaration) == (
        "DHL",
        "1234567890",
        "DEC-2026-0001",
    )
    booked = (await walk.to_customer())[-1].params["text"]
    assert "DHL Express" in booked and "1234567890" in booked and "预计出发：2026-03-16 10:00" in booked

    # Two logistics staff press Departed at once: one transition, the other is told who did it.
    _, card = await walk.card(LOGISTICS_CHAT)
    depart = ExecAction(order_id=walk.order_id, step=ExecStep.DEPART).pack()
    await asyncio.gather(
        walk.feed(press(next(walk.ids), depart, user_id=LOGISTICS_ID, card=card)),
        walk.feed(press(next(walk.ids), depart, user_id=LOGISTICS2_ID, card=card)),
    )
    assert await walk.status() is OrderStatus.IN_TRANSIT
    assert count_audit(walk.database, walk.order_id, "depart") == 1
    handled = [
        text for text in alerts(mocked_bot) + sent_texts(mocked_bot) if text.startswith("Already handled by")
    ]
    assert len(handled) == 1 and "2026-03-15 09:30" in handled[0]
    assert "运输途中" in (await walk.to_customer())[-1].params["text"]

    clock.advance(timedelta(days=1))
    await walk.step(ExecStep.ARRIVE, "Frankfurt airport (FRA)")
    arrived = (await walk.to_customer())[-1].params["text"]
    assert "已到达目的国" in arrived and "下一步：清关，预计在 2026-03-18 09:30 前" in arrived

    await walk.step(ExecStep.CLEAR, "Released, duties paid")
    assert await walk.status() is OrderStatus.CLEARED
    assert "已清关" in (await walk.to_customer())[-1].params["text"]

    # Last mile: courier phone and ETA are checked.
    await walk.step(ExecStep.LAST_MILE, "Hans Müller", "12345")
    assert last_reply(mocked_bot).startswith("That is not a valid phone number; write it like +49")
    await walk.type(phone_example("DE"), LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.type("09:00", LOGISTICS_ID, LOGISTICS_CHAT)
    assert last_reply(mocked_bot).startswith("That time has passed")
    await walk.type("2026-03-17 18:00", LOGISTICS_ID, LOGISTICS_CHAT)
    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.OUT_FOR_DELIVERY
    out = (await walk.to_customer())[-1].params["text"]
    assert (
        "Hans Müller" in out and order.shipment.courier_phone in out and "预计送达：2026-03-17 18:00" in out
    )

    # /track shows the timeline, the courier and what comes next.
    await walk.feed(
        command(next(walk.ids), f"/track {order.number}", user_id=CUSTOMER_ID, language_code="zh")
    )
    track = last_reply(mocked_bot)
    assert "Hans Müller" in track and "下一步：送货到您手中，预计在 2026-03-17 18:00 前" in track
    assert track.count("• ") >= 9  # every step so far with its time

    await walk.step(ExecStep.DELIVER, "Li Wei")
    no_photo = ExecAction(order_id=walk.order_id, step=ExecStep.NO_PHOTO).pack()
    await walk.feed(press(next(walk.ids), no_photo, user_id=LOGISTICS_ID, card=Card(LOGISTICS_CHAT, 900, "")))
    assert await walk.status() is OrderStatus.DELIVERED
    delivered = (await walk.to_customer())[-1]
    receipt = ReceiptAction(order_id=walk.order_id).pack()
    problem = ProblemAction(order_id=walk.order_id).pack()
    # Confirm receipt, and Report a problem (issue 15, R-7.1).
    assert "已送达" in delivered.params["text"] and buttons(delivered) == [receipt, problem]
    await deliver(mocked_bot, await walk.to_customer(), new_uow)

    # Only the order's own customer confirms receipt.
    customer_message = Card(CUSTOMER_ID, 1000, "delivered")
    await walk.feed(
        press(next(walk.ids), receipt, user_id=OTHER_CUSTOMER_ID, card=Card(OTHER_CUSTOMER_ID, 5, ""))
    )
    assert alerts(mocked_bot)[-1] == "This is not your order."
    await walk.feed(press(next(walk.ids), receipt, user_id=CUSTOMER_ID, card=customer_message))
    assert await walk.status() is OrderStatus.COMPLETED
    assert "已完成" in (await walk.to_customer())[-1].params["text"]
    await walk.feed(press(next(walk.ids), receipt, user_id=CUSTOMER_ID, card=customer_message))
    assert alerts(mocked_bot)[-1] == "Receipt is already confirmed. Thank you!"
    assert count_audit(walk.database, walk.order_id, "confirm_receipt") == 1


async def test_overseas_warehouse_order_skips_booking_transit_and_customs(
    walk: Walk, mocked_bot: MockedBot, new_uow: Uows
) -> None:
    await walk.confirm(Service.OVERSEAS_WAREHOUSE)
    await walk.step(ExecStep.PICK, "TEA-01 2\nSILK-7 3")
    await walk.step(ExecStep.FRAGILE)
    await walk.step(ExecStep.SCAN)
    assert await walk.status() is OrderStatus.OUTBOUND
    outbound = (await walk.to_customer())[-1].params["text"]
    assert "下一步：交给当地快递派送，预计在 2026-03-16 09:30 前" in outbound

    message, _ = await walk.card(LOGISTICS_CHAT)
    # The last mile, and any department's Mark exception (issue 14).
    assert buttons(message) == [
        ExecAction(order_id=walk.order_id, step=ExecStep.LAST_MILE).pack(),
        MarkException(order_id=walk.order_id, step=MarkStep.START).pack(),
    ]
    await walk.step(ExecStep.BOOK)
    assert alerts(mocked_bot)[-1] == "Not possible now: the order is left the warehouse."

    await walk.step(ExecStep.LAST_MILE, "Anna Schmidt", phone_example("DE"), "18:00")
    assert await walk.status() is OrderStatus.OUT_FOR_DELIVERY
    await walk.step(ExecStep.DELIVER, "Li Wei")
    await walk.feed(photo_message(next(walk.ids), "proof-1", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT))

    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.DELIVERED
    assert (order.shipment.signed_by, order.shipment.proof_photo) == ("Li Wei", "proof-1")
    actions = [event.action for event in order.audit if event.from_status is not event.to_status]
    assert actions[-5:] == ["confirm", "pick", "outbound_scan", "start_last_mile", "deliver"]
    texts = [m.params["text"] for m in await walk.to_customer() if m.method == "sendMessage"][1:]
    assert len(texts) == 4 and all("{" not in text for text in texts)
    await deliver(mocked_bot, await walk.to_customer(), new_uow)


async def test_customs_hold_opens_an_exception_and_tells_customer_and_desk(
    walk: Walk,
    mocked_bot: MockedBot,
    new_uow: Uows,
    database: FakeDatabase,
    execution_setup: ExecutionSetup,
) -> None:
    await walk.confirm(Service.AIR_FREIGHT)
    await walk.step(ExecStep.PICK, "TEA-01 2\nSILK-7 3")
    await walk.step(ExecStep.FRAGILE)
    await walk.step(ExecStep.SCAN)
    await walk.step(ExecStep.BOOK, "sea freight co", "SFC-778899", "03-16 08:00", "D1")
    assert last_reply(mocked_bot).startswith("Write the customs declaration number")
    await walk.type("DEC-0001", LOGISTICS_ID, LOGISTICS_CHAT)
    await walk.step(ExecStep.DEPART)
    await walk.step(ExecStep.ARRIVE, "FRA")

    await walk.step(ExecStep.HOLD, "Tea needs a phytosanitary certificate")

    order = await load(new_uow, walk.order_id)
    assert order.status is OrderStatus.EXCEPTION and order.exception_type == "customs_hold"
    assert order.resume_status is OrderStatus.ARRIVED
    assert "海关正在查验" in (await walk.to_customer())[-1].params["text"]
    [notice] = [m for m in await outbox(database, DESK_CHAT) if (m.dedup_key or "").startswith("hold:")]
    assert "phytosanitary" in notice.params["text"]
    # The hold is a customs-hold case with its reason, handled from its alert (issue 14).
    [case] = database.state.exception_cases.values()
    assert (case.order_id, case.type, case.note) == (
        walk.order_id,
        "customs_hold",
        "Tea needs a phytosanitary certificate",
    )
    await walk.step(ExecStep.CLEAR)
    assert alerts(mocked_bot)[-1].startswith("Already handled by User401 at ")


async def test_customer_update_lands_in_the_outbox_only_with_the_committed_change(
    walk: Walk, new_uow: Uows, database: FakeDatabase, execution_setup: ExecutionSetup
) -> None:
    await walk.confirm(Service.AIR_FREIGHT)
    warehouse = Actor(WAREHOUSE_ID, frozenset({Role.WAREHOUSE}))
    before = len(await walk.to_customer())

    counted = {"TEA-01": 2, "SILK-7": 3}
    await pick(new_uow(), walk.order_id, warehouse, counted, execution_setup, fragile_confirmed=True)
    assert len(await walk.to_customer()) == before + 1

    async def fail(*_: object) -> None:
        raise RuntimeError("the transaction fails after the handlers queued their messages")

    failing = replace(
        execution_setup,
        handlers={OrderStatusChanged: [*execution_setup.handlers[OrderStatusChanged], fail]},
    )
    with pytest.raises(RuntimeError):
        await outbound_scan(new_uow(), walk.order_id, warehouse, "Wang", failing)

    assert await walk.status() is OrderStatus.PICKED
    assert len(await walk.to_customer()) == before + 1
    assert not [m for m in await outbox(database, LOGISTICS_CHAT) if m.order_id == walk.order_id]


async def test_a_count_that_does_not_match_is_refused_and_kept_as_a_picking_error(
    walk: Walk, mocked_bot: MockedBot, new_uow: Uows
) -> None:
    """R-4.1, R-8.2: a mismatched count counts against the warehouse's accuracy; a typo does not."""
    await walk.confirm(Service.AIR_FREIGHT)
    await walk.step(ExecStep.PICK)

    await walk.type("TEA-01", WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("TEA-01 1\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.type("TEA-01 2\nSILK-7 3", WAREHOUSE_ID, WAREHOUSE_CHAT)
    await walk.press(ExecStep.FRAGILE, WAREHOUSE_ID, WAREHOUSE_CHAT)

    async with new_uow() as uow:
        order = await uow.orders.get(walk.order_id)
    mismatches = [line for line in order.audit if line.action == "pick_mismatch"]
    assert [(line.actor_id, line.actor_role, line.note) for line in mismatches] == [
        (WAREHOUSE_ID, Role.WAREHOUSE, "pick.quantity: counted 1, expected 2, sku TEA-01")
    ]
    kind = classify_audit(mismatches[0].action, mismatches[0].note, order.channel.value)
    assert kind is ErrorKind.PICK_MISMATCH
    assert order.status is OrderStatus.PICKED
