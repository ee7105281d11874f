"""Product tests (issue 18): the production wiring on a migrated SQLite file, outbox sender, recording bot."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Message, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.sla_sweeps import SlaSweeper
from bot.app import Workflow, chat_language_of
from bot.config import Settings
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Role
from presentation.sla_alerts import SlaAlertTexts, render_with
from scheduler.outbox_sender import OutboxSender
from storage.outbox_queue import SqlOutboxQueue
from tests import telegram
from tests.fixtures import grant_roles
from tests.mocked_bot import MockedBot, MockedSession, RecordedRequest
from tests.wiring import StoredState, production

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
ADMIN_ID = 900
DESK_ID = 701
HEAD_ID = 801
PICKER_ID = 301
SERVICE_ID = 401
CUSTOMER_ID = 100
ZH_CUSTOMER_ID = 200
DESK_CHAT = -1001000000001
WAREHOUSE_CHAT = -1002000000001
LOGISTICS_CHAT = -1003000000001
SERVICE_CHAT = -1004000000001
# The admin and the execution teams' chats of every wired test (run()'s settings).
WIRED_SETTINGS: dict[str, Any] = {
    "admin_ids": [ADMIN_ID],
    "order_desk_chat_id": DESK_CHAT,
    "warehouse_chat_id": WAREHOUSE_CHAT,
    "logistics_chat_id": LOGISTICS_CHAT,
}
NAMES = {
    ADMIN_ID: "Ada Admin",
    DESK_ID: "Olivia Desk",
    HEAD_ID: "Henry Head",
    PICKER_ID: "王伟",
    SERVICE_ID: "Sam Service",
    CUSTOMER_ID: "Emma Brown",
    ZH_CUSTOMER_ID: "李娜",
}


class AnsweringSession(MockedSession):
    """A MockedSession that keeps what it answered to each request (the message Telegram made)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[int, Any] = {}

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> TelegramType:
        """Answers as MockedSession does and remembers the answer."""
        result = await super().make_request(bot, method, timeout)
        self.answers[id(self.requests[-1])] = result
        return result


class AnsweringBot(MockedBot):
    """A recording bot with the production defaults (HTML) that remembers its answers."""

    session: AnsweringSession

    def __init__(self) -> None:
        super().__init__(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        self.session = AnsweringSession()

    def answer_to(self, request: RecordedRequest) -> Message:
        """The message Telegram made of a request of the bot."""
        answer = self.session.answers[id(request)]
        assert isinstance(answer, Message), answer
        return answer


@dataclass
class Product(StoredState):
    """The production objects on one database, the outbox sender and the recording bot."""

    settings: Settings
    workflow: Workflow
    dispatcher: Dispatcher
    sessions: async_sessionmaker[AsyncSession]
    bot: AnsweringBot
    sender: OutboxSender
    clock: FixedClock
    update_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(50_000))

    async def say(
        self,
        text: str,
        *,
        user_id: int,
        chat_id: int | None = None,
        reply_to: RecordedRequest | None = None,
        language_code: str = "en",
    ) -> None:
        """Sends a text message (in a team chat when chat_id is given, as a reply when reply_to is)."""
        message = telegram.text_message(
            next(self.message_ids),
            text,
            chat=_chat(chat_id if chat_id is not None else user_id),
            sender=_user(user_id, language_code),
            date=self.clock.now(),
        )
        if reply_to is not None:
            message["reply_to_message"] = self.bot_message(reply_to)
        update = Update.model_validate({"update_id": next(self.update_ids), "message": message})
        await self.dispatcher.feed_update(self.bot, update)

    async def press(
        self, data: str, *, user_id: int, on: RecordedRequest | dict[str, Any], language_code: str = "en"
    ) -> None:
        """Presses a button of a message the bot sent (a recorded request, or the message as a dict)."""
        query = telegram.callback_query(
            f"cb{next(self.message_ids)}",
            data,
            sender=_user(user_id, language_code),
            message=on if isinstance(on, dict) else self.bot_message(on),
        )
        update = Update.model_validate({"update_id": next(self.update_ids), "callback_query": query})
        await self.dispatcher.feed_update(self.bot, update)

    async def deliver(self) -> list[RecordedRequest]:
        """Runs the outbox sender once; returns the requests it made."""
        before = len(self.bot.requests)
        # The sender's rate limiter runs on the clock: a second later, every chat has its token again.
        self.clock.advance(timedelta(seconds=1))
        await self.sender.run_once()
        return self.bot.requests[before:]

    def bot_message(self, request: RecordedRequest) -> dict[str, Any]:
        """The message Telegram made of one of the bot's requests, as an update carries it."""
        return self.bot.answer_to(request).model_dump(mode="json", by_alias=True, exclude_none=True)

    def sent(self, chat_id: int) -> list[RecordedRequest]:
        """Every sendMessage (direct or from the outbox) to a chat, oldest first."""
        return [r for r in self.bot.requests_for("sendMessage") if int(r.params["chat_id"]) == chat_id]


def _user(user_id: int, language_code: str) -> dict[str, Any]:
    return telegram.user(user_id, NAMES.get(user_id, f"User{user_id}"), language_code)


def _chat(chat_id: int) -> dict[str, Any]:
    return telegram.chat(chat_id, NAMES.get(chat_id, "User"))


def card_message(chat_id: int, text: str, message_id: int = 77) -> dict[str, Any]:
    """A message of the bot in a chat, for a press on a card no request of this test sent."""
    return telegram.bot_message(message_id, text, chat=_chat(chat_id), date=NOW)


async def grant(product: Product, role: Role, *user_ids: int) -> None:
    """Gives the users the role, granted by the admin."""
    await grant_roles(product.uow, {role: user_ids}, at=NOW, by=ADMIN_ID)


async def store(product: Product, order: Order) -> Order:
    """Stores an order as the intake would have."""
    async with product.uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


def buttons(request: RecordedRequest) -> dict[str, str]:
    """A sent message's inline buttons: label -> callback data."""
    markup = request.decoded("reply_markup") or {"inline_keyboard": []}
    return {
        button["text"]: button.get("callback_data", "") for row in markup["inline_keyboard"] for button in row
    }


@pytest.fixture
async def product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Product]:
    """Settings, migrations, workflow, dispatcher, admins, team chats and outbox sender, as run() has them."""
    async with production(
        tmp_path / "product.sqlite3",
        monkeypatch,
        NOW,
        **WIRED_SETTINGS,
        customer_service_chat_id=SERVICE_CHAT,
    ) as wiring:
        settings, workflow, dispatcher = wiring.settings, wiring.workflow, wiring.dispatcher
        sessions, clock = wiring.sessions, wiring.clock
        bot = AnsweringBot()
        sender = OutboxSender(
            SqlOutboxQueue(sessions),
            bot,
            clock,
            overall_per_second=1000,
            group_per_minute=1000,
            private_per_second=1000,
        )
        yield Product(settings, workflow, dispatcher, sessions, bot, sender, clock)
        bot.assert_no_violations()


def team_language_sweeper(product: Product) -> SlaSweeper:
    """The product's SLA sweeper writing each team chat's alerts in the language the chat chose."""
    i18n = create_i18n("en")

    def alert_texts(language: str) -> SlaAlertTexts:
        return SlaAlertTexts(
            render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)),
            locale=language,
            zone=product.workflow.sla.calendar.zone,
        )

    return SlaSweeper(
        uow_factory=product.uow,
        clock=product.clock,
        sla=product.workflow.sla,
        team_chats=product.workflow.team_chats,
        texts=alert_texts("en"),
        chat_language=chat_language_of,
        texts_in=alert_texts,
    )
