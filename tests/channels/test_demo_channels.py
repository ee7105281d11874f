"""The demo shows what customers and platforms receive (issue 12): a shop order reaches the webhook log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.demo import DemoRuntime
from sandbox.channels import ChannelsPage


async def test_a_platform_order_from_the_demo_page_shows_a_signed_webhook_and_a_chat_link(
    tmp_path: Path,
) -> None:
    runtime = DemoRuntime(tmp_path / "demo")
    await runtime.start()
    try:
        answer = await runtime.place_platform_order()
        for _ in range(200):
            if runtime.webhooks.calls:
                break
            await asyncio.sleep(0.05)
        page = ChannelsPage(runtime.mailbox, runtime.webhooks).render()
    finally:
        await runtime.stop()

    assert answer["http_status"] == 201, answer
    assert str(answer["telegram_link"]).startswith("https://t.me/orderdesk_demo_bot?start=")
    [call] = runtime.webhooks.calls
    assert call.signature_valid and json.loads(call.body)["type"] == "order.pending_review"
    assert "Webhook calls (1)" in page and "signature valid" in page and "Mailbox (0)" in page
