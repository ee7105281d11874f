"""Daily order-number serials under concurrency (R-3.3: YYYYMMDD + serial, no duplicates, no gaps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

from storage.uow import SqlUnitOfWork

NewUow = Callable[[], SqlUnitOfWork]
DAY = date(2026, 3, 15)


async def _allocate(new_uow: NewUow, day: date, *, keep: bool = True) -> int:
    """Takes a serial in its own transaction, then commits it or rolls it back."""
    async with new_uow() as uow:
        serial = await uow.numbers.next_serial(day)
        # Let the other transactions pile up behind this one's row lock.
        await asyncio.sleep(0.001)
        if keep:
            await uow.commit()
        return serial


async def test_fifty_concurrent_confirmations_get_fifty_consecutive_serials(new_uow: NewUow) -> None:
    serials = await asyncio.gather(*(_allocate(new_uow, DAY) for _ in range(50)))

    assert sorted(serials) == list(range(1, 51))


async def test_rolled_back_serials_are_handed_out_again_so_committed_ones_have_no_gaps(
    new_uow: NewUow,
) -> None:
    keeps = [index % 3 != 0 for index in range(50)]

    serials = await asyncio.gather(*(_allocate(new_uow, DAY, keep=keep) for keep in keeps))

    committed = sorted(serial for serial, keep in zip(serials, keeps, strict=True) if keep)
    assert committed == list(range(1, len(committed) + 1))
    later = [await _allocate(new_uow, DAY) for _ in range(3)]
    assert later == [len(committed) + 1, len(committed) + 2, len(committed) + 3]


async def test_a_new_day_starts_again_at_one(new_uow: NewUow) -> None:
    first_day = [await _allocate(new_uow, DAY) for _ in range(3)]

    next_day = await _allocate(new_uow, date(2026, 3, 16))

    assert first_day == [1, 2, 3]
    assert next_day == 1
    assert await _allocate(new_uow, DAY) == 4


async def test_serials_in_one_transaction_are_consecutive(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        taken = [await uow.numbers.next_serial(DAY) for _ in range(3)]
        await uow.commit()

    assert taken == [1, 2, 3]
