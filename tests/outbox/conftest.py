"""Outbox fixtures: the storage fixtures (SQLite and PostgreSQL), a controlled clock and senders on them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from scheduler.outbox_sender import OutboxSender
from storage.outbox_queue import SqlOutboxQueue
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when the test (or the fake sleep) moves it."""
    return FixedClock(T0)


def fake_sleep(clock: FixedClock) -> Callable[[float], Any]:
    """A sleep that moves the controlled clock instead of waiting."""

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(microseconds=math.ceil(seconds * 1_000_000)))

    return sleep


def sender_on(
    session_factory: async_sessionmaker[AsyncSession], bot: Bot, clock: FixedClock, **options: Any
) -> OutboxSender:
    """A sender on the test database and the bot, with a seeded rng and a sleep that moves the clock."""
    options.setdefault("rng", random.Random(1))
    return OutboxSender(SqlOutboxQueue(session_factory), bot, clock, sleep=fake_sleep(clock), **options)
