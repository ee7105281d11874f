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


async def test_a_name_is_written_once_while_unchanged_and_again_when_it_changes(
    engine: AsyncEngine,
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    with name_writes(engine) as writes:
        for _ in range(3):
            async with new_uow() as uow:
                await uow.reviews.remember_name(DORA, "Dora Desk", NOW)
                await uow.commit()
        assert len(writes) == 1

        async with new_uow() as uow:
            await uow.reviews.remember_name(DORA, "Dora Li", NOW)
            await uow.commit()
        assert len(writes) == 2

    async with new_uow() as uow:
        assert await uow.reviews.name_of(DORA) == "Dora Li"


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
        async with new_uow() as uow:
            await uow.reviews.remember_name(DORA, "Dora Desk", NOW)
            await uow.commit()
        assert len(writes) == 3

    async with new_uow() as uow:
        assert await uow.reviews.name_of(DORA) == "Dora Desk"
