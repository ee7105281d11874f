"""One bad row does not block the other alerts of a sweep; the sweep completes cancelled orders (R-7.1).

On PostgreSQL the sweep tells its chats side by side, each chat's messages in order (issue 17).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.notifications import notices_for
from application.notifier import ChatLanguageLookup
from application.ports import UnitOfWork
from application.sla_sweep_settings import SweepSettings
from application.sla_sweeps import SlaSweeper
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.alerts import DueClock, NewAlert
from domain.sla.clocks import sync_clocks
from domain.sla.policy import Stage
from handlers.my_orders import summary_line
from presentation.sla_alerts import Render, SlaAlertTexts
from storage.database import parallel_writers
from storage.order_repository import SqlOrderRepository
from storage.sla_repository import SqlSlaRepository
from storage.uow import SqlUnitOfWork
from tests.sla.conftest import (
    LOGISTICS_CHAT,
    ORDER_DESK_CHAT,
    SLA,
    TEAM_CHATS,
    WAREHOUSE_CHAT,
    UowFactory,
    outbox_rows,
    recorded_alerts,
    seed_clock,
)
from tests.storage.factories import make_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 16, 10, tzinfo=SHANGHAI)
Sessions = async_sessionmaker[AsyncSession]


class BadRowSla(SqlSlaRepository):
    """Fails, as a broken row would, in the database while recording the alert of one clock."""

    def __init__(self, session: AsyncSession, bad_clock_id: int | None) -> None:
        super().__init__(session)
        self.bad_clock_id = bad_clock_id

    async def record_alert(self, alert: NewAlert) -> int | None:
        """Records the alert, except for the bad clock's, whose statement fails in the database."""
        if alert.clock_id == self.bad_clock_id:
            await self._session.execute(text("SELECT * FROM no_such_table"))
        return await super().record_alert(alert)

    async def record_alerts(self, alerts: Sequence[NewAlert]) -> list[int | None]:
        """Records the alerts in one statement, which fails in the database with the bad clock among them."""
        if any(alert.clock_id == self.bad_clock_id for alert in alerts):
            await self._session.execute(text("SELECT * FROM no_such_table"))
        return await super().record_alerts(alerts)


class BadRowOrders(SqlOrderRepository):
    """Fails to load one order, as a broken row would."""

    def __init__(self, session: AsyncSession, bad_order_id: str | None) -> None:
        super().__init__(session)
        self.bad_order_id = bad_order_id

    async def get(self, order_id: str) -> Order:
        """Loads the order, except the bad one."""
        if order_id == self.bad_order_id:
            await self._session.execute(text("SELECT * FROM no_such_table"))
        return await super().get(order_id)


class BadRowUnitOfWork(SqlUnitOfWork):
    """A unit of work whose SLA and order repositories each may have one bad row."""

    def __init__(self, sessions: Sessions, *, clock_id: int | None, order_id: str | None) -> None:
        self.bad_clock_id, self.bad_order_id = clock_id, order_id
        super().__init__(sessions)

    def _bind_repositories(self, session: AsyncSession) -> None:
        """Binds the repositories, two of them with their bad row."""
        super()._bind_repositories(session)
        self.sla = BadRowSla(session, self.bad_clock_id)
        self.orders = self._orders = BadRowOrders(session, self.bad_order_id)


class BadRowTexts(SlaAlertTexts):
    """Writes every alert but one order's, whose text raises."""

    def __init__(self, render: Render, bad_order_ref: str) -> None:
        super().__init__(render, zone=SLA.calendar.zone)
        self.bad_order_ref = bad_order_ref

    def alert(self, kind: Any, due: DueClock, department: Role, alert_id: int, now: datetime) -> Any:
        """Writes the alert, or fails for the bad order."""
        if due.order_ref == self.bad_order_ref:
            raise KeyError("a translation with a wrong placeholder")
        return super().alert(kind, due, department, alert_id, now)

    def alert_line(self, kind: Any, due: DueClock, now: datetime) -> str:
        """Writes the line, or fails for the bad order."""
        if due.order_ref == self.bad_order_ref:
            raise KeyError("a translation with a wrong placeholder")
        return super().alert_line(kind, due, now)


def sweeper(uow_factory: Callable[[], UnitOfWork], clock: FixedClock, texts: SlaAlertTexts) -> SlaSweeper:
    """A sweeper on the given units of work."""
    return SlaSweeper(
        uow_factory=uow_factory,
        clock=clock,
        sla=SLA,
        team_chats=TEAM_CHATS,
        texts=texts,
        settings=SweepSettings(),
    )


def bad_rows(
    session_factory: Sessions, *, clock_id: int | None = None, order_id: str | None = None
) -> Callable[[], SqlUnitOfWork]:
    """Makes units of work with the given bad rows."""
    return lambda: BadRowUnitOfWork(session_factory, clock_id=clock_id, order_id=order_id)


async def clock_ids(session_factory: Sessions) -> dict[str, int]:
    """The id of each stored clock by its order id."""
    async with session_factory() as session:
        rows = await session.execute(text("SELECT order_id, id FROM order_clocks"))
        return {order_id: clock_id for order_id, clock_id in rows.all()}


async def test_an_alert_the_database_refuses_does_not_block_the_others(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    picking = await seed_clock(new_uow, Stage.PICKING, START)
    booking = await seed_clock(new_uow, Stage.BOOKING, START)
    review = await seed_clock(new_uow, Stage.FIRST_REVIEW, START)
    clock = FixedClock(START + timedelta(days=2))
    ids = await clock_ids(session_factory)

    report = await sweeper(
        bad_rows(session_factory, clock_id=ids[booking.id]),
        clock,
        SlaAlertTexts(render, zone=SLA.calendar.zone),
    ).sweep()

    assert {row.order_id for row in await recorded_alerts(session_factory)} == {picking.id, review.id}
    assert sorted(row.chat_id for row in await outbox_rows(session_factory)) == sorted(
        [WAREHOUSE_CHAT, ORDER_DESK_CHAT]
    )
    assert (report.breaches, report.failed) == (2, 1)
    # The bad row was left for the next sweep, which records it once it can.
    again = await sweeper(new_uow, clock, SlaAlertTexts(render, zone=SLA.calendar.zone)).sweep()
    assert again.breaches == 1
    assert LOGISTICS_CHAT in {row.chat_id for row in await outbox_rows(session_factory)}


async def test_in_a_merged_message_the_bad_alert_is_left_out_and_the_rest_sent(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    orders = [await seed_clock(new_uow, Stage.FIRST_REVIEW, START + timedelta(minutes=m)) for m in range(30)]
    ids = await clock_ids(session_factory)
    clock = FixedClock(START + timedelta(hours=6))

    report = await sweeper(
        bad_rows(session_factory, clock_id=ids[orders[7].id]),
        clock,
        SlaAlertTexts(render, zone=SLA.calendar.zone),
    ).sweep()

    alerts = await recorded_alerts(session_factory)
    assert len(alerts) == 29 and orders[7].id not in {alert.order_id for alert in alerts}
    (message,) = await outbox_rows(session_factory)
    assert message.params["text"].startswith("🚨 29 SLA alerts at once (1 of 1):")
    assert orders[7].reference not in message.params["text"]
    assert (report.breaches, report.failed) == (29, 1)


async def test_an_alert_whose_text_fails_does_not_block_the_others(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    bad = await seed_clock(new_uow, Stage.PICKING, START)
    good = await seed_clock(new_uow, Stage.BOOKING, START)
    clock = FixedClock(START + timedelta(days=2))

    report = await sweeper(new_uow, clock, BadRowTexts(render, bad.reference)).sweep()

    # Writing the text fails inside the transaction, so the bad alert is not recorded either.
    assert [row.order_id for row in await recorded_alerts(session_factory)] == [good.id]
    assert [row.chat_id for row in await outbox_rows(session_factory)] == [LOGISTICS_CHAT]
    assert (report.breaches, report.failed) == (1, 1)


async def test_a_clock_of_a_stage_the_policy_does_not_know_is_skipped(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    strange = make_order(created_at=START)
    strange.open_clock("retired_stage", started_at=START, due_at=START + timedelta(hours=1))
    async with new_uow() as uow:
        await uow.orders.add(strange)
        await uow.commit()
    good = await seed_clock(new_uow, Stage.PICKING, START)
    clock = FixedClock(START + timedelta(days=2))

    report = await sweeper(new_uow, clock, SlaAlertTexts(render, zone=SLA.calendar.zone)).sweep()

    assert [row.order_id for row in await recorded_alerts(session_factory)] == [good.id]
    assert (report.breaches, report.failed) == (1, 1)


async def cancelled_order(new_uow: UowFactory, at: datetime) -> Order:
    """Stores an order its customer cancelled during review, with its completion clock running."""
    order = make_order(created_at=at, status=OrderStatus.PENDING_REVIEW)
    order.apply(
        Action.CANCEL, actor_id=order.customer.telegram_user_id, roles=frozenset({Role.CUSTOMER}), now=at
    )
    sync_clocks(order, at, SLA)
    order.pull_events()
    assert [(clock.stage, clock.running) for clock in order.clocks] == [("completion", True)]
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return order


async def test_the_sweep_completes_cancelled_orders_and_closes_their_completion_clock(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    order = await cancelled_order(new_uow, START)
    clock = FixedClock(START + timedelta(minutes=1))
    sweeps = sweeper(new_uow, clock, SlaAlertTexts(render, zone=SLA.calendar.zone))

    first = await sweeps.sweep()
    second = await sweeps.sweep()

    assert (first.completed, second.completed) == (1, 0)
    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
    assert stored.status is OrderStatus.COMPLETED
    ((stage, finished, met),) = [(c.stage, c.finished_at, c.met) for c in stored.clocks if not c.running]
    assert (stage, finished, met) == ("completion", clock.now(), True)
    # The completion opens the survey and archive clocks, which the after-sales sweep closes (issue 15).
    assert sorted(c.stage for c in stored.clocks if c.running) == ["archive", "survey"]
    last = stored.audit[-1]
    assert (last.action, last.actor_role, last.from_status) == (
        "complete",
        Role.SYSTEM,
        OrderStatus.CANCELLED,
    )
    # No message goes out about the bookkeeping.
    assert await outbox_rows(session_factory) == []
    assert await recorded_alerts(session_factory) == []


async def test_a_cancelled_order_that_cannot_be_loaded_does_not_stop_the_others(
    new_uow: UowFactory, session_factory: Sessions, render: Render
) -> None:
    bad = await cancelled_order(new_uow, START)
    good = await cancelled_order(new_uow, START + timedelta(seconds=1))
    clock = FixedClock(START + timedelta(minutes=1))

    report = await sweeper(
        bad_rows(session_factory, order_id=bad.id), clock, SlaAlertTexts(render, zone=SLA.calendar.zone)
    ).sweep()

    assert (report.completed, report.failed) == (1, 1)
    async with new_uow() as uow:
        assert (await uow.orders.get(good.id)).status is OrderStatus.COMPLETED
        assert (await uow.orders.get(bad.id)).status is OrderStatus.CANCELLED


def test_a_completed_cancellation_reads_as_cancelled_and_tells_the_customer_nothing() -> None:
    """R-7.1: the sweep's completion of a cancelled order is bookkeeping, not news for the customer."""
    order = make_order(created_at=START, status=OrderStatus.PENDING_REVIEW)
    roles = frozenset({Role.CUSTOMER})
    order.apply(Action.CANCEL, actor_id=order.customer.telegram_user_id, roles=roles, now=START)
    order.apply(Action.COMPLETE, actor_id=None, roles=frozenset({Role.SYSTEM}), now=START)
    completed = order.pull_events()[-1]

    assert notices_for(completed, order) == []
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        assert "cancel" in summary_line(order, "Asia/Shanghai")


# Alerts per chat: enough for several merged messages each.
PER_CHAT = 150
STAGE_CHATS = {
    Stage.FIRST_REVIEW: ORDER_DESK_CHAT,
    Stage.PICKING: WAREHOUSE_CHAT,
    Stage.BOOKING: LOGISTICS_CHAT,
}


class OpenUnits:
    """Counts the units of work open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0

    def factory(self, session_factory: Sessions) -> UowFactory:
        """Makes units of work on the database that count themselves while open."""
        counter = self

        class Counted(SqlUnitOfWork):
            async def __aenter__(self) -> Counted:
                await super().__aenter__()
                counter.open += 1
                counter.peak = max(counter.peak, counter.open)
                return self

            async def __aexit__(
                self,
                kind: type[BaseException] | None,
                error: BaseException | None,
                trace: TracebackType | None,
            ) -> None:
                counter.open -= 1
                await super().__aexit__(kind, error, trace)

        return lambda: Counted(session_factory)


def sweeper_of(
    uow_factory: UowFactory,
    render: Render,
    parallel_chats: int,
    chat_language: ChatLanguageLookup | None = None,
) -> SlaSweeper:
    """A sweeper two days after START, telling up to parallel_chats chats at once."""
    texts = SlaAlertTexts(render, zone=SLA.calendar.zone)
    return SlaSweeper(
        uow_factory=uow_factory,
        clock=FixedClock(START + timedelta(days=2)),
        sla=SLA,
        team_chats=TEAM_CHATS,
        texts=texts,
        settings=SweepSettings(parallel_chats=parallel_chats),
        chat_language=chat_language,
        texts_in=lambda _language: texts,
    )


async def seed_three_chats(new_uow: UowFactory) -> None:
    """Overdue clocks for the order desk, the warehouse and logistics, PER_CHAT each."""
    for stage in STAGE_CHATS:
        for minute in range(PER_CHAT):
            await seed_clock(new_uow, stage, START + timedelta(minutes=minute))


def test_postgresql_tells_chats_side_by_side_and_sqlite_one_after_another() -> None:
    assert parallel_writers("postgresql+asyncpg://postgres@127.0.0.1:5432/test") == 4
    assert parallel_writers("sqlite+aiosqlite:///orderdesk.sqlite3") == 1


async def test_every_chat_gets_its_alerts_in_order_when_chats_are_told_at_once(
    new_uow: UowFactory, session_factory: Sessions, render: Render, database_url: str
) -> None:
    await seed_three_chats(new_uow)
    units = OpenUnits()
    parallel = parallel_writers(database_url)

    report = await sweeper_of(units.factory(session_factory), render, parallel).sweep()

    assert (report.breaches, report.failed) == (3 * PER_CHAT, 0)
    assert len(await recorded_alerts(session_factory)) == 3 * PER_CHAT
    messages = await outbox_rows(session_factory)
    for chat_id in STAGE_CHATS.values():
        parts = [
            re.search(r"\((\d+) of (\d+)\)", row.params["text"]) for row in messages if row.chat_id == chat_id
        ]
        numbered = [(int(found[1]), int(found[2])) for found in parts if found]
        # The chat's merged messages were queued in their order: part 1 of n first.
        assert len(numbered) == len(parts) >= 2
        assert numbered == [(part, len(parts)) for part in range(1, len(parts) + 1)]
    # The sweep's lock keeps a unit of work open; beside it, one per chat told at the same time.
    assert units.peak == 1 + min(parallel, len(STAGE_CHATS))


async def test_a_chat_whose_language_cannot_be_read_does_not_stop_the_others(
    new_uow: UowFactory, session_factory: Sessions, render: Render, database_url: str
) -> None:
    await seed_three_chats(new_uow)

    async def language_of(_uow: UnitOfWork, chat_id: int) -> str | None:
        if chat_id == WAREHOUSE_CHAT:
            raise LookupError("the chat settings row cannot be read")
        return None

    report = await sweeper_of(
        new_uow,
        render,
        parallel_writers(database_url),
        chat_language=language_of,
    ).sweep()

    told = {row.chat_id for row in await outbox_rows(session_factory)}
    assert told == {ORDER_DESK_CHAT, LOGISTICS_CHAT}
    assert (report.breaches, report.failed) == (2 * PER_CHAT, 1)
    # The warehouse's alerts wait for the next sweep, which can read the chat's language again.
    again = await sweeper_of(new_uow, render, parallel_writers(database_url)).sweep()
    assert again.breaches == PER_CHAT
