"""The 1-hour "customer told" clock (issue 12, R-5.2): opened by each customer notice, closed on delivery."""

from __future__ import annotations

from datetime import timedelta

from application.customer_channels import EMAIL_METHOD, WEBHOOK_METHOD, record_delivery
from application.ports import ApiOrderLink, OutboxMessage
from application.services import EventHandlers
from application.sla_sweeps import SlaSweeper
from bot.i18n import PoI18n
from domain.clock import FixedClock
from domain.orders.model import Order, StageClock
from domain.orders.status import OrderStatus
from domain.sla.policy import Stage
from presentation.sla_alerts import SlaAlertTexts, render_with
from tests.channels.conftest import (
    CHAT,
    PLATFORM,
    SLA,
    T0,
    change,
    customer_order,
    outbox_rows,
    store,
    stored_order,
)
from tests.fakes import FakeDatabase

CUSTOMER_SERVICE_CHAT = -1004


def told_clocks(database: FakeDatabase, order: Order) -> list[StageClock]:
    """The order's customer_notice clocks as committed."""
    [stored] = [o for o in database.orders if o.id == order.id]
    return [clock for clock in stored.clocks if clock.stage == Stage.CUSTOMER_NOTICE.value]


async def test_a_customer_facing_change_opens_the_clock_and_the_emails_delivery_closes_it(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=None)
    await change(database, handlers, order, OrderStatus.PICKED)
    [clock] = told_clocks(database, order)
    assert (clock.started_at, clock.due_at, clock.running) == (T0, T0 + timedelta(hours=1), True)

    [mail] = outbox_rows(database, EMAIL_METHOD)
    closed = await record_delivery(database.unit_of_work(), mail, T0 + timedelta(minutes=3), SLA)

    [clock] = told_clocks(database, order)
    assert closed and clock.finished_at == T0 + timedelta(minutes=3) and clock.met is True


async def test_only_the_customers_own_chat_and_a_notice_of_a_later_change_close_it(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=CHAT)
    await change(database, handlers, order, OrderStatus.PICKED)
    [update] = database.outbox_of(CHAT)
    team_card = OutboxMessage(-1002, "sendMessage", {}, T0, order_id=order.id)
    older = OutboxMessage(CHAT, "sendMessage", {}, T0 - timedelta(minutes=1), order_id=order.id)
    stranger = OutboxMessage(777, "sendMessage", {}, T0, order_id=order.id)

    for message in (team_card, older, stranger):
        assert not await record_delivery(database.unit_of_work(), message, T0, SLA)
    assert told_clocks(database, order)[0].running
    assert await record_delivery(database.unit_of_work(), update, T0 + timedelta(seconds=2), SLA)
    assert not told_clocks(database, order)[0].running


async def test_a_platforms_webhook_delivery_counts_as_telling_the_customer(
    database: FakeDatabase, handlers: EventHandlers, platform_orders: dict[str, ApiOrderLink]
) -> None:
    order = customer_order(chat=None, email=None)
    platform_orders[order.id] = ApiOrderLink(PLATFORM, order.id, T0)
    await store(database, order)
    await change(database, handlers, order, OrderStatus.OUTBOUND)

    [hook] = outbox_rows(database, WEBHOOK_METHOD)
    assert await record_delivery(database.unit_of_work(), hook, T0 + timedelta(minutes=1), SLA)


async def test_internal_changes_open_no_clock(database: FakeDatabase, handlers: EventHandlers) -> None:
    order = await stored_order(database, chat=CHAT)

    await change(database, handlers, order, OrderStatus.PENDING_REVIEW)

    assert told_clocks(database, order) == []


async def test_a_customer_nobody_can_reach_becomes_an_alert_to_customer_service(
    database: FakeDatabase, handlers: EventHandlers, i18n: PoI18n
) -> None:
    order = await stored_order(database, chat=None, email=None)
    await change(database, handlers, order, OrderStatus.PICKED)
    assert told_clocks(database, order)[0].running
    texts = SlaAlertTexts(
        render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)), zone=SLA.calendar.zone
    )
    sweeper = SlaSweeper(
        uow_factory=database.unit_of_work,
        clock=FixedClock(T0 + timedelta(hours=1, minutes=1)),
        sla=SLA,
        team_chats={"customer_service": CUSTOMER_SERVICE_CHAT, "order_desk": -1001},
        texts=texts,
    )

    await sweeper.sweep()

    [alert] = database.outbox_of(CUSTOMER_SERVICE_CHAT)
    assert "customer told of status change" in alert.params["text"]
    assert order.reference in alert.params["text"]
