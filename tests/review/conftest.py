"""Review tests: the real middlewares and routers on the fake unit of work (tests/fakes.py)."""

from __future__ import annotations

import json
import re
import uuid
from base64 import a85decode
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zlib import decompress

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from application.ports import OutboxMessage, UnitOfWork
from application.review import ReviewSetup
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.model import Address, Customer, Item, Order, new_reference
from domain.orders.status import Action, Channel, Role, Service
from domain.review import ReviewPolicy
from handlers import orders, review, staff
from presentation.notifications import build_review_setup
from scheduler.outbox_sender import build_method
from tests import telegram
from tests.dispatchers import routed_dispatcher
from tests.fakes import FakeDatabase
from tests.fixtures import grant_roles
from tests.mocked_bot import MockedBot

ADMIN_ID = 900
DESK_ID = 701
DESK2_ID = 702
HEAD_ID = 801
HEAD2_ID = 802
WAREHOUSE_ID = 301
CUSTOMER_ID = 555_000_111
OTHER_CUSTOMER_ID = 555_000_222
DESK_CHAT = -1001000000001
OTHER_CHAT = -1001000000009
T0 = datetime(2026, 3, 15, 1, 30, tzinfo=UTC)
TIMEZONE = "Asia/Shanghai"
POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY", rates={"EUR": Decimal("7.8")})
NAMES = {DESK_ID: "Dora Desk", DESK2_ID: "Dan Desk", HEAD_ID: "Hana Head", HEAD2_ID: "Hugo Head"}
Uows = Callable[[], UnitOfWork]


@pytest.fixture
def clock() -> FixedClock:
    """09:30 in Shanghai on 2026-03-15."""
    return FixedClock(T0)


@pytest.fixture
def setup(i18n: PoI18n, clock: FixedClock) -> ReviewSetup:
    """The review setup the composition root would build."""
    return build_review_setup(
        i18n=i18n, clock=clock, timezone=TIMEZONE, order_desk_chat_id=DESK_CHAT, policy=POLICY
    )


@pytest.fixture
def dispatcher(
    new_uow: Uows,
    i18n: PoI18n,
    setup: ReviewSetup,
) -> Dispatcher:
    """The project's middlewares in production order with the review, staff and order routers."""
    routers = (review.router, staff.router, orders.router)
    return routed_dispatcher(new_uow, routers, admin_ids=[ADMIN_ID], i18n=i18n, review_setup=setup)


@pytest.fixture
async def staffed(new_uow: Uows) -> None:
    """Desk clerks, heads and a warehouse user in the database."""
    await grant_roles(
        new_uow,
        {
            Role.ORDER_DESK: (DESK_ID, DESK2_ID, HEAD_ID),
            Role.ORDER_DESK_HEAD: (HEAD_ID, HEAD2_ID),
            Role.WAREHOUSE: (WAREHOUSE_ID,),
        },
        at=T0,
        by=ADMIN_ID,
    )


def make_order(
    *,
    amount: str = "245.80",
    customer_id: int = CUSTOMER_ID,
    language: str = "zh",
    name: str = "Li <b>Wei</b> & Co",
    remarks: str = "ring twice",
    items: list[Item] | None = None,
    service: Service = Service.AIR_FREIGHT,
    entered_by: int | None = None,
) -> Order:
    """An order that passed validation and waits for the first review."""
    order = Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        customer=Customer(name, phone="+8613800138000", telegram_user_id=customer_id, language=language),
        address=Address(country="DE", city="Berlin", street="Unter den Linden 1", postcode="10117"),
        items=items or [Item("Tea set", 2, Decimal("1.250"), Decimal("39.90"), fragile=True)],
        service=service,
        payment_method="card",
        amount=Decimal(amount),
        currency="EUR",
        channel=Channel.TELEGRAM,
        created_at=T0,
        paid=True,
        remarks=remarks,
        entered_by=entered_by,
    )
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=frozenset({Role.SYSTEM}), now=T0)
    order.pull_events()
    return order


async def outbox(database: FakeDatabase, chat_id: int | None = None) -> list[OutboxMessage]:
    """Every committed outbox message (of one chat), oldest first."""
    return database.outbox_of(chat_id)


def count_audit(database: FakeDatabase, order_id: str, action: str) -> int:
    """How many audit lines of an action the stored order has."""
    return sum(line.action == action for line in database.state.orders[order_id].audit)


async def deliver(bot: Bot, messages: Iterable[OutboxMessage], uows: Uows) -> None:
    """Sends outbox messages as the sender does, uploading stored documents, so the spec check sees them."""
    for message in messages:
        document = None
        if "document_id" in message.params:
            async with uows() as uow:
                document = await uow.reviews.get_document(int(message.params["document_id"]))
            assert document is not None
        await bot(build_method(message, document))


def _user(user_id: int, language_code: str) -> dict[str, Any]:
    return telegram.user(user_id, NAMES.get(user_id, f"User{user_id}"), language_code)


def command(
    update_id: int, text: str, *, user_id: int, chat_id: int | None = None, language_code: str = "en"
) -> Update:
    """A text message (commands get their entity)."""
    chat = telegram.chat(chat_id if chat_id is not None else user_id)
    message = telegram.text_message(
        10_000 + update_id, text, chat=chat, sender=_user(user_id, language_code), date=T0
    )
    return Update.model_validate({"update_id": update_id, "message": message})


@dataclass(frozen=True)
class Card:
    """A message of the bot with buttons, as Telegram would show it."""

    chat_id: int
    message_id: int
    text: str


def card_of(message: OutboxMessage, message_id: int = 77) -> Card:
    """The card an outbox message became once sent (plain text as Telegram keeps it)."""
    plain = re.sub(r"<[^>]+>", "", message.params["text"])
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return Card(message.chat_id, message_id, plain)


def buttons(message: OutboxMessage) -> list[str]:
    """The callback data of an outbox message's buttons."""
    markup = message.params.get("reply_markup") or {"inline_keyboard": []}
    return [button.get("callback_data", "") for row in markup["inline_keyboard"] for button in row]


def press(update_id: int, data: str, *, user_id: int, card: Card, language_code: str = "en") -> Update:
    """A button press on a card."""
    message = telegram.bot_message(card.message_id, card.text, chat=telegram.chat(card.chat_id), date=T0)
    query = telegram.callback_query(
        f"cb{update_id}", data, sender=_user(user_id, language_code), message=message
    )
    return Update.model_validate({"update_id": update_id, "callback_query": query})


def alerts(bot: MockedBot) -> list[str]:
    """The texts of every callback answer so far."""
    return [request.params.get("text", "") for request in bot.requests_for("answerCallbackQuery")]


def sent_texts(bot: MockedBot, method: str = "sendMessage") -> list[str]:
    """The texts the bot sent directly."""
    return [request.params.get("text", "") for request in bot.requests_for(method)]


def _unescape(literal: bytes) -> bytes:
    """Resolves the escapes of a PDF literal string (octal codes, backslashed characters)."""
    return re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else m.group(1),
        literal,
        flags=re.S,
    )


def pdf_text(content: bytes) -> str:
    """Extracts the text a reportlab CID-font PDF shows (ASCII85+Flate streams of UCS-2 strings)."""
    shown = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", content, re.S):
        raw = match.group(1).strip()
        try:
            data = decompress(a85decode(raw, adobe=True) if raw.endswith(b"~>") else raw)
        except ValueError:
            continue
        for hexed in re.findall(rb"<([0-9A-Fa-f\s]+)>\s*Tj", data):
            shown.append(bytes.fromhex(hexed.decode()).decode("utf-16-be"))
        for literal in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", data):
            shown.append(_unescape(literal).decode("utf-16-be", errors="replace"))
    return "\n".join(shown)


def decoded(value: Any) -> Any:
    """Decodes a JSON string param."""
    return json.loads(value) if isinstance(value, str) else value
