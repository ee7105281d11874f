"""Outbox fixtures: the storage fixtures (SQLite and PostgreSQL) plus a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.clock import FixedClock
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when the test (or the fake sleep) moves it."""
    return FixedClock(T0)
