"""Change tests (issue 13, R-6.2): orders priced by the shipped tariff, the fake database, real notices."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from application.notifier import build_notifier
from application.review import ReviewSetup
from application.services import Actor
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.intake.pricing import quote
from domain.orders.model import Address, Customer, Item, Order, new_reference
from domain.orders.status import Action, Channel, OrderStatus, Role, Service
from domain.review import ReviewPolicy
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, sync_clocks
from domain.sla.policy_file import shipped_policy
from presentation.notifications import TelegramNotices, fixed_team_chats
from tests.fakes import FakeUnitOfWork

CUSTOMER_ID = 555_000_111
OTHER_CUSTOMER_ID = 555_000_222
DESK_ID = 701
CARE_ID = 601
WAREHOUSE_ID = 301
ADMIN_ID = 900
DESK_CHAT = -1001000000001
WAREHOUSE_CHAT = -1001000000003
CARE_CHAT = -1001000000005
FINANCE_CHAT = -1001000000006
# A working day in Shanghai, 09:30.
T0 = datetime(2026, 3, 16, 1, 30, tzinfo=UTC)
TIMEZONE = "Asia/Shanghai"
SLA = SlaContext(shipped_policy(), BusinessCalendar(TIMEZONE))
POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY", rates={})
CUSTOMER = Actor(CUSTOMER_ID, frozenset({Role.CUSTOMER}))
DESK = Actor(DESK_ID, frozenset({Role.ORDER_DESK}))
CARE = Actor(CARE_ID, frozenset({Role.CUSTOMER_SERVICE}))
SYSTEM = frozenset({Role.SYSTEM})
CHATS = {
    Role.ORDER_DESK.value: DESK_CHAT,
    Role.WAREHOUSE.value: WAREHOUSE_CHAT,
    Role.CUSTOMER_SERVICE.value: CARE_CHAT,
    Role.FINANCE.value: FINANCE_CHAT,
}
Uows = Callable[[], FakeUnitOfWork]


@pytest.fixture
def clock() -> FixedClock:
    """09:30 on a Monday in Shanghai."""
    return FixedClock(T0)


@pytest.fixture
def setup(i18n: PoI18n, clock: FixedClock) -> ReviewSetup:
    """The production notices to fixed team chats, with the shipped SLA policy."""
    notices = TelegramNotices(i18n, TIMEZONE, POLICY)
    handlers = build_notifier(notices, fixed_team_chats(CHATS))
    return ReviewSetup(POLICY, clock, TIMEZONE, DESK_CHAT, SLA, handlers)


def make_order(
    *,
    status: OrderStatus = OrderStatus.CONFIRMED,
    service: Service = Service.AIR_FREIGHT,
    country: str = "DE",
    language: str = "en",
    paid: bool = True,
    customer_id: int = CUSTOMER_ID,
) -> Order:
    """A paid order priced by the shipped tariff, walked to the status through the table."""
    items = [Item("Tea set", 2, Decimal("1.250"), Decimal("39.90"))]
    order = Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        customer=Customer(
            "Emma Brown",
            phone="+4915112345678",
            email="emma@example.com",
            telegram_user_id=customer_id,
            language=language,
        ),
        address=Address(country=country, city="Berlin", street="Unter den Linden 1", postcode="10117"),
        items=items,
        service=service,
        payment_method="card",
        amount=quote(service, country, items).amount,
        currency="CNY",
        channel=Channel.TELEGRAM,
        created_at=T0,
        paid=paid,
    )
    walk_to(order, status)
    return order


# The path from submitted to each status (air freight), actions in order.
PATH = (
    (OrderStatus.PENDING_REVIEW, Action.PASS_VALIDATION),
    (OrderStatus.AWAITING_CONFIRMATION, Action.APPROVE),
    (OrderStatus.CONFIRMED, Action.CONFIRM),
    (OrderStatus.PICKED, Action.PICK),
    (OrderStatus.OUTBOUND, Action.OUTBOUND_SCAN),
    (OrderStatus.BOOKED, Action.BOOK),
    (OrderStatus.IN_TRANSIT, Action.DEPART),
    (OrderStatus.ARRIVED, Action.ARRIVE),
    (OrderStatus.CLEARED, Action.CLEAR_CUSTOMS),
    (OrderStatus.OUT_FOR_DELIVERY, Action.START_LAST_MILE),
    (OrderStatus.DELIVERED, Action.DELIVER),
    (OrderStatus.COMPLETED, Action.COMPLETE),
    (OrderStatus.ARCHIVED, Action.ARCHIVE),
)
EVERYONE = frozenset(Role)


def walk_to(order: Order, status: OrderStatus) -> None:
    """Moves a submitted order along the happy path until it reaches the status, clocks kept."""
    for target, action in PATH:
        if order.status is status:
            break
        order.apply(action, actor_id=WAREHOUSE_ID, roles=EVERYONE, now=T0)
        if target is OrderStatus.CONFIRMED:
            order.number = "20260316001"
        sync_clocks(order, T0, SLA)
    order.pull_events()
