"""One platform order from placement to confirmation, told on every channel (issue 12, R-1.1, R-3.3, R-5.2).

The real bot process, the loopback Bot API, a real SMTP server (aiosmtpd) and an HTTP receiver for
the platform's webhooks: the confirmation email arrives with its PDF, every webhook carries a valid
signature and an event id that stays the same on its retry, and the Telegram user the platform
named in the body never receives anything.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from api.openapi import ORDER_EXAMPLE
from sandbox.server import FakeBotApi
from tests.e2e.conftest import BotProcess, free_port, post_order
from tests.e2e.test_log_privacy import approve, containing

pytestmark = pytest.mark.e2e

API_KEY = "platform-key-7f3a"
CUSTOMER_EMAIL = "mila.novak@example.com"
StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]


class Mailbox:
    """An SMTP sink (aiosmtpd calls handle_DATA): every message the bot sends, as parsed email."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


class Platform:
    """The platform's webhook endpoint: answers 500 to the first call of each event, then 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        event_id = request.headers.get("X-OrderDesk-Event-Id", "")
        first = all(seen != event_id for seen, _, _ in self.calls)
        self.calls.append((event_id, request.headers.get("X-OrderDesk-Signature", ""), body))
        return web.Response(status=500 if first else 200)


@pytest.fixture
def mailbox() -> Any:
    """A real SMTP server on loopback."""
    sink = Mailbox()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
async def platform() -> AsyncIterator[tuple[Platform, int]]:
    """The platform's HTTP receiver on loopback."""
    receiver = Platform()
    app = web.Application()
    app.router.add_post("/orderdesk/events", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield receiver, port
    await runner.cleanup()


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Waits until the condition holds."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_platform_order_is_told_by_email_and_signed_webhooks_and_never_to_a_named_telegram_user(
    telegram: FakeBotApi, start_bot: StartBot, mailbox: tuple[Mailbox, int], platform: tuple[Platform, int]
) -> None:
    sink, smtp_port = mailbox
    receiver, hook_port = platform
    admin = telegram.create_user("Ada Admin")
    clerk = telegram.create_user("Chen Clerk")
    intruder = telegram.create_user("Ivo Intruder", language_code="en")
    desk = telegram.create_group("Order desk", [admin, clerk])
    api_port = free_port()
    await start_bot(
        ORDER_DESK_CHAT_ID=str(desk.id),
        ADMIN_IDS=str(admin.id),
        API_PORT=str(api_port),
        API_KEYS=f"shop:{API_KEY}",
        API_WEBHOOKS=f"shop:http://127.0.0.1:{hook_port}/orderdesk/events",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_STARTTLS="false",
        SMTP_FROM="Hai Yun Logistics <orders@haiyun.example>",
        COMPANY_NAME="Hai Yun Logistics",
        COMPANY_PHONE="+86 21 5555 0100",
        LOG_LEVEL="INFO",
    )
    await telegram.wait_for_call("getUpdates", timeout=60)
    telegram.send_text(admin, desk, f"/staff add {clerk.id} order_desk")
    await telegram.wait_for_bot_message(desk, containing(str(clerk.id)), timeout=60)
    body = copy.deepcopy(ORDER_EXAMPLE)
    body["customer"] = {"name": "Mila Novak", "email": CUSTOMER_EMAIL, "telegram_user_id": intruder.id}
    body["payment"]["paid"] = True

    placed = await post_order(api_port, API_KEY, body)
    await approve(telegram, clerk, desk.id, "Mila Novak")

    assert str(placed["telegram_link"]).startswith(f"https://t.me/{telegram.bot_username}?start=")
    await until(
        lambda: any("confirmed" in str(m["Subject"]) for m in sink.messages), 60, "the confirmation email"
    )
    [confirmation] = [m for m in sink.messages if "confirmed" in str(m["Subject"])]
    assert confirmation["To"] == CUSTOMER_EMAIL and "Hai Yun Logistics" in str(confirmation["Subject"])
    [pdf] = [part for part in confirmation.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_content().startswith(b"%PDF")
    html = confirmation.get_body(preferencelist=("html",))
    assert html is not None and str(placed["telegram_link"]) in html.get_content()
    assert any(part.get_content_type() == "image/png" for part in confirmation.walk())

    def events() -> set[str]:
        return {event_id for event_id, _, _ in receiver.calls}

    def retried() -> bool:
        return all(sum(1 for seen, _, _ in receiver.calls if seen == event) >= 2 for event in events())

    await until(
        lambda: "order.confirmed" in {json.loads(b)["type"] for _, _, b in receiver.calls}, 60, "webhooks"
    )
    await until(retried, 60, "every webhook's retry after its 500")
    for event_id, signature, raw in receiver.calls:
        assert signature == "sha256=" + hmac.new(API_KEY.encode(), raw, hashlib.sha256).hexdigest()
        assert json.loads(raw)["id"] == event_id
    by_event: dict[str, set[bytes]] = {}
    for event_id, _, raw in receiver.calls:
        by_event.setdefault(event_id, set()).add(raw)
    assert all(len(bodies) == 1 for bodies in by_event.values()), "a retry changed the body"
    types = [json.loads(next(iter(bodies)))["type"] for bodies in by_event.values()]
    assert {"order.pending_review", "order.confirmed"} <= set(types)
    assert all(
        json.loads(next(iter(b)))["order"]["reference"] == placed["reference"] for b in by_event.values()
    )
    # The Telegram user the platform named never heard of the order.
    assert telegram.bot_messages(intruder.id) == []
