"""The production objects as run() builds them, on a scratch SQLite database (for wiring tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import OutboxMessage
from bot.app import Workflow, apply_migrations, build_storage, build_workflow, seed_team_chats
from bot.config import Settings, load_settings
from bot.dispatcher import build_dispatcher
from bot.i18n import create_i18n
from bot.middlewares import bootstrap_admins
from domain.clock import FixedClock
from domain.orders.model import Order
from storage.database import create_engine, create_session_factory
from storage.models import OutboxRow
from storage.uow import SqlUnitOfWork


class StoredState:
    """Reads what the wired bot stored: units of work, queued messages, orders (needs `sessions`)."""

    sessions: async_sessionmaker[AsyncSession]

    def uow(self) -> SqlUnitOfWork:
        """Opens a unit of work as bot/app.py does."""
        return SqlUnitOfWork(self.sessions)

    async def outbox(self, chat_id: int) -> list[OutboxMessage]:
        """The messages queued for a chat, oldest first."""
        async with self.sessions() as session:
            stmt = select(OutboxRow).where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
            rows = (await session.scalars(stmt)).all()
        return [
            OutboxMessage(
                row.chat_id, row.method, dict(row.params), row.created_at, row.order_id, row.dedup_key
            )
            for row in rows
        ]

    async def order(self, reference: str) -> Order:
        """Loads a stored order."""
        async with self.uow() as uow:
            order = await uow.orders.find(reference)
        assert order is not None
        return order


@dataclass
class Production:
    """Settings, workflow and dispatcher wired on one database, with the clock they share."""

    settings: Settings
    workflow: Workflow
    dispatcher: Dispatcher
    sessions: async_sessionmaker[AsyncSession]
    clock: FixedClock


@asynccontextmanager
async def production(
    database: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, **settings: Any
) -> AsyncIterator[Production]:
    """Settings (none from the environment), migrations, workflow, dispatcher, admins and team chats."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    loaded = load_settings(env_file=None, database_url=f"sqlite+aiosqlite:///{database}", **settings)
    await apply_migrations(loaded)
    engine = create_engine(loaded.database_url)
    sessions = create_session_factory(engine)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions)

    clock = FixedClock(now)
    i18n = create_i18n(loaded.default_language)
    workflow = build_workflow(loaded, clock, i18n)
    dispatcher = build_dispatcher(
        uow_factory=uow_factory,
        i18n=i18n,
        admin_ids=loaded.admin_ids,
        storage=build_storage(loaded, sessions),
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    await bootstrap_admins(uow_factory, loaded.admin_ids, clock.now())
    await seed_team_chats(uow_factory, loaded, clock.now())
    try:
        yield Production(loaded, workflow, dispatcher, sessions, clock)
    finally:
        await engine.dispose()
