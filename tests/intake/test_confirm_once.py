"""One order per preview, however often Confirm is pressed; the preview's buttons go once it is submitted.

Issue 11 finding 9 (R-1.2): a fast double tap on Confirm created two orders.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import UnitOfWork
from domain.clock import FixedClock
from domain.orders.events import Event, OrderStatusChanged
from domain.orders.model import Order
from handlers.intake_confirm import SUBMITTED_KEY, claim_preview
from handlers.intake_states import PREVIEW_KEY, OrderWizard
from tests.intake.conftest import (
    Chat,
    ChatFactory,
    answer_up_to_preview,
    change_field,
    reference_in,
    stored_orders_of,
    wizard_dispatcher,
)
from tests.mocked_bot import MockedBot
from tests.telegram import BOT_ID

ALREADY_SUBMITTED = "This order was already submitted"


@pytest.fixture
def dispatcher(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Dispatcher:
    """The production dispatcher on a real database: settling a double tap is the database's job."""
    return wizard_dispatcher(session_factory, clock)


class Meeting:
    """An event handler that holds each order being placed until a second one is placed too.

    Both presses of a double tap then run place_order side by side, as on a busy bot; a press
    that never gets there (the second, once presses are serialised) lets the first go on in time.
    """

    def __init__(self, timeout: float = 0.5) -> None:
        self.timeout = timeout
        self.orders: set[str] = set()
        self.both_in = asyncio.Event()

    async def __call__(self, event: Event, order: Order, uow: UnitOfWork) -> None:
        """Waits for the other press (or the timeout)."""
        self.orders.add(order.id)
        if len(self.orders) >= 2:
            self.both_in.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(self.both_in.wait(), self.timeout)


@pytest.fixture
async def ann(chat: ChatFactory) -> Chat:
    """Ann's chat at the preview of the small order."""
    ann = chat()
    await answer_up_to_preview(ann)
    return ann


async def test_a_second_press_of_confirm_is_told_the_order_was_submitted(
    ann: Chat, mocked_bot: MockedBot, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    confirm = ann.button_data("Confirm order")

    first = await ann.press_data(confirm)
    placed = ann.text
    second = await ann.press_data(confirm)

    assert "is placed" in placed
    [edit] = [request for request in first if request.name == "editMessageReplyMarkup"]
    assert edit.params["message_id"] == "1"
    assert not edit.decoded("reply_markup")
    assert [request.name for request in second] == ["answerCallbackQuery"]
    assert ALREADY_SUBMITTED in second[0].params["text"]
    assert [order.reference for order in await stored_orders_of(session_factory, ann.user_id)] == [
        reference_in(placed)
    ]
    assert not mocked_bot.violations


async def test_a_double_tap_on_confirm_places_one_order(
    chat: ChatFactory,
    dispatcher: Dispatcher,
    mocked_bot: MockedBot,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    meeting = Meeting()
    dispatcher["event_handlers"] = {OrderStatusChanged: [meeting]}
    ann = chat()
    await answer_up_to_preview(ann)
    confirm = ann.button_data("Confirm order")
    answered_before = len(mocked_bot.requests_for("answerCallbackQuery"))

    await asyncio.gather(ann.press_data(confirm), ann.press_data(confirm))

    orders = await stored_orders_of(session_factory, ann.user_id)
    assert len(orders) == 1
    answers = mocked_bot.requests_for("answerCallbackQuery")[answered_before:]
    assert len(answers) == 2
    assert sorted(ALREADY_SUBMITTED in answer.params.get("text", "") for answer in answers) == [False, True]
    placed = [
        request.params["text"]
        for request in mocked_bot.requests_for("sendMessage")
        if "is placed" in request.params["text"]
    ]
    assert [reference_in(text) for text in placed] == [orders[0].reference]
    assert not mocked_bot.violations


async def test_the_confirm_of_an_earlier_preview_places_nothing(
    ann: Chat, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    air_freight_confirm = ann.button_data("Confirm order")
    await change_field(ann, "Service type", "Sea freight")

    refused = await ann.press_data(air_freight_confirm)

    assert [request.name for request in refused] == ["answerCallbackQuery"]
    assert "earlier question" in refused[0].params["text"]
    assert await stored_orders_of(session_factory, ann.user_id) == []
    await ann.press("Confirm order")
    [order] = await stored_orders_of(session_factory, ann.user_id)
    assert order.service.value == "sea_freight"


async def test_a_preview_shown_before_previews_had_tokens_can_still_be_confirmed(
    ann: Chat, dispatcher: Dispatcher, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    key = StorageKey(bot_id=BOT_ID, chat_id=ann.user_id, user_id=ann.user_id)
    data = await dispatcher.fsm.storage.get_data(key)
    del data[PREVIEW_KEY]
    await dispatcher.fsm.storage.set_data(key, data)

    await ann.press_data("wz:preview:confirm:")
    again = await ann.press_data("wz:preview:confirm:")

    assert "is placed" in ann.text
    assert ALREADY_SUBMITTED in again[0].params["text"]
    assert len(await stored_orders_of(session_factory, ann.user_id)) == 1


async def test_a_preview_too_old_to_edit_still_places_the_order_once(
    ann: Chat, mocked_bot: MockedBot, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    confirm = ann.button_data("Confirm order")
    mocked_bot.add_result_for(
        "editMessageReplyMarkup", ok=False, description="Bad Request: message can't be edited"
    )

    await ann.press_data(confirm)
    assert "is placed" in ann.text
    again = await ann.press_data(confirm)

    assert ALREADY_SUBMITTED in again[0].params["text"]
    assert len(await stored_orders_of(session_factory, ann.user_id)) == 1


class RacedStorage(MemoryStorage):
    """A memory storage in which another press moves the wizard on while this one waits for the lock.

    The first write stands for the wait: what the other press committed is there when it is done.
    """

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: tuple[State | None, dict[str, Any]] | None = None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Lets the other press finish first, then writes."""
        if self.meanwhile is not None:
            other_state, other_data = self.meanwhile
            self.meanwhile = None
            await super().set_state(key, other_state)
            await super().set_data(key, other_data)
        await super().set_state(key, state)


PREVIEW = {"mode": "customer", "draft": {"items": [{}]}, "step": "preview", PREVIEW_KEY: "t0ken"}


@pytest.mark.parametrize(
    ("other_state", "other_data", "left_at"),
    [
        (None, {SUBMITTED_KEY: "t0ken"}, None),
        (OrderWizard.postcode, {**PREVIEW, "step": "postcode"}, OrderWizard.postcode.state),
    ],
    ids=["the other press placed the order", "the other press was sent back to a field"],
)
async def test_a_press_that_waited_for_another_takes_nothing_and_leaves_the_wizard_where_it_is(
    other_state: State | None, other_data: dict[str, Any], left_at: str | None
) -> None:
    storage = RacedStorage()
    state = FSMContext(storage, StorageKey(bot_id=1, chat_id=10, user_id=10))
    await state.set_state(OrderWizard.preview)
    await state.set_data(PREVIEW)
    storage.meanwhile = (other_state, other_data)

    taken, data = await claim_preview(state, "t0ken")

    assert not taken
    assert data == other_data
    assert await state.get_state() == left_at
    assert await state.get_data() == other_data


async def test_the_first_press_takes_the_preview_and_records_it() -> None:
    storage = MemoryStorage()
    state = FSMContext(storage, StorageKey(bot_id=1, chat_id=10, user_id=10))
    await state.set_state(OrderWizard.preview)
    await state.set_data(PREVIEW)

    taken, data = await claim_preview(state, "t0ken")
    again, _ = await claim_preview(state, "t0ken")

    assert (taken, again) == (True, False)
    assert PREVIEW_KEY not in data
    assert data["draft"] == PREVIEW["draft"]
    assert await state.get_state() is None
    assert await state.get_data() == {SUBMITTED_KEY: "t0ken"}
