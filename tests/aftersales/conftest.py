"""After-sales fixtures: a delivered order with its documents, the wiring of the use cases, a dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from aiogram import Dispatcher
from sqlalchemy import select

from application.aftersales_ports import AftersalesSettings, AftersalesSetup
from application.completion import complete_due, record_completions
from application.notifier import build_notifier
from application.survey import send_due_surveys
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.status import Action, OrderStatus, Role
from domain.review import ReviewPolicy
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from handlers import archive, my_orders, survey
from presentation.notifications import TelegramNotices, fixed_team_chats
from presentation.survey_texts import AftersalesNotices
from storage.models import ExceptionCaseRow, OutboxRow
from storage.uow import SqlUnitOfWork
from tests.dispatchers import routed_dispatcher
from tests.storage.factories import make_order

TZ = "Asia/Shanghai"
CS_CHAT = -1005000000001
DESK_CHAT = -1001000000001
CUSTOMER_ID = 555_000_111
# Monday 2026-03-16 10:00 in Shanghai.
DELIVERED_AT = datetime(2026, 3, 16, 2, tzinfo=UTC)
PHONE, EMAIL, NAME = "+8613800138000", "li.wei@example.com", "Li Wei"
EVERY = frozenset(Role)
POLICY = ReviewPolicy(Decimal(10000), "CNY")
Uows = Callable[[], SqlUnitOfWork]


def aftersales(clock: FixedClock, archive_dir: Path) -> AftersalesSetup:
    i18n = create_i18n("en")
    renderer = AftersalesNotices(TelegramNotices(i18n, TZ, POLICY), i18n, "OrderDeskBot")
    handlers = build_notifier(
        renderer, fixed_team_chats({"customer_service": CS_CHAT, "order_desk": DESK_CHAT})
    )
    sla = SlaContext(load_policy(), BusinessCalendar(TZ))
    return AftersalesSetup(
        clock, sla, handlers, AftersalesSettings(archive_dir=str(archive_dir), timezone=TZ)
    )


async def delivered_order(
    new_uow: Uows,
    *,
    telegram_user_id: int | None = CUSTOMER_ID,
    email: str | None = EMAIL,
    number: str = "20260310001",
) -> str:
    """Stores an order delivered on DELIVERED_AT with its documents and an exception case."""
    order = make_order(status=OrderStatus.OUT_FOR_DELIVERY)
    order.customer.telegram_user_id, order.customer.email = telegram_user_id, email
    order.number = number
    order.shipment.carrier, order.shipment.waybill = "dhl", "4839201756"
    order.shipment.outbound_at = DELIVERED_AT - timedelta(days=3)
    order.apply(Action.DELIVER, actor_id=401, roles=EVERY, now=DELIVERED_AT, note=NAME)
    order.shipment.delivered_at, order.shipment.signed_by = DELIVERED_AT, NAME
    order.pull_events()
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.reviews.save_document(order.id, "confirmation", "c.pdf", b"%PDF confirmation", DELIVERED_AT)
        await uow.reviews.save_document(order.id, "outbound_note", "o.pdf", b"%PDF outbound", DELIVERED_AT)
        uow.session.add(
            ExceptionCaseRow(
                order_id=order.id,
                type="delay",
                cause="weather",
                department="logistics",
                opened_at=DELIVERED_AT - timedelta(days=2),
                closed_at=DELIVERED_AT - timedelta(days=1),
            )
        )
        await uow.commit()
    return order.id


async def an_hour_after_delivery(new_uow: Uows, archive_dir: Path) -> tuple[FixedClock, AftersalesSetup, str]:
    """The after-sales setup on a clock an hour after DELIVERED_AT, and the delivered order's id."""
    clock = FixedClock(DELIVERED_AT + timedelta(hours=1))
    return clock, aftersales(clock, archive_dir), await delivered_order(new_uow)


async def outbox(new_uow: Uows, chat_id: int) -> list[OutboxRow]:
    async with new_uow() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
        )
        return list(rows.all())


async def complete_and_survey(new_uow: Uows, clock: FixedClock, setup: AftersalesSetup) -> int:
    """Completes the delivered orders after the quiet period, surveys them on Monday 09:30 local; how many."""
    clock.current = datetime(2026, 3, 19, 2, 1, tzinfo=UTC)
    await complete_due(new_uow, setup)
    await record_completions(new_uow, setup)
    clock.current = datetime(2026, 3, 23, 1, 30, tzinfo=UTC)
    return await send_due_surveys(new_uow, setup)


async def surveyed(new_uow: Uows, clock: FixedClock, setup: AftersalesSetup) -> str:
    """A delivered order completed by the quiet period and surveyed on Monday 09:30 local."""
    order_id = await delivered_order(new_uow)
    await complete_and_survey(new_uow, clock, setup)
    return order_id


def dispatcher_for(new_uow: Uows, setup: AftersalesSetup) -> Dispatcher:
    """The project's middlewares with the after-sales routers and /track (it says an erased order is gone)."""
    return routed_dispatcher(
        new_uow, (archive.router, survey.router, my_orders.router), aftersales_setup=setup
    )
