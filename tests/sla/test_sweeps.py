"""SLA sweeps with a controlled clock on SQLite and PostgreSQL: alerts, escalation, digests (issue 6)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.services import Actor, pause_stage, resume_stage
from application.sla_sweeps import SlaSweeper
from domain.clock import FixedClock
from domain.orders.status import Action, Role
from domain.sla.alerts import EscalationLevel
from domain.sla.clocks import open_stage, sync_clocks
from domain.sla.policy import Stage
from presentation.sla_alerts import MAX_MESSAGE_CHARS
from presentation.sla_callbacks import parse_sla
from tests.sla.conftest import (
    FINANCE_CHAT,
    LOGISTICS_CHAT,
    MANAGEMENT_CHAT,
    ORDER_DESK_CHAT,
    SLA,
    WAREHOUSE_CHAT,
    UowFactory,
    outbox_rows,
    recorded_alerts,
    seed_clock,
    tracking_log,
)
from tests.storage.factories import make_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
SweeperFactory = Callable[..., SlaSweeper]
Sessions = async_sessionmaker[AsyncSession]


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """Builds a Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# Every stage started Monday 2026-03-16 10:00 in Shanghai: (warning at 80 %, due), worked out by hand
# from the table of REQUIREMENTS.md. 3wd is 27 business hours: Mon 8h + Tue 9h + Wed 9h + Thu 1h.
START = sh(2026, 3, 16, 10)
EXPECTED: dict[Stage, tuple[datetime, datetime]] = {
    Stage.ENTRY: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.ENTRY_URGENT: (sh(2026, 3, 16, 10, 24), sh(2026, 3, 16, 10, 30)),
    Stage.FIRST_REVIEW: (sh(2026, 3, 16, 11, 36), sh(2026, 3, 16, 12)),
    Stage.SECOND_REVIEW: (sh(2026, 3, 16, 13, 12), sh(2026, 3, 16, 14)),
    Stage.CONFIRMATION: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.PICKING: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
    Stage.PICKING_OVERSEAS: (sh(2026, 3, 16, 19, 36), sh(2026, 3, 16, 22)),
    Stage.OUTBOUND: (sh(2026, 3, 16, 14, 48), sh(2026, 3, 16, 16)),
    Stage.BOOKING: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
    Stage.CLEARANCE: (sh(2026, 3, 18, 0, 24), sh(2026, 3, 18, 10)),
    Stage.LAST_MILE: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
    Stage.CUSTOMER_NOTICE: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.CANCEL_CHECK: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.CANCEL_DONE: (sh(2026, 3, 16, 11, 36), sh(2026, 3, 16, 12)),
    Stage.REFUND: (sh(2026, 3, 18, 13, 36), sh(2026, 3, 19, 10)),
    Stage.MODIFICATION: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.DELAY_CAUSE: (sh(2026, 3, 16, 11, 36), sh(2026, 3, 16, 12)),
    Stage.DELAY_NOTICE: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.EVIDENCE: (sh(2026, 3, 16, 11, 36), sh(2026, 3, 16, 12)),
    Stage.CLAIM_CONTACT: (sh(2026, 3, 16, 10, 48), sh(2026, 3, 16, 11)),
    Stage.COMPENSATION: (sh(2026, 3, 18, 13, 36), sh(2026, 3, 19, 10)),
    Stage.EXCEPTION_RECORD: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
    Stage.COMPLETION: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
    Stage.SURVEY: (sh(2026, 3, 18, 13, 36), sh(2026, 3, 19, 10)),
    Stage.ARCHIVE: (sh(2026, 3, 22, 0, 24), sh(2026, 3, 23, 10)),
    Stage.CUSTOMER_REPLY: (sh(2026, 3, 16, 10, 2, 24), sh(2026, 3, 16, 10, 3)),
    # A claim's reship, 24 h wall-clock (issue 14).
    Stage.RESHIP: (sh(2026, 3, 17, 5, 12), sh(2026, 3, 17, 10)),
}
SECOND = timedelta(seconds=1)


async def seed_first_reviews(new_uow: UowFactory, count: int) -> None:
    """Stores orders whose first-review clocks started a minute apart from START."""
    async with new_uow() as uow:
        for minute in range(count):
            order = make_order(created_at=START)
            open_stage(order, Stage.FIRST_REVIEW, START + timedelta(minutes=minute), SLA)
            await uow.orders.add(order)
        await uow.commit()


def test_the_expectations_cover_every_stage() -> None:
    assert set(EXPECTED) == set(Stage)


async def test_each_stage_warns_at_80_percent_and_breaches_after_its_due_time(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    orders = {stage: await seed_clock(new_uow, stage, START) for stage in Stage}
    stage_of = {order.id: stage for stage, order in orders.items()}
    clock = FixedClock(START)
    sweeper = make_sweeper(clock)
    moments = sorted({m for warn, due in EXPECTED.values() for m in (warn - SECOND, warn, due, due + SECOND)})

    for moment in moments:
        clock.current = moment.astimezone(clock.current.tzinfo)
        await sweeper.sweep()
        alerts = {(stage_of[row.order_id], row.kind) for row in await recorded_alerts(session_factory)}
        expected = {(stage, "warning") for stage, (warn, _) in EXPECTED.items() if warn <= moment}
        expected |= {(stage, "breach") for stage, (_, due) in EXPECTED.items() if due < moment}
        assert alerts == expected, moment


@pytest.mark.parametrize(
    ("start", "warning", "due"),
    [
        # Friday 16:00 + 3wd: Fri 2h, Mon 9h, Tue 9h, Wed 7h; the weekend does not count.
        (sh(2026, 3, 13, 16), sh(2026, 3, 18, 10, 36), sh(2026, 3, 18, 16)),
        # National Day 2025 (Oct 1-8) is skipped and make-up Saturday Oct 11 is worked:
        # Tue Sep 30 3h, Thu Oct 9 9h, Fri Oct 10 9h, Sat Oct 11 6h.
        (sh(2025, 9, 30, 15), sh(2025, 10, 11, 9, 36), sh(2025, 10, 11, 15)),
    ],
    ids=["weekend", "national-day-and-make-up-saturday"],
)
async def test_working_day_limits_alert_on_business_time(
    new_uow: UowFactory,
    session_factory: Sessions,
    make_sweeper: SweeperFactory,
    start: datetime,
    warning: datetime,
    due: datetime,
) -> None:
    await seed_clock(new_uow, Stage.REFUND, start)
    clock = FixedClock(start)
    sweeper = make_sweeper(clock)
    seen = []
    for moment in (warning - SECOND, warning, due, due + SECOND):
        clock.current = moment.astimezone(clock.current.tzinfo)
        await sweeper.sweep()
        seen.append([row.kind for row in await recorded_alerts(session_factory)])

    assert seen == [[], ["warning"], ["warning"], ["warning", "breach"]]
    rows = await outbox_rows(session_factory)
    assert [row.chat_id for row in rows] == [FINANCE_CHAT, FINANCE_CHAT]


async def test_a_paused_clock_is_not_alerted_and_resuming_moves_the_breach(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    order = make_order(created_at=START)
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=frozenset({Role.SYSTEM}), now=START)
    sync_clocks(order, START, SLA)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    clock = FixedClock(START + timedelta(hours=1))
    desk = Actor(7, frozenset({Role.ORDER_DESK}))
    await pause_stage(new_uow(), order.id, desk, clock, reason="asked the customer for the invoice")
    sweeper = make_sweeper(clock)

    clock.advance(timedelta(hours=5))
    await sweeper.sweep()
    assert await recorded_alerts(session_factory) == []

    await resume_stage(new_uow(), order.id, desk, clock, SLA)  # paused 5h: due moves from 12:00 to 17:00
    clock.current = sh(2026, 3, 16, 17).astimezone(clock.current.tzinfo)
    await sweeper.sweep()
    assert [row.kind for row in await recorded_alerts(session_factory)] == ["warning"]
    clock.advance(SECOND)
    await sweeper.sweep()
    assert [row.kind for row in await recorded_alerts(session_factory)] == ["warning", "breach"]
    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
    assert [line.action for line in stored.audit][-2:] == ["pause_clock", "resume_clock"]


async def test_exactly_one_alert_per_stage_after_ten_sweeps_and_a_restart(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_clock(new_uow, Stage.FIRST_REVIEW, START)
    clock = FixedClock(START + timedelta(hours=1, minutes=40))  # past the warning
    sweeper = make_sweeper(clock)
    for _ in range(10):
        await sweeper.sweep()
        clock.advance(timedelta(seconds=3))
    clock.advance(timedelta(hours=1))  # past the due time
    for _ in range(10):
        await sweeper.sweep()
        clock.advance(timedelta(minutes=1))
    for _ in range(10):
        await make_sweeper(clock).sweep()  # a restarted process each time

    assert [row.kind for row in await recorded_alerts(session_factory)] == ["warning", "breach"]
    assert len(await outbox_rows(session_factory)) == 2


async def test_after_downtime_a_missed_breach_is_alerted_once_without_a_stale_warning(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_clock(new_uow, Stage.OUTBOUND, START)
    clock = FixedClock(START + timedelta(days=2))  # the bot was down through warning and due time

    reports = [await make_sweeper(clock).sweep() for _ in range(3)]

    assert [row.kind for row in await recorded_alerts(session_factory)] == ["breach"]
    assert [report.breaches for report in reports] == [1, 0, 0]
    (message,) = await outbox_rows(session_factory)
    assert "1d 18h late" in message.params["text"]


async def test_a_breach_message_names_order_stage_lateness_and_last_actor_with_buttons(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    order = await seed_clock(new_uow, Stage.BOOKING, START)
    clock = FixedClock(sh(2026, 3, 17, 12, 5))

    await make_sweeper(clock).sweep()

    (message,) = await outbox_rows(session_factory)
    (alert,) = await recorded_alerts(session_factory)
    text = message.params["text"]
    assert message.chat_id == LOGISTICS_CHAT and message.method == "sendMessage"
    assert message.dedup_key == f"sla:{order.id}:{alert.clock_id}:breach"
    assert f"order <b>{order.reference}</b>" in text
    assert "booking and customs declaration (logistics) is 2h 5m late (due 03-17 10:00)" in text
    assert "Last action: pass_validation" not in text  # the order was never passed on
    assert "Last action: none recorded" in text
    buttons = message.params["reply_markup"]["inline_keyboard"][0]
    assert [button["text"] for button in buttons] == ["Acknowledge", "Open order"]
    assert [parse_sla(button["callback_data"]) for button in buttons] == [
        parse_sla(f"sa:ack:{alert.id}"),
        parse_sla(f"sa:open:{order.id}"),
    ]


async def test_an_unacknowledged_breach_escalates_to_the_head_then_to_management(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    async with new_uow() as uow:
        await uow.staff.grant(71, Role.ORDER_DESK_HEAD, by=None, at=START)
        await uow.commit()
    await seed_clock(new_uow, Stage.PICKING, START)
    clock = FixedClock(sh(2026, 3, 17, 10, 1))
    sweeper = make_sweeper(clock)
    await sweeper.sweep()  # the breach, to the warehouse
    clock.advance(timedelta(minutes=29))
    await sweeper.sweep()
    assert len(await outbox_rows(session_factory)) == 1

    clock.advance(timedelta(minutes=1))
    await sweeper.sweep()
    clock.advance(timedelta(minutes=29))
    await sweeper.sweep()
    clock.advance(timedelta(minutes=1))
    await sweeper.sweep()
    clock.advance(timedelta(hours=3))
    await sweeper.sweep()

    rows = await outbox_rows(session_factory)
    (alert,) = [row for row in await recorded_alerts(session_factory) if row.kind == "breach"]
    assert [row.chat_id for row in rows] == [WAREHOUSE_CHAT, ORDER_DESK_CHAT, MANAGEMENT_CHAT]
    assert "order desk head" in rows[1].params["text"] and 'href="tg://user?id=71"' in rows[1].params["text"]
    assert "Escalation to management" in rows[2].params["text"]
    assert alert.escalation_level == EscalationLevel.MANAGEMENT


async def test_acknowledging_stops_the_escalation(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_clock(new_uow, Stage.PICKING, START)
    clock = FixedClock(sh(2026, 3, 17, 10, 1))
    sweeper = make_sweeper(clock)
    await sweeper.sweep()
    (alert,) = await recorded_alerts(session_factory)
    async with new_uow() as uow:
        assert await uow.sla.acknowledge([alert.id], 55, "Wang", clock.now()) == 1
        assert await uow.sla.acknowledge([alert.id], 56, "Zhao", clock.now()) == 0
        await uow.commit()

    clock.advance(timedelta(hours=2))
    await sweeper.sweep()

    assert len(await outbox_rows(session_factory)) == 1
    (alert,) = await recorded_alerts(session_factory)
    assert (alert.acknowledged_by_name, alert.escalation_level) == ("Wang", 0)


async def test_a_burst_of_200_breaches_in_one_chat_arrives_as_at_most_20_digest_messages(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_first_reviews(new_uow, 200)
    clock = FixedClock(START + timedelta(hours=6))

    report = await make_sweeper(clock).sweep()

    rows = await outbox_rows(session_factory)
    alerts = await recorded_alerts(session_factory)
    assert report.breaches == 200 and len(alerts) == 200
    assert 1 < len(rows) <= 20
    assert {row.chat_id for row in rows} == {ORDER_DESK_CHAT}
    assert all(len(row.params["text"]) <= MAX_MESSAGE_CHARS for row in rows)
    assert sum(row.params["text"].count("🚨 R-") for row in rows) == 200
    batches = {alert.batch for alert in alerts}
    assert None not in batches and len(batches) == len(rows)
    for row in rows:
        (button,) = row.params["reply_markup"]["inline_keyboard"][0]
        assert parse_sla(button["callback_data"]).value in batches  # type: ignore[union-attr]


async def test_a_burst_beyond_the_per_sweep_message_budget_waits_for_the_next_sweep(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_first_reviews(new_uow, 200)
    clock = FixedClock(START + timedelta(hours=6))
    sweeper = make_sweeper(clock, max_messages_per_chat=2)

    first = await sweeper.sweep()
    second = await sweeper.sweep()
    third = await sweeper.sweep()

    assert first.messages == 2 and first.deferred > 0
    assert first.breaches + second.breaches == 200 and first.deferred == second.breaches
    assert third.messages == 0
    assert len(await recorded_alerts(session_factory)) == 200


async def test_the_progress_digest_at_9_and_15_is_posted_and_logged_once_per_slot(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_clock(new_uow, Stage.FIRST_REVIEW, sh(2026, 3, 16, 6))  # due 08:00: overdue at 09:00
    await seed_clock(new_uow, Stage.PICKING, sh(2026, 3, 15, 13))  # due 03-16 13:00, at risk from 08:12
    await seed_clock(new_uow, Stage.OUTBOUND, sh(2026, 3, 16, 8))  # due 14:00: fine at 09:00
    clock = FixedClock(sh(2026, 3, 16, 9))
    sweeper = make_sweeper(clock)

    assert await sweeper.digest() is True
    assert await make_sweeper(clock).digest() is False  # another instance, the same slot
    clock.current = sh(2026, 3, 16, 15).astimezone(clock.current.tzinfo)
    assert await sweeper.digest() is True

    logs = await tracking_log(session_factory)
    assert [log.slot for log in logs] == ["2026-03-16T09:00", "2026-03-16T15:00"]
    morning, afternoon = (log.content for log in logs)
    assert (morning["overdue"], morning["at_risk"]) == (1, 1)
    assert morning["departments"]["order_desk"]["overdue"] == 1
    assert morning["departments"]["warehouse"]["at_risk"] == 1
    assert (afternoon["overdue"], afternoon["at_risk"]) == (3, 0)
    rows = await outbox_rows(session_factory)
    assert [row.chat_id for row in rows] == [ORDER_DESK_CHAT, ORDER_DESK_CHAT]
    assert rows[0].params["text"].startswith("📋 Progress check 2026-03-16 09:00: 1 overdue, 1 at risk.")
    assert "<b>warehouse</b>: 0 overdue, 1 at risk" in rows[0].params["text"]


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_only_one_instance_sweeps_while_another_holds_the_lock(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    await seed_clock(new_uow, Stage.FIRST_REVIEW, START)
    clock = FixedClock(START + timedelta(hours=3))
    async with new_uow() as holder:
        assert await holder.sla.try_lock_sweep() is True
        blocked = await make_sweeper(clock).sweep()
        assert blocked.locked is False
    assert await recorded_alerts(session_factory) == []

    reports = await asyncio.gather(*(make_sweeper(clock).sweep() for _ in range(4)))

    assert sum(report.breaches for report in reports) == 1
    assert [row.kind for row in await recorded_alerts(session_factory)] == ["breach"]
    assert len(await outbox_rows(session_factory)) == 1


async def test_a_breach_names_who_acted_last_by_their_staff_name(
    new_uow: UowFactory, session_factory: Sessions, make_sweeper: SweeperFactory
) -> None:
    order = make_order(created_at=START.astimezone(UTC))
    order.note("goods counted", actor_id=7004, role=Role.WAREHOUSE, now=START, action="outbound_scan")
    open_stage(order, Stage.BOOKING, START.astimezone(UTC), SLA)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.reviews.remember_name(7004, "Wang <Wei>", START)
        await uow.commit()

    await make_sweeper(FixedClock(sh(2026, 3, 17, 12, 5))).sweep()

    (message,) = await outbox_rows(session_factory)
    assert (
        'Last action: outbound scan by <a href="tg://user?id=7004">Wang &lt;Wei&gt;</a> (warehouse)'
        in (message.params["text"])
    )
