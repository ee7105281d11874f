"""Customer channel fixtures: the notification policy with email, bindings, webhooks and the told clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from application.binding import BindingRepository
from application.customer_channels import CustomerChannels
from application.notifier import build_notifier
from application.ports import ApiOrderLink, OutboxMessage, UnitOfWork
from application.services import EventHandlers
from bot.i18n import PoI18n, create_i18n
from domain.orders.events import OrderStatusChanged
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.review import ReviewPolicy, parse_threshold
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.documents import CompanyDetails, ConfirmationDocuments
from presentation.email_texts import EmailNotices
from presentation.notifications import TelegramNotices, fixed_team_chats
from tests.fakes import FakeDatabase
from tests.storage.factories import make_order

T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
TIMEZONE = "Asia/Shanghai"
SLA = SlaContext(load_policy(), BusinessCalendar(TIMEZONE))
DESK_CHAT = -1001
WAREHOUSE_CHAT = -1002
TEAM_CHATS = {"order_desk": DESK_CHAT, "warehouse": WAREHOUSE_CHAT}
COMPANY = CompanyDetails(
    "Hai Yun Logistics 海运物流", "88 Century Ave, Shanghai", "+86 21 5555 0100", "help@haiyun.example"
)
BOT_USERNAME = "orderdesk_test_bot"
PLATFORM = "shop"
EMAIL = "li.wei@example.com"
# The customer's Telegram chat, where an order has one.
CHAT = 555_000_111


class FakeBindings:
    """BindingRepository over dicts (the fake database keeps no binding tables)."""

    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, int | None]] = {}
        self.consents: list[tuple[int, str | None, str | None]] = []

    async def issue(self, token: str, order_id: str, at: datetime) -> None:
        self.tokens[token] = (order_id, None)

    async def unused_token(self, order_id: str) -> str | None:
        return next((t for t, (o, chat) in self.tokens.items() if o == order_id and chat is None), None)

    async def take(self, token: str, chat_id: int, at: datetime) -> str | None:
        found = self.tokens.get(token)
        if found is None or found[1] is not None:
            return None
        self.tokens[token] = (found[0], chat_id)
        return found[0]

    async def agree(self, chat_id: int, phone: str | None, email: str | None, at: datetime) -> None:
        self.consents.append((chat_id, phone, email))

    async def chat_for(self, phone: str | None, email: str | None) -> int | None:
        return next(
            (
                chat
                for chat, p, e in reversed(self.consents)
                if (phone and p == phone) or (email and e == email)
            ),
            None,
        )


@pytest.fixture(scope="session")
def i18n() -> PoI18n:
    """The real catalogs."""
    return create_i18n("en")


@pytest.fixture
def bindings() -> FakeBindings:
    """Tokens and consents of one test."""
    return FakeBindings()


@pytest.fixture
def platform_orders() -> dict[str, ApiOrderLink]:
    """The orders a platform placed, by order id."""
    return {}


@pytest.fixture
def documents() -> ConfirmationDocuments:
    """The confirmation PDF with the company's details and the expected delivery date."""
    return ConfirmationDocuments(COMPANY, TIMEZONE, SLA)


@pytest.fixture
def handlers(
    i18n: PoI18n,
    bindings: FakeBindings,
    platform_orders: dict[str, ApiOrderLink],
    documents: ConfirmationDocuments,
) -> EventHandlers:
    """The notification policy as the composition root wires it with every channel on."""

    def bindings_of(uow: UnitOfWork) -> BindingRepository:
        return bindings

    async def platform_of(uow: UnitOfWork, order_id: str) -> ApiOrderLink | None:
        return platform_orders.get(order_id)

    threshold, currency = parse_threshold("10000 CNY")
    channels = CustomerChannels(
        email=EmailNotices(i18n, documents),
        bindings_of=bindings_of,
        bot_username=BOT_USERNAME,
        platform_of=platform_of,
        webhooks=frozenset({PLATFORM}),
        sla=SLA,
    )
    notices = TelegramNotices(i18n, TIMEZONE, ReviewPolicy(threshold, currency), documents)
    return build_notifier(notices, fixed_team_chats(TEAM_CHATS), channels=channels)


def customer_order(*, chat: int | None = None, email: str | None = EMAIL, language: str = "en") -> Order:
    """An order whose customer has the given chat and email."""
    order = make_order(created_at=T0)
    order.customer = replace(order.customer, telegram_user_id=chat, email=email, language=language)
    return order


async def store(database: FakeDatabase, order: Order) -> None:
    """Commits a new order."""
    async with database.unit_of_work() as uow:
        await uow.orders.add(order)
        await uow.commit()


async def stored_order(database: FakeDatabase, chat: int | None, email: str | None = EMAIL) -> Order:
    """Commits a new order whose customer has the given chat and email, and returns it."""
    order = customer_order(chat=chat, email=email)
    await store(database, order)
    return order


def outbox_rows(database: FakeDatabase, method: str) -> list[OutboxMessage]:
    """The committed outbox rows of one method."""
    return [message for message in database.outbox_of() if message.method == method]


async def change(
    database: FakeDatabase,
    handlers: EventHandlers,
    order: Order,
    to_status: OrderStatus,
    at: datetime = T0,
    *,
    number: str | None = None,
) -> OrderStatusChanged:
    """Moves the stored order to a status (as a use case would) and runs the policy in one transaction."""
    async with database.unit_of_work() as uow:
        stored = await uow.orders.get(order.id)
        from_status = stored.status
        stored.status = to_status
        if number is not None:
            stored.number = number
        stored.note("", actor_id=None, role=Role.SYSTEM, now=at, action="test_change")
        event = OrderStatusChanged(
            stored.event_id(), stored.id, at, Action.CONFIRM, from_status, to_status, None
        )
        for handler in handlers[OrderStatusChanged]:
            await handler(event, stored, uow)
        await uow.commit()
    return event
