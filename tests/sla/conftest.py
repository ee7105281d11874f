"""SLA fixtures: the storage fixtures (every test on SQLite and PostgreSQL), the policy, chats and texts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import UnitOfWork
from application.sla_sweep_settings import SweepSettings
from application.sla_sweeps import SlaSweeper
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import OrderStatus
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, open_stage
from domain.sla.policy import Stage
from domain.sla.policy_file import load_policy
from presentation.sla_alerts import Render, SlaAlertTexts, render_with
from storage.models import OutboxRow, SlaAlertRow, TrackingLogRow
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory
from tests.storage.factories import make_order

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

SLA = SlaContext(load_policy(), BusinessCalendar())
ORDER_DESK_CHAT = -1001
WAREHOUSE_CHAT = -1002
LOGISTICS_CHAT = -1003
CUSTOMER_SERVICE_CHAT = -1004
FINANCE_CHAT = -1005
MANAGEMENT_CHAT = -1006
TEAM_CHATS = {
    "order_desk": ORDER_DESK_CHAT,
    "warehouse": WAREHOUSE_CHAT,
    "logistics": LOGISTICS_CHAT,
    "customer_service": CUSTOMER_SERVICE_CHAT,
    "finance": FINANCE_CHAT,
    "management": MANAGEMENT_CHAT,
}
UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(scope="session")
def render() -> Render:
    """Renders the sweeps' texts with the real catalogs."""
    i18n = create_i18n("en")
    return render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale))


@pytest.fixture
def make_sweeper(new_uow: UowFactory, render: Render) -> Callable[..., SlaSweeper]:
    """Builds a sweeper on the test database (a new one per call, like a restarted process)."""

    def build(clock: FixedClock, **settings: Any) -> SlaSweeper:
        return SlaSweeper(
            uow_factory=new_uow,
            clock=clock,
            sla=SLA,
            team_chats=TEAM_CHATS,
            texts=SlaAlertTexts(render, zone=SLA.calendar.zone),
            settings=SweepSettings(**settings),
        )

    return build


async def seed_clock(
    new_uow: UowFactory, stage: Stage, started_at: datetime, status: OrderStatus = OrderStatus.SUBMITTED
) -> Order:
    """Stores an order in the status whose clock of the stage started at started_at."""
    order = make_order(status=status, created_at=started_at.astimezone(UTC))
    open_stage(order, stage, started_at.astimezone(UTC), SLA)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def recorded_alerts(session_factory: async_sessionmaker[AsyncSession]) -> list[SlaAlertRow]:
    """Returns every recorded alert, oldest first."""
    async with session_factory() as session:
        return list((await session.scalars(select(SlaAlertRow).order_by(SlaAlertRow.id))).all())


async def outbox_rows(session_factory: async_sessionmaker[AsyncSession]) -> list[OutboxRow]:
    """Returns every queued outbox message, oldest first."""
    async with session_factory() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def tracking_log(session_factory: async_sessionmaker[AsyncSession]) -> list[TrackingLogRow]:
    """Returns the recorded digests."""
    async with session_factory() as session:
        return list((await session.scalars(select(TrackingLogRow).order_by(TrackingLogRow.id))).all())
