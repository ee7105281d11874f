"""End to end (issue 6, R-3.1, R-5.1): an unreviewed order breaches its 1-minute first review in the real bot.

The bot process runs with `first_review = "1m"`, a sweep every 5 s and ESCALATE_AFTER=1m. Two
platform orders go unreviewed: order A's breach alert is acknowledged by order-desk staff and never
escalates; order B, the control, placed 22 s later and left alone, escalates to the order-desk
head. The 22 s keep the two orders' warnings, breaches and escalations in different sweeps: at a
5 s sweep a group may get one message per sweep, so alerts sharing a sweep would be merged into one
digest. The test takes about 2.5 minutes.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from api.openapi import ORDER_EXAMPLE
from sandbox.server import FakeBotApi, Json
from tests.e2e.conftest import BotProcess, free_port, post_order

pytestmark = pytest.mark.e2e

StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]

API_KEY = "key-shop-0123456789"
SWEEP_SECONDS = 5
ESCALATE_AFTER_SECONDS = 60
FIRST_REVIEW_SECONDS = 60
CONTROL_DELAY = 22
POLICY = """\
[limits]
first_review = "1m"
"""


async def place_order(port: int, external_ref: str) -> tuple[str, float]:
    """Submits a valid order through the platform API; returns its reference and when it was accepted."""
    body = copy.deepcopy(ORDER_EXAMPLE)
    body["external_ref"] = external_ref
    document = await post_order(port, API_KEY, body)
    assert document["status"] == "pending_review"
    return str(document["reference"]), time.monotonic()


def sent_texts(telegram: FakeBotApi, chat_id: int) -> list[str]:
    """The texts of every message the bot sent (not edited) to a chat, as first sent."""
    return [
        output.message.get("text", "")
        for output in telegram.outputs
        if output.chat_id == chat_id and output.kind == "sent"
    ]


def about(reference: str, kind: str) -> Callable[[Json], bool]:
    """Matches a message of the kind ("SLA breach", "SLA warning", "Escalation") about the order."""
    return lambda message: kind in message.get("text", "") and reference in message.get("text", "")


async def test_an_unreviewed_order_breaches_once_and_acknowledging_stops_the_escalation(
    telegram: FakeBotApi, start_bot: StartBot, tmp_path: Path
) -> None:
    policy_file = tmp_path / "sla_policy.toml"
    policy_file.write_text(POLICY, encoding="utf-8")
    admin = telegram.create_user("Ada Admin")
    clerk = telegram.create_user("Chen Clerk")
    customer = telegram.create_user("Carl Customer")
    desk = telegram.create_group("Order desk", [admin, clerk, customer])
    management = telegram.create_group("Management", [admin])
    api_port = free_port()
    await start_bot(
        SLA_POLICY_FILE=str(policy_file),
        SLA_SWEEP_SECONDS=str(SWEEP_SECONDS),
        ESCALATE_AFTER=f"{ESCALATE_AFTER_SECONDS // 60}m",
        ORDER_DESK_CHAT_ID=str(desk.id),
        MANAGEMENT_CHAT_ID=str(management.id),
        ADMIN_IDS=str(admin.id),
        API_PORT=str(api_port),
        API_KEYS=f"shop:{API_KEY}",
        LOG_LEVEL="INFO",
    )
    # The platform API is up before long polling starts.
    await telegram.wait_for_call("getUpdates", timeout=30)
    telegram.send_text(admin, desk, f"/staff add {clerk.id} order_desk")
    granted = await telegram.wait_for_bot_message(desk, lambda m: str(clerk.id) in m.get("text", ""), 20)
    assert "is now" in granted["text"]

    order_a, placed_a = await place_order(api_port, "SHOP-SLA-A")
    await telegram.wait_for_bot_message(desk, lambda m: order_a in m.get("text", ""), timeout=60)
    await asyncio.sleep(CONTROL_DELAY)
    order_b, _ = await place_order(api_port, "SHOP-SLA-B")
    await telegram.wait_for_bot_message(desk, lambda m: order_b in m.get("text", ""), timeout=60)

    breach_a = await telegram.wait_for_bot_message(desk, about(order_a, "SLA breach"), timeout=100)
    breach_after = time.monotonic() - placed_a
    assert FIRST_REVIEW_SECONDS <= breach_after <= FIRST_REVIEW_SECONDS + 3 * SWEEP_SECONDS
    assert "stage first review (order desk)" in breach_a["text"] and "Last action:" in breach_a["text"]
    buttons = [b["text"] for row in breach_a["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Acknowledge", "Open order"]

    refused = telegram.press_button(customer, breach_a, text="Acknowledge")
    assert "can acknowledge" in (await telegram.wait_for_callback_answer(refused, timeout=60)).get("text", "")
    query = telegram.press_button(clerk, breach_a, text="Acknowledge")
    answer = await telegram.wait_for_callback_answer(query, timeout=60)
    assert answer.get("text") == "Acknowledged; the escalation is stopped."
    acknowledged = await telegram.wait_for_bot_message(
        desk, lambda m: m["message_id"] == breach_a["message_id"], timeout=20
    )
    assert "✅ Acknowledged by Chen Clerk at" in acknowledged["text"]
    kept = [b["text"] for row in acknowledged["reply_markup"]["inline_keyboard"] for b in row]
    assert kept == ["Open order"]

    # The control: order B's breach, left unacknowledged, escalates after ESCALATE_AFTER.
    await telegram.wait_for_bot_message(desk, about(order_b, "SLA breach"), timeout=60)
    breach_b_at = time.monotonic()
    escalation_b = await telegram.wait_for_bot_message(desk, about(order_b, "Escalation"), timeout=100)
    escalated_after = time.monotonic() - breach_b_at
    assert ESCALATE_AFTER_SECONDS - SWEEP_SECONDS <= escalated_after
    assert escalated_after <= ESCALATE_AFTER_SECONDS + 3 * SWEEP_SECONDS
    assert "order desk head" in escalation_b["text"] and "nobody has acknowledged" in escalation_b["text"]
    # Order A's escalation was due one ESCALATE_AFTER after its breach, some 22 s before B's; two more
    # sweeps leave no doubt.
    await asyncio.sleep(2 * SWEEP_SECONDS)

    desk_texts = sent_texts(telegram, desk.id)
    for reference in (order_a, order_b):
        assert len([t for t in desk_texts if about(reference, "SLA warning")({"text": t})]) == 1, desk_texts
        assert len([t for t in desk_texts if about(reference, "SLA breach")({"text": t})]) == 1, desk_texts
    assert not [t for t in desk_texts if about(order_a, "Escalation")({"text": t})], desk_texts
    assert len([t for t in desk_texts if about(order_b, "Escalation")({"text": t})]) == 1, desk_texts
    assert not [t for t in desk_texts if "SLA alerts at once" in t], "alerts were merged into a digest"
    assert not [t for t in sent_texts(telegram, management.id) if order_a in t]
