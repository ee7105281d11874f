"""Execution tests: the real middlewares and routers and the review flow on the fake unit of work."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from application.execution import ExecutionSetup
from application.notifier import build_notifier
from application.review import ReviewSetup
from application.services import EventHandlers
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.model import Item, Order
from domain.orders.status import Role, Service
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from handlers import execution, my_orders, review, tracking
from presentation.notifications import TelegramNotices, fixed_team_chats
from presentation.outbound_note import TelegramOutboundNotes
from tests import telegram
from tests.dispatchers import routed_dispatcher
from tests.fixtures import grant_roles
from tests.review.conftest import (  # noqa: F401
    ADMIN_ID,
    DESK_CHAT,
    DESK_ID,
    T0,
    TIMEZONE,
    Uows,
    clock,
    make_order,
    setup,
)

WAREHOUSE_ID = 301
WAREHOUSE2_ID = 302
LOGISTICS_ID = 401
LOGISTICS2_ID = 402
WAREHOUSE_CHAT = -1002000000001
LOGISTICS_CHAT = -1003000000001
TEAM_CHATS = {"order_desk": DESK_CHAT, "warehouse": WAREHOUSE_CHAT, "logistics": LOGISTICS_CHAT}
SLA = SlaContext(load_policy(), BusinessCalendar())


@pytest.fixture
def handlers(i18n: PoI18n, setup: ReviewSetup) -> EventHandlers:  # noqa: F811
    """The status-change side effects as the composition root wires them."""
    return build_notifier(TelegramNotices(i18n, TIMEZONE, setup.policy), fixed_team_chats(TEAM_CHATS))


@pytest.fixture
def review_setup(setup: ReviewSetup, handlers: EventHandlers) -> ReviewSetup:  # noqa: F811
    """The review flow with the notifications and SLA clocks wired."""
    return replace(setup, handlers=handlers, sla=SLA)


@pytest.fixture
def execution_setup(clock: FixedClock, i18n: PoI18n, handlers: EventHandlers) -> ExecutionSetup:  # noqa: F811
    """The execution use cases' setup."""
    return ExecutionSetup(clock, TIMEZONE, TelegramOutboundNotes(i18n, TIMEZONE), handlers, sla=SLA)


@pytest.fixture
def dispatcher(
    new_uow: Uows,
    i18n: PoI18n,
    review_setup: ReviewSetup,
    execution_setup: ExecutionSetup,
) -> Dispatcher:
    """The project's middlewares in production order with the review, execution and tracking routers."""
    return routed_dispatcher(
        new_uow,
        (review.router, execution.router, tracking.router, my_orders.router),
        admin_ids=[ADMIN_ID],
        i18n=i18n,
        review_setup=review_setup,
        execution_setup=execution_setup,
        team_chats=TEAM_CHATS,
        timezone=TIMEZONE,
    )


@pytest.fixture
async def staffed(new_uow: Uows) -> None:
    """The order desk, two warehouse and two logistics staff in the database."""
    await grant_roles(
        new_uow,
        {
            Role.ORDER_DESK: (DESK_ID,),
            Role.WAREHOUSE: (WAREHOUSE_ID, WAREHOUSE2_ID),
            Role.LOGISTICS: (LOGISTICS_ID, LOGISTICS2_ID),
        },
        at=T0,
        by=ADMIN_ID,
    )


def execution_order(service: Service = Service.AIR_FREIGHT, language: str = "zh") -> Order:
    """An order waiting for the first review, with SKUs and one fragile item."""
    return make_order(
        service=service,
        language=language,
        name="Li Wei",
        items=[
            Item("Tea set", 2, Decimal("1.250"), Decimal("39.90"), sku="TEA-01", fragile=True),
            Item("Silk scarf", 3, Decimal("0.200"), Decimal("12.00"), sku="SILK-7"),
        ],
    )


def photo_message(update_id: int, file_id: str, *, user_id: int, chat_id: int) -> Update:
    """A photo sent in a chat."""
    message: dict[str, Any] = {
        "message_id": 20_000 + update_id,
        "date": int(T0.timestamp()),
        "chat": telegram.chat(chat_id),
        "from": telegram.user(user_id, f"User{user_id}"),
        "photo": [{"file_id": file_id, "file_unique_id": "u" + file_id, "width": 800, "height": 600}],
    }
    return Update.model_validate({"update_id": update_id, "message": message})
