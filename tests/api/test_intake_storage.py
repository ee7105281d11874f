"""The intake on the real databases: an offline order survives a reload; racing API retries make one order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from application.intake import place_order
from domain.clock import FixedClock
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft, needs_second_review
from domain.orders.status import Channel, OrderStatus, Role
from storage.uow import SqlUnitOfWork
from tests.api.conftest import T0
from tests.api.test_intake_api import ORDERS, Client, order_body, post, stored_orders
from tests.fixtures import grant_roles
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

# The storage fixtures replace the fake unit of work of tests/api/conftest.py in this module.
__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

CLERK = 4242


async def test_a_late_urgent_offline_order_is_stored_with_its_entry_clock_and_flags(
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    await grant_roles(new_uow, {Role.ORDER_DESK: [CLERK]}, at=T0)
    draft = OrderDraft(
        customer=CustomerDraft("Tanaka Yui", email="yui@example.jp"),
        address=AddressDraft("JP", "Tokyo", "1-1 Chiyoda", "100-0001"),
        items=[ItemDraft("Power bank", 1, "0.3", "25")],
        service="air_freight",
        payment_method="bank transfer",
        urgent=True,
        channel=Channel.SERVICE_POINT,
        entered_by=CLERK,
        received_at=T0 - timedelta(minutes=45),
        customer_confirmed=True,
    )

    placed = await place_order(new_uow(), draft, FixedClock(T0))

    async with new_uow() as uow:
        order = await uow.orders.get(placed.order.id)
        link = await uow.api.by_order(order.id)
    assert order.status is OrderStatus.PENDING_REVIEW and order.urgent
    assert order.entered_by == CLERK and order.received_at == T0 - timedelta(minutes=45)
    [entry] = order.clocks
    assert (entry.stage, entry.due_at, entry.finished_at, entry.met) == (
        "entry_urgent",
        T0 - timedelta(minutes=15),
        T0,
        False,
    )
    assert [event.action for event in order.audit] == [
        "submit",
        "late_entry",
        "pass_validation",
        "needs_second_review",
    ]
    assert needs_second_review(order)
    # Not created through the API, so no key sees it there.
    assert link is None


async def test_simultaneous_retries_make_one_order(
    client: Client, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    answers = await asyncio.gather(
        *(post(client, ORDERS, order_body(), **{"Idempotency-Key": "burst"}) for _ in range(4))
    )

    assert sorted(status for status, _, _ in answers) == [200, 200, 200, 201]
    assert len({document["reference"] for _, document, _ in answers}) == 1
    assert len(await stored_orders(new_uow)) == 1
