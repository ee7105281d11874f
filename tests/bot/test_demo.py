"""The composition root's injected clock and stop event, and the demo runtime built on them (issue 7)."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import run
from bot.demo import CUSTOMERS, STAFF, TEAM_CHATS, DemoRuntime, demo_settings, digest_times
from domain.clock import FixedClock
from domain.orders.status import Role
from sandbox.server import run_fake_bot_api
from storage.database import create_engine, create_session_factory
from storage.models import StaffRoleRow
from storage.uow import SqlUnitOfWork


async def test_run_uses_the_injected_clock_and_stops_when_told(tmp_path: Path) -> None:
    """run(clock=...) stamps the admin bootstrap with the injected time; setting `stop` ends polling."""
    moment = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)
    frozen_before = gc.get_freeze_count()
    async with run_fake_bot_api() as server:
        settings = demo_settings(server.base_url, tmp_path / "bot.sqlite3")
        stop = asyncio.Event()
        task = asyncio.create_task(run(settings, clock=FixedClock(moment), stop=stop))
        await server.wait_for_call("getUpdates", timeout=30)
        # What start-up built is out of the full collections' way before the first update (issue 17).
        frozen = gc.get_freeze_count()
        stop.set()
        await asyncio.wait_for(task, 15)
        assert server.violations == []
    gc.unfreeze()
    assert frozen > frozen_before
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows = (await session.execute(select(StaffRoleRow))).scalars().all()
    finally:
        await engine.dispose()
    assert [(row.user_id, row.role) for row in rows] == [(settings.admin_ids[0], Role.ADMIN.value)]
    assert rows[0].granted_at.replace(tzinfo=UTC) == moment


async def test_demo_runtime_casts_configures_fast_forwards_and_resets(tmp_path: Path) -> None:
    """Every role is granted, the team chats are the configured ones, the clock jumps, Reset starts over."""
    runtime = DemoRuntime(tmp_path / "demo")
    world = await runtime.start()
    try:
        server = world.server
        assert runtime.status == "running"
        assert {(team.key, team.chat.id) for team in world.team_chats} == {
            (spec.key, spec.chat_id) for spec in TEAM_CHATS
        }
        assert {person.user.id for person in world.people} == {m.user_id for m in CUSTOMERS + STAFF}
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'demo' / 'orderdesk.sqlite3'}")
        try:
            async with SqlUnitOfWork(create_session_factory(engine)) as uow:
                granted = await uow.staff.list_all()
        finally:
            await engine.dispose()
        assert {role for roles in granted.values() for role in roles} == {m.role for m in STAFF}

        logistics = server.users[7_005]
        logistics_chat = next(team.chat for team in world.team_chats if team.key == "logistics")
        server.send_text(logistics, logistics_chat, "/start")
        greeting = await server.wait_for_bot_message(logistics_chat, timeout=10)
        assert "You work here as: logistics" in greeting["text"]

        started = before = runtime.clock.now()
        await runtime.fast_forward("hour")
        assert timedelta(minutes=59) < runtime.clock.now() - before < timedelta(minutes=61)
        before = runtime.clock.now()
        await runtime.fast_forward("working_day")
        assert runtime.clock.now() - before >= timedelta(hours=9)
        # Nine business hours always pass a 09:00 or a 15:00: the order desk gets that progress check
        # right away, stamped with its own slot, not the time the clock landed on.
        passed = digest_times(started, runtime.clock.now(), runtime.timezone, (9, 15))
        assert passed
        desk = next(team.chat for team in world.team_chats if team.key == "order_desk")
        for moment in passed:
            slot = f"{moment.astimezone(ZoneInfo(runtime.timezone)):%Y-%m-%d %H}:00"
            digest = await server.wait_for_bot_message(desk, timeout=10)
            assert digest["text"].startswith(f"📋 Progress check {slot}:"), digest["text"]

        fresh = await runtime.reset()
        assert fresh.server is not server
        assert all(not team.chat.messages for team in fresh.team_chats)
        assert abs(runtime.clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
        assert runtime.status == "running"
        emma = fresh.server.users[CUSTOMERS[0].user_id]
        fresh.server.send_text(emma, None, "/start")
        assert "Welcome" in (await fresh.server.wait_for_bot_message(emma.id, timeout=10))["text"]
        assert fresh.server.violations == []
    finally:
        await runtime.stop()
    assert runtime.status == "stopped"


def test_digest_times_are_the_nine_and_three_oclocks_passed() -> None:
    """Every 09:00 and 15:00 (company time, weekends too, as the cron job runs) after start, up to end."""
    shanghai = ZoneInfo("Asia/Shanghai")
    friday_afternoon = datetime(2026, 11, 27, 14, 30, tzinfo=shanghai)
    monday_nine = datetime(2026, 11, 30, 9, 0, tzinfo=shanghai)
    expected = [
        datetime(2026, 11, day, hour, tzinfo=shanghai)
        for day, hour in ((27, 15), (28, 9), (28, 15), (29, 9), (29, 15), (30, 9))
    ]
    passed = digest_times(friday_afternoon, monday_nine, "Asia/Shanghai", (15, 9))
    assert passed == expected
    assert {moment.tzinfo for moment in passed} == {UTC}
    assert digest_times(monday_nine, monday_nine + timedelta(hours=5), "Asia/Shanghai", (9, 15)) == []
    assert digest_times(monday_nine, monday_nine + timedelta(hours=6), "Asia/Shanghai", (9, 15)) == [
        datetime(2026, 11, 30, 15, tzinfo=shanghai)
    ]
    assert digest_times(friday_afternoon, monday_nine, "Asia/Shanghai", ()) == []
