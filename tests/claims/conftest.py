"""Claim fixtures for the chat tests (issue 14, R-6.4): the wiring, a delivered order, photos, presses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiogram import Dispatcher
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update
from sqlalchemy import select

from application.aftersales_ports import AftersalesSettings, AftersalesSetup
from application.claims import ClaimsSetup
from application.exceptions import raise_exception
from application.notifier import build_notifier
from bot.i18n import LanguageMiddleware, create_i18n
from bot.middlewares import RolesMiddleware, UnitOfWorkMiddleware
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from domain.review import ReviewPolicy
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from handlers import archive, claims
from presentation.claims_texts import ClaimNotices
from presentation.notifications import TelegramNotices, fixed_team_chats
from presentation.survey_texts import AftersalesNotices
from storage.models import OutboxRow
from storage.uow import SqlUnitOfWork
from tests.dispatchers import detached
from tests.fixtures import grant_roles, store
from tests.storage.factories import make_order

TZ = "Asia/Shanghai"
CUSTOMER_ID = 555_000_111
LOGISTICS_ID, SERVICE_ID, WAREHOUSE_ID, STRANGER_ID = 401, 402, 403, 404
CS_CHAT, LOGISTICS_CHAT, WAREHOUSE_CHAT, FINANCE_CHAT, DESK_CHAT = (
    -1005000000001,
    -1004000000001,
    -1003000000001,
    -1006000000001,
    -1001000000001,
)
# Monday 2026-03-16 10:00 in Shanghai.
DELIVERED_AT = datetime(2026, 3, 16, 2, tzinfo=UTC)
Uows = Callable[[], SqlUnitOfWork]


def wiring(clock: FixedClock, language: str) -> tuple[ClaimsSetup, AftersalesSetup]:
    """The claim and after-sales setups with the real notifier, team chats written in language."""
    i18n = create_i18n("en")
    renderer = ClaimNotices(
        AftersalesNotices(TelegramNotices(i18n, TZ, ReviewPolicy(Decimal(10000), "CNY")), i18n), i18n
    )
    chats = {
        "customer_service": CS_CHAT,
        "logistics": LOGISTICS_CHAT,
        "warehouse": WAREHOUSE_CHAT,
        "finance": FINANCE_CHAT,
        "order_desk": DESK_CHAT,
    }
    handlers = build_notifier(renderer, fixed_team_chats(chats), team_language=language)
    sla = SlaContext(load_policy(), BusinessCalendar(TZ))
    return (
        ClaimsSetup(clock, sla, handlers, timezone=TZ),
        AftersalesSetup(clock, sla, handlers, AftersalesSettings(timezone=TZ)),
    )


def dispatcher_for(
    new_uow: Uows, setup: ClaimsSetup, aftersales: AftersalesSetup, language: str
) -> Dispatcher:
    """The project's middlewares with the claims and archive (Report a problem) routers."""
    dispatcher = Dispatcher(storage=MemoryStorage(), claims_setup=setup, aftersales_setup=aftersales)
    dispatcher.update.outer_middleware(UnitOfWorkMiddleware(new_uow))
    dispatcher.update.outer_middleware(RolesMiddleware([]))
    dispatcher.update.outer_middleware(LanguageMiddleware(create_i18n(language)))
    for module in (archive, claims):
        dispatcher.include_router(detached(module.router))
    return dispatcher


async def delivered_order(new_uow: Uows, language: str) -> Order:
    """Stores an order delivered on DELIVERED_AT to a customer who reads language."""
    order = make_order(status=OrderStatus.OUT_FOR_DELIVERY, created_at=DELIVERED_AT - timedelta(days=5))
    order.customer.language = language
    order.number = "20260310001"
    order.paid = True
    order.apply(Action.DELIVER, actor_id=LOGISTICS_ID, roles=frozenset(Role), now=DELIVERED_AT, note="Li Wei")
    order.pull_events()
    await grant_roles(
        new_uow,
        {Role.LOGISTICS: [LOGISTICS_ID], Role.CUSTOMER_SERVICE: [SERVICE_ID], Role.WAREHOUSE: [WAREHOUSE_ID]},
        at=DELIVERED_AT,
    )
    return await store(new_uow, order)


async def mark(new_uow: Uows, order_id: str, kind: ExceptionType, setup: ClaimsSetup) -> None:
    """Logistics marks the exception through the exceptions flow: the order's case opens."""
    await raise_exception(
        new_uow(),
        order_id,
        actor_id=LOGISTICS_ID,
        kind=kind,
        cause=None,
        note="",
        setup=setup.exception_setup(),
    )


async def outbox(new_uow: Uows, chat_id: int) -> list[OutboxRow]:
    """The outbox rows queued for a chat, oldest first."""
    async with new_uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
        )
        return list(rows.all())


def photo(update_id: int, file_id: str, *, user_id: int, chat_id: int, language: str = "en") -> Update:
    """A photo message (two sizes, as Telegram sends them)."""
    sizes: list[dict[str, Any]] = [
        {"file_id": f"{file_id}-small", "file_unique_id": f"{file_id}-s", "width": 90, "height": 90},
        {"file_id": file_id, "file_unique_id": f"{file_id}-l", "width": 1280, "height": 960},
    ]
    message = {
        "message_id": 20_000 + update_id,
        "date": int(DELIVERED_AT.timestamp()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Li"}
        if chat_id > 0
        else {"id": chat_id, "type": "supergroup", "title": "Team"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Li", "language_code": language},
        "photo": sizes,
    }
    return Update.model_validate({"update_id": update_id, "message": message})
