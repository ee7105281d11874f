"""/failed lists the undelivered messages for the order desk, and only for it (issue 11, finding 1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from aiogram import Dispatcher

from application.ports import OutboxMessage
from domain.orders.status import Role
from handlers import outbox
from storage.outbox_queue import SqlOutboxQueue
from storage.uow import SqlUnitOfWork
from tests.bot.conftest import message_update
from tests.dispatchers import routed_dispatcher
from tests.mocked_bot import MockedBot
from tests.outbox.conftest import T0
from tests.review.conftest import make_order

DESK_ID, WAREHOUSE_ID = 501, 502


def dispatcher_for(new_uow: Callable[[], SqlUnitOfWork]) -> Dispatcher:
    """The production middlewares with the outbox router."""
    return routed_dispatcher(new_uow, [outbox.router], timezone="Asia/Shanghai")


async def test_the_desk_sees_what_failed_with_the_order_and_reason_others_are_refused(
    new_uow: Callable[[], SqlUnitOfWork], session_factory, mocked_bot: MockedBot
) -> None:
    order = make_order()
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.staff.grant(DESK_ID, Role.ORDER_DESK, by=None, at=T0)
        await uow.staff.grant(WAREHOUSE_ID, Role.WAREHOUSE, by=None, at=T0)
        message = OutboxMessage(21, "sendMessage", {"text": "x"}, T0, order_id=order.id)
        delivered = OutboxMessage(22, "sendMessage", {"text": "y"}, T0 + timedelta(minutes=1))
        await uow.outbox.enqueue(message)
        await uow.outbox.enqueue(delivered)
        await uow.commit()
    queue = SqlOutboxQueue(session_factory)
    assert message.id is not None and delivered.id is not None
    await queue.mark_failed(message.id, "Telegram server says - Bad Request: message is <too> long")
    await queue.mark_sent(delivered.id, 1, T0)
    dispatcher = dispatcher_for(new_uow)

    await dispatcher.feed_update(mocked_bot, message_update(1, "/failed", user_id=WAREHOUSE_ID))
    await dispatcher.feed_update(mocked_bot, message_update(2, "/failed", user_id=DESK_ID))

    refused, listed = [request.params["text"] for request in mocked_bot.requests_for("sendMessage")]
    assert "Only the order desk" in refused
    assert order.reference in listed and "message is &lt;too&gt; long" in listed
    assert "chat 21" in listed and "chat 22" not in listed
    mocked_bot.assert_no_violations()
