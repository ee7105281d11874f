"""Confirming orders hands out formal numbers: distinct and consecutive under concurrency (R-3.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from application.services import confirm_order
from domain.clock import FixedClock
from domain.errors import ConcurrentModification, IllegalTransition
from domain.orders.status import OrderStatus
from storage.uow import SqlUnitOfWork
from tests.storage.factories import make_order

# 23:30 UTC on 14 March is already 15 March in Shanghai: the number must carry the company's day.
CLOCK = FixedClock(datetime(2026, 3, 14, 23, 30, tzinfo=UTC))


async def store_awaiting(new_uow: Callable[[], SqlUnitOfWork], count: int) -> list[str]:
    """Stores orders that passed review and wait for their number."""
    ids = []
    async with new_uow() as uow:
        for _ in range(count):
            order = make_order(status=OrderStatus.AWAITING_CONFIRMATION)
            await uow.orders.add(order)
            ids.append(order.id)
        await uow.commit()
    return ids


async def test_fifty_concurrent_confirmations_get_fifty_consecutive_numbers(
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    ids = await store_awaiting(new_uow, 50)

    confirmed = await asyncio.gather(
        *(confirm_order(new_uow(), order_id, CLOCK, "Asia/Shanghai") for order_id in ids)
    )

    numbers = sorted(order.number or "" for order in confirmed)
    assert numbers == [f"20260315{serial:03d}" for serial in range(1, 51)]
    async with new_uow() as uow:
        stored = [await uow.orders.get(order_id) for order_id in ids]
    assert sorted(order.number or "" for order in stored) == numbers
    assert {order.status for order in stored} == {OrderStatus.CONFIRMED}


async def test_confirming_twice_at_once_numbers_the_order_once(new_uow: Callable[[], SqlUnitOfWork]) -> None:
    [order_id] = await store_awaiting(new_uow, 1)

    results = await asyncio.gather(
        *(confirm_order(new_uow(), order_id, CLOCK, "Asia/Shanghai") for _ in range(2)),
        return_exceptions=True,
    )

    winners = [result for result in results if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConcurrentModification | IllegalTransition)
    # The loser's serial was rolled back with its transaction, so the next order gets 002.
    [next_id] = await store_awaiting(new_uow, 1)
    following = await confirm_order(new_uow(), next_id, CLOCK, "Asia/Shanghai")
    assert (winners[0].number, following.number) == ("20260315001", "20260315002")


async def test_numbers_widen_past_999(new_uow: Callable[[], SqlUnitOfWork]) -> None:
    ids = await store_awaiting(new_uow, 3)
    async with new_uow() as uow:
        for _ in range(998):
            await uow.numbers.next_serial(datetime(2026, 3, 15).date())
        await uow.commit()

    numbers = [(await confirm_order(new_uow(), order_id, CLOCK, "Asia/Shanghai")).number for order_id in ids]

    assert numbers == ["20260315999", "202603151000", "202603151001"]
