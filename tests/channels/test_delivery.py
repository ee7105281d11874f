"""Delivering email and webhook rows of the outbox (issue 12): signed, retried with one id, failures kept."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.customer_channels import EMAIL_METHOD, WEBHOOK_METHOD, channel_chat_id
from application.ports import OutboxMessage
from domain.clock import FixedClock
from scheduler.channels import SIGNATURE_HEADER, ChannelDelivery, SmtpMailer, SmtpSettings, WebhookPoster
from scheduler.outbox_sender import OutboxSender
from storage.models import OutboxRow
from storage.outbox_queue import SqlOutboxQueue
from storage.uow import SqlUnitOfWork
from tests.mocked_bot import MockedBot
from tests.outbox.conftest import T0, fake_sleep
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

KEY = "shop-secret-key"
BODY = json.dumps({"id": "order-1:3", "type": "order.confirmed", "created_at": T0.isoformat(), "order": {}})


class Receiver:
    """A platform's webhook endpoint that fails the first `failures` calls and records every call."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(self.calls) <= self.failures else 204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """Serves the receiver on a free loopback port."""
    endpoint = Receiver(failures=2)
    app = web.Application()
    app.router.add_post("/hooks", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield endpoint, f"http://127.0.0.1:{port}/hooks"
    await runner.cleanup()


async def enqueue(new_uow: Any, message: OutboxMessage) -> None:
    """Commits one outbox row."""
    uow: SqlUnitOfWork
    async with new_uow() as uow:
        await uow.outbox.enqueue(message)
        await uow.commit()


async def stored_rows(session_factory: async_sessionmaker[AsyncSession]) -> list[OutboxRow]:
    """Every outbox row."""
    async with session_factory() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


def webhook_row() -> OutboxMessage:
    """A queued webhook of one status change."""
    params = {"platform": "shop", "event_id": "order-1:3", "body": BODY}
    return OutboxMessage(
        channel_chat_id(WEBHOOK_METHOD, "shop"), WEBHOOK_METHOD, params, T0, dedup_key="wh:1"
    )


async def run_until_sent(
    sender: OutboxSender, channels: ChannelDelivery, clock: FixedClock, rounds: int
) -> None:
    """Runs sender rounds, waiting out each backoff, until the rounds are used."""
    for _ in range(rounds):
        await sender.run_once()
        await channels.drain()
        clock.advance(timedelta(hours=2))


async def test_a_webhook_is_signed_and_retried_until_2xx_with_the_same_id_and_body(
    session_factory: async_sessionmaker[AsyncSession],
    new_uow: Any,
    bot: MockedBot,
    receiver: tuple[Receiver, str],
) -> None:
    endpoint, url = receiver
    clock = FixedClock(T0)
    delivered: list[tuple[str | None, datetime]] = []

    async def on_delivered(message: OutboxMessage, at: datetime) -> None:
        delivered.append((message.method, at))

    queue = SqlOutboxQueue(session_factory)
    channels = ChannelDelivery(
        queue,
        clock,
        webhooks=WebhookPoster({"shop": url}, {"shop": KEY}),
        on_delivered=on_delivered,
        rng=random.Random(1),
    )
    sender = OutboxSender(queue, bot, clock, sleep=fake_sleep(clock), channels=channels)
    await enqueue(new_uow, webhook_row())

    await run_until_sent(sender, channels, clock, rounds=4)
    await channels.close()

    assert len(endpoint.calls) == 3
    expected = "sha256=" + hmac.new(KEY.encode(), BODY.encode(), hashlib.sha256).hexdigest()
    for headers, body in endpoint.calls:
        assert body == BODY.encode()
        assert headers[SIGNATURE_HEADER] == expected
        assert headers["X-OrderDesk-Event-Id"] == "order-1:3"
    [row] = await stored_rows(session_factory)
    assert (row.state, row.attempts) == ("sent", 3)
    assert [method for method, _ in delivered] == [WEBHOOK_METHOD]
    # Webhook rows never reach Telegram.
    assert bot.session.requests == []


async def test_an_email_the_server_cannot_take_is_retried_then_failed_and_listed_by_failed(
    session_factory: async_sessionmaker[AsyncSession], new_uow: Any, bot: MockedBot
) -> None:
    clock = FixedClock(T0)
    queue = SqlOutboxQueue(session_factory)
    # Nothing listens on port 9 of loopback: every attempt is a network error.
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", 9, "orders@example.com", timeout=2))
    channels = ChannelDelivery(queue, clock, mailer=mailer, max_attempts=2, rng=random.Random(1))
    sender = OutboxSender(queue, bot, clock, sleep=fake_sleep(clock), channels=channels)
    params = {"to": "li@example.com", "subject": "Hi", "text": "Hi", "html": "<p>Hi</p>"}
    await enqueue(
        new_uow, OutboxMessage(channel_chat_id(EMAIL_METHOD, "li@example.com"), EMAIL_METHOD, params, T0)
    )

    await run_until_sent(sender, channels, clock, rounds=3)

    [row] = await stored_rows(session_factory)
    assert row.state == "failed" and "gave up after 2 attempts" in (row.last_error or "")
    async with new_uow() as uow:
        [failed] = await uow.outbox.failed()
    assert failed.method == EMAIL_METHOD and "mail server" in failed.error


async def test_the_sender_tells_of_every_telegram_delivery_for_the_customer_told_clock(
    session_factory: async_sessionmaker[AsyncSession], new_uow: Any, bot: MockedBot
) -> None:
    clock = FixedClock(T0)
    delivered: list[tuple[int, datetime]] = []

    async def on_delivered(message: OutboxMessage, at: datetime) -> None:
        delivered.append((message.chat_id, at))

    sender = OutboxSender(
        SqlOutboxQueue(session_factory), bot, clock, sleep=fake_sleep(clock), on_delivered=on_delivered
    )
    await enqueue(
        new_uow, OutboxMessage(555, "sendMessage", {"text": "Your order is packed"}, T0, order_id="o-1")
    )

    assert await sender.run_once() == 1

    assert delivered == [(555, clock.now())]
