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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Workflow, apply_migrations, build_storage, build_workflow, seed_team_chats
from bot.config import Settings, load_settings
from bot.dispatcher import build_dispatcher
from bot.i18n import create_i18n
from bot.middlewares import bootstrap_admins
from domain.clock import FixedClock
from storage.database import create_engine, create_session_factory
from storage.uow import SqlUnitOfWork


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
