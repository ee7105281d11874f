"""Fifty presses of Approve at once on the real databases: one transition, one number (R-3.2, R-3.3, R-P)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiogram import Dispatcher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import OutboxMessage
from application.review import ReviewSetup
from application.services import Actor, EventHandlers, perform_action
from domain.orders.status import Action, OrderStatus, Role
from presentation.callbacks import ReviewAction, ReviewStep
from storage.models import OrderAuditRow, OutboxRow
from storage.uow import SqlUnitOfWork
from tests.fixtures import load, store
from tests.mocked_bot import MockedBot
from tests.review.conftest import (
    CUSTOMER_ID,
    DESK2_ID,
    DESK_CHAT,
    DESK_ID,
    HEAD_ID,
    alerts,
    card_of,
    make_order,
    press,
)
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

# The storage fixtures replace the fake unit of work of tests/review/conftest.py in this module.
__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

Uows = Callable[[], SqlUnitOfWork]
Sessions = async_sessionmaker[AsyncSession]


async def outbox(sessions: Sessions, chat_id: int) -> list[OutboxMessage]:
    """Every queued outbox message of one chat, oldest first."""
    async with sessions() as session:
        stmt = select(OutboxRow).where(OutboxRow.chat_id == chat_id).order_by(OutboxRow.id)
        rows = (await session.scalars(stmt)).all()
    return [
        OutboxMessage(row.chat_id, row.method, dict(row.params), row.created_at, row.order_id, row.dedup_key)
        for row in rows
    ]


async def count_audit(sessions: Sessions, order_id: str, action: str) -> int:
    """How many audit lines of an action the order has."""
    async with sessions() as session:
        stmt = select(func.count()).where(OrderAuditRow.order_id == order_id, OrderAuditRow.action == action)
        return int(await session.scalar(stmt) or 0)


@pytest.mark.usefixtures("staffed")
async def test_fifty_concurrent_presses_give_one_transition_one_audit_line_one_message(
    dispatcher: Dispatcher,
    new_uow: Uows,
    setup: ReviewSetup,
    session_factory: Sessions,
    mocked_bot: MockedBot,
) -> None:
    order = make_order()
    order.status = OrderStatus.SUBMITTED
    order.audit.clear()
    await store(new_uow, order)
    system = Actor(None, frozenset({Role.SYSTEM}))
    handlers: EventHandlers = setup.handlers
    await perform_action(new_uow(), order.id, Action.PASS_VALIDATION, system, setup.clock, handlers=handlers)
    [card_message] = await outbox(session_factory, DESK_CHAT)
    card = card_of(card_message)
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
    presses = [
        press(100 + i, approve, user_id=(DESK_ID, DESK2_ID, HEAD_ID)[i % 3], card=card) for i in range(50)
    ]

    await asyncio.gather(*(dispatcher.feed_update(mocked_bot, update) for update in presses))

    stored = await load(new_uow, order.id)
    assert stored.status is OrderStatus.CONFIRMED
    assert await count_audit(session_factory, order.id, "approve") == 1
    assert await count_audit(session_factory, order.id, "assign_number") == 1
    texts = [m for m in await outbox(session_factory, CUSTOMER_ID) if m.method == "sendMessage"]
    assert len(texts) == 1
    answers = alerts(mocked_bot)
    assert len(answers) == 50
    assert sum(answer.startswith("Already handled by") for answer in answers) == 49
    assert len(mocked_bot.requests_for("editMessageText")) == 1
