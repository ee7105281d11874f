"""Fixtures for the order wizard: the production dispatcher on the fake unit of work or a real database."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatcher import build_dispatcher
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Role
from storage.fsm import SqlFsmStorage
from storage.uow import SqlUnitOfWork
from tests import telegram
from tests.fakes import FakeDatabase
from tests.fixtures import grant_roles
from tests.mocked_bot import MockedBot, RecordedRequest
from tests.storage.conftest import database_url, engine, pg_url, session_factory

__all__ = ["database_url", "engine", "pg_url", "session_factory"]

TIMEZONE = "Asia/Shanghai"
# 10:00 in Shanghai.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ADMIN_ID = 900


@pytest.fixture
def clock() -> FixedClock:
    """The time every handler reads."""
    return FixedClock(NOW)


@pytest.fixture
def update_ids() -> Iterator[int]:
    """Update ids, unique for the whole test (restarts included), as Telegram's are."""
    return itertools.count(1)


def wizard_dispatcher(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Dispatcher:
    """The production dispatcher with SQL units of work and the SQL FSM storage on one database."""
    dispatcher = build_dispatcher(
        uow_factory=lambda: SqlUnitOfWork(session_factory),
        i18n=create_i18n("en"),
        admin_ids=[ADMIN_ID],
        storage=SqlFsmStorage(session_factory),
    )
    dispatcher["clock"] = clock
    dispatcher["timezone"] = TIMEZONE
    return dispatcher


@dataclass
class Chat:
    """One user's private chat with the bot: sends texts, presses buttons, reads the bot's replies."""

    dispatcher: Dispatcher
    bot: MockedBot
    update_ids: Iterator[int]
    user_id: int = 100
    language_code: str = "en"
    first_name: str = "Ann"
    seen: int = field(default=0)

    def _user(self) -> dict[str, Any]:
        return telegram.user(self.user_id, self.first_name, self.language_code)

    def _chat(self) -> dict[str, Any]:
        return telegram.chat(self.user_id, self.first_name)

    async def send(self, text: str) -> list[RecordedRequest]:
        """Sends a text message; returns the requests the bot made in reply."""
        update_id = next(self.update_ids)
        message = telegram.text_message(update_id, text, chat=self._chat(), sender=self._user(), date=NOW)
        return await self._feed(Update.model_validate({"update_id": update_id, "message": message}))

    async def send_photo(self) -> list[RecordedRequest]:
        """Sends a photo without caption."""
        update_id = next(self.update_ids)
        message = {
            "message_id": update_id,
            "date": int(NOW.timestamp()),
            "chat": self._chat(),
            "from": self._user(),
            "photo": [{"file_id": "p", "file_unique_id": "up", "width": 1, "height": 1}],
        }
        return await self._feed(Update.model_validate({"update_id": update_id, "message": message}))

    async def press_data(self, data: str) -> list[RecordedRequest]:
        """Presses a button with this callback data."""
        update_id = next(self.update_ids)
        message = telegram.bot_message(1, "question", chat=self._chat(), date=NOW)
        query = telegram.callback_query(f"cb{update_id}", data, sender=self._user(), message=message)
        return await self._feed(Update.model_validate({"update_id": update_id, "callback_query": query}))

    async def press(self, label: str) -> list[RecordedRequest]:
        """Presses the button of the last question whose label contains the text."""
        return await self.press_data(self.button_data(label))

    async def _feed(self, update: Update) -> list[RecordedRequest]:
        await self.dispatcher.feed_update(self.bot, update)
        new = self.bot.requests[self.seen :]
        self.seen = len(self.bot.requests)
        return new

    def last_message(self) -> RecordedRequest:
        """The last message the bot sent."""
        sent = self.bot.requests_for("sendMessage")
        assert sent, "the bot sent no message"
        return sent[-1]

    @property
    def text(self) -> str:
        """The text of the bot's last message (HTML as sent)."""
        return str(self.last_message().params["text"])

    def buttons(self) -> list[tuple[str, str]]:
        """The inline buttons of the last message: (label, callback data)."""
        markup = self.last_message().decoded("reply_markup") or {}
        return [
            (button["text"], button["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    def labels(self) -> list[str]:
        """The labels of the last message's inline buttons."""
        return [label for label, _ in self.buttons()]

    def button_data(self, label: str) -> str:
        """The callback data of the last message's button whose label contains the text."""
        matches = [data for text, data in self.buttons() if label in text]
        assert matches, f"no button {label!r} in {self.labels()}"
        return matches[0]


ChatFactory = Callable[..., Chat]


@pytest.fixture
def dispatcher(database: FakeDatabase, clock: FixedClock) -> Dispatcher:
    """The production dispatcher on the fake database, the wizard's state in memory."""
    dispatcher = build_dispatcher(
        uow_factory=database.unit_of_work,
        i18n=create_i18n("en"),
        admin_ids=[ADMIN_ID],
        storage=MemoryStorage(),
    )
    dispatcher["clock"] = clock
    dispatcher["timezone"] = TIMEZONE
    return dispatcher


@pytest.fixture
def chat(dispatcher: Dispatcher, mocked_bot: MockedBot, update_ids: Iterator[int]) -> ChatFactory:
    """Opens a user's chat with the bot."""

    def open_chat(**kwargs: Any) -> Chat:
        return Chat(dispatcher, mocked_bot, update_ids, **kwargs)

    return open_chat


async def grant(database: FakeDatabase, user_id: int, role: Role) -> None:
    """Gives a staff member a role."""
    await grant_roles(database.unit_of_work, {role: [user_id]}, at=NOW)


async def orders_of(database: FakeDatabase, user_id: int) -> list[Order]:
    """The customer's stored orders."""
    async with database.unit_of_work() as uow:
        return await uow.orders.list_for_customer(user_id)


async def find_order(database: FakeDatabase, reference: str) -> Order | None:
    """Loads one stored order."""
    async with database.unit_of_work() as uow:
        return await uow.orders.find(reference)


async def answer_customer_and_address(
    chat: Chat,
    *,
    name: str = "Ann Smith",
    country: str = "Germany",
    phone: str = "+49 1512 3456789",
    city: str = "Berlin",
    street: str = "Unter den Linden 1",
    postcode: str | None = "10117",
    skip: str = "Skip",
) -> None:
    """Answers the name, phone (no email) and address questions; no postcode for a country without them.

    The labels are the chat's language: the country's button and `skip`, the Skip button of the email.
    """
    await chat.send(name)
    await chat.press(country)
    await chat.send(phone)
    await chat.press(skip)
    await chat.send(city)
    await chat.send(street)
    if postcode is not None:
        await chat.send(postcode)


async def answer_goods_line(chat: Chat, name: str, *, quantity: str, weight: str, value: str) -> None:
    """Answers the four questions of one goods line."""
    for answer in (name, quantity, weight, value):
        await chat.send(answer)


async def answer_air_freight(chat: Chat, payment: str = "Alipay") -> None:
    """Ends the goods lines and picks air freight and the payment method, up to the remarks."""
    await chat.press("No, continue")
    await chat.press("Air freight")
    await chat.press(payment)


async def answer_air_freight_without_remarks(chat: Chat, payment: str = "Alipay") -> None:
    """Ends the goods lines, picks air freight and the payment method, skips the remarks: the preview."""
    await answer_air_freight(chat, payment)
    await chat.press("Skip")


async def stored_orders_of(session_factory: async_sessionmaker[AsyncSession], user_id: int) -> list[Order]:
    """The customer's orders stored in a real database."""
    async with SqlUnitOfWork(session_factory) as uow:
        return await uow.orders.list_for_customer(user_id)


async def answer_small_order(
    chat: Chat,
    *,
    name: str = "Ann Smith",
    country: str = "Germany",
    postcode: str | None = "10117",
    payment: str = "Alipay",
) -> None:
    """Answers a one-line air-freight order (two cotton T-shirts, no email, no remarks) up to its preview."""
    await answer_customer_and_address(chat, name=name, country=country, postcode=postcode)
    await answer_goods_line(chat, "Cotton T-shirts", quantity="2", weight="0.5", value="40")
    await answer_air_freight_without_remarks(chat, payment)


async def start_new_order(chat: Chat, **address: Any) -> None:
    """Opens the wizard and answers the customer and address questions, up to the first goods line."""
    await chat.send("/neworder")
    await answer_customer_and_address(chat, **address)


async def answer_up_to_preview(
    chat: Chat, *, country: str = "Germany", postcode: str | None = "10117"
) -> None:
    """Answers every question of a small, valid order until the preview."""
    await chat.send("/neworder")
    await answer_small_order(chat, country=country, postcode=postcode)


async def change_field(chat: Chat, *labels: str) -> None:
    """Presses Change a field on the preview, then each button labelled so in turn."""
    await chat.press("Change a field")
    for label in labels:
        await chat.press(label)


def assert_small_order_in(preview: str) -> None:
    """The preview shows the customer, address and goods of answer_up_to_preview's order."""
    assert "Name: Ann Smith" in preview
    assert "Phone: +4915123456789" in preview
    assert "Unter den Linden 1, Berlin, 10117, Germany" in preview
    assert "Cotton T-shirts × 2, 0.5 kg each, declared value 40.00 CNY" in preview


def reference_in(text: str) -> str:
    """The order reference a message mentions."""
    match = re.search(r"R-[0-9A-Z]{8}", text)
    assert match, text
    return match.group(0)


async def confirm(chat: Chat) -> str:
    """Confirms the order on the preview and returns its reference."""
    await chat.press("Confirm order")
    return reference_in(chat.text)


async def confirmed_order(chat: Chat, database: FakeDatabase) -> Order:
    """Confirms the order on the preview and returns it as stored."""
    order = await find_order(database, await confirm(chat))
    assert order is not None
    return order


async def start_offline_order(desk: Chat, *, received: str, urgent: bool) -> None:
    """Opens /offline for a hotline order received at that time, up to the customer's name."""
    await desk.send("/offline")
    await desk.press("Hotline")
    await desk.send(received)
    await desk.press("⚡ Urgent" if urgent else "Not urgent")
