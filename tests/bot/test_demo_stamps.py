"""The demo's fast-forward delivers each digest at its moment, stamped with it, in order (issue 18)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from bot.demo import DemoRuntime, digest_times


async def test_digests_are_stamped_with_their_slot_and_arrive_in_order(tmp_path: Path) -> None:
    """Two working days forward: every digest passed carries its own slot's time, digests in slot order."""
    runtime = DemoRuntime(tmp_path / "demo")
    world = await runtime.start()
    try:
        zone = ZoneInfo(runtime.timezone)
        started = runtime.clock.now()
        await runtime.fast_forward("working_day")
        await runtime.fast_forward("working_day")
        passed = digest_times(started, runtime.clock.now(), runtime.timezone, (9, 15))
        assert len(passed) >= 2
        desk = next(team.chat for team in world.team_chats if team.key == "order_desk")
        digests = [
            desk.messages[key]
            for key in sorted(desk.messages)
            if str(desk.messages[key].get("text", "")).startswith("📋 Progress check")
        ]
        slots = [f"{moment.astimezone(zone):%Y-%m-%d %H}:00" for moment in passed]
        assert len(digests) == len(slots)
        for message, slot in zip(digests, slots, strict=True):
            assert message["text"].startswith(f"📋 Progress check {slot}:"), message["text"]
        stamps = [message["date"] for message in digests]
        assert stamps == [int(moment.timestamp()) for moment in passed]
        assert world.server.violations == []
    finally:
        await runtime.stop()
