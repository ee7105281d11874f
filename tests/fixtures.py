"""Fixtures every test folder shares (registered once in tests/conftest.py); order store and staff helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from application.ports import UnitOfWork
from bot.i18n import PoI18n, create_i18n
from domain.orders.model import Order
from domain.orders.status import Role
from tests.fakes import FakeDatabase, FakeUnitOfWork


@pytest.fixture
def database() -> FakeDatabase:
    """An empty fake database."""
    return FakeDatabase()


@pytest.fixture
def new_uow(database: FakeDatabase) -> Callable[[], FakeUnitOfWork]:
    """Makes a fresh unit of work on the fake database for each call."""
    return database.unit_of_work


@pytest.fixture
def i18n() -> PoI18n:
    """Every catalog, English by default."""
    return create_i18n("en")


async def store(uows: Callable[[], UnitOfWork], order: Order) -> Order:
    """Saves a new order."""
    async with uows() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def load(uows: Callable[[], UnitOfWork], order_id: str) -> Order:
    """Reads an order back."""
    async with uows() as uow:
        return await uow.orders.get(order_id)


async def grant_roles(
    uows: Callable[[], UnitOfWork],
    staff: Mapping[Role, Iterable[int]],
    *,
    at: datetime,
    by: int | None = None,
) -> None:
    """Gives each listed user the role in one transaction, granted at that time by that user (or nobody)."""
    async with uows() as uow:
        for role, user_ids in staff.items():
            for user_id in user_ids:
                await uow.staff.grant(user_id, role, by=by, at=at)
        await uow.commit()


@contextmanager
def statements_starting(engine: AsyncEngine, prefix: str) -> Iterator[list[str]]:
    """Records the SQL statements the engine runs inside the block that start with `prefix` (any case)."""
    statements: list[str] = []

    def record(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(prefix.upper()):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
