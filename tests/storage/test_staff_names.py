"""Staff display names on SQLite and PostgreSQL: an unchanged name is not written again (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.uow import SqlUnitOfWork
from tests.fixtures import statements_starting

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
DORA = 7


def name_writes(engine: AsyncEngine) -> AbstractContextManager[list[str]]:
    """Collects the statements that write a staff name while the block runs."""
    return statements_starting(engine, "INSERT INTO staff_names")


async def remember_committed(new_uow: Callable[[], SqlUnitOfWork], name: str) -> None:
    """Remembers Dora's name in a unit of work of its own that commits."""
    async with new_uow() as uow:
        await uow.reviews.remember_name(DORA, name, NOW)
        await uow.commit()


async def stored_name(new_uow: Callable[[], SqlUnitOfWork]) -> str | None:
    """Dora's name as stored."""
    async with new_uow() as uow:
        return await uow.reviews.name_of(DORA)


async def test_a_name_is_written_once_while_unchanged_and_again_when_it_changes(
    engine: AsyncEngine,
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    with name_writes(engine) as writes:
        for _ in range(3):
            await remember_committed(new_uow, "Dora Desk")
        assert len(writes) == 1

        await remember_committed(new_uow, "Dora Li")
        assert len(writes) == 2

    assert await stored_name(new_uow) == "Dora Li"


async def test_a_name_whose_write_was_rolled_back_is_written_again(
    engine: AsyncEngine,
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    with name_writes(engine) as writes:
        async with new_uow() as uow:
            await uow.reviews.remember_name(DORA, "Dora Desk", NOW)
            await uow.rollback()
        async with new_uow() as uow:
            # Never committed: closing without a commit discards it too.
            await uow.reviews.remember_name(DORA, "Dora Desk", NOW)
        await remember_committed(new_uow, "Dora Desk")
        assert len(writes) == 3

    assert await stored_name(new_uow) == "Dora Desk"
