"""Delivers the outbox rows of the channels that are not Telegram: the customer's email and platform webhooks.

The outbox sender (scheduler/outbox_sender.py) claims these rows with the rest and hands them over
here (`handles`, `start`); each is delivered in a task of its own so a slow mail server or platform
never holds up Telegram, and the row stays leased until its outcome is recorded:

- email (`method` "email"): sent over SMTP (aiosmtplib; SMTP_HOST, SMTP_PORT, SMTP_FROM,
  SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS) as plain text and HTML, with the stored PDF attached and
  the Telegram link's QR code inline. A 5xx refusal (no such mailbox) gives it up; a 4xx answer or
  a network error is retried with an exponential backoff and jitter, up to `max_attempts`.
- webhook (`method` "webhook"): the stored JSON body POSTed to the platform's URL (API_WEBHOOKS)
  with `X-OrderDesk-Signature: sha256=<hex HMAC-SHA256 of the body, keyed by the platform's API
  key>`. Anything but a 2xx is retried with backoff, the same body and event id every time, up to
  `webhook_max_attempts`.

Every delivery is recorded like a Telegram one (`sent`, or `failed` with the reason, listed by
/failed), and `on_delivered` hears of it (the "customer told" clock, R-5.2).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from io import BytesIO
from typing import Protocol

import aiohttp
import segno

from application.customer_channels import CHANNEL_METHODS, EMAIL_METHOD, WEBHOOK_METHOD
from application.ports import OutboxMessage, OutboxQueue, StoredDocument
from domain.clock import Clock
from presentation.email_texts import QR_CID
from scheduler.backoff import later, retry_delay

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-OrderDesk-Signature"
EVENT_HEADER = "X-OrderDesk-Event-Id"
Delivered = Callable[[OutboxMessage, datetime], Awaitable[None]]


class GiveUp(Exception):
    """The message can never be delivered as it is (a refused address, an unknown platform)."""


class TryLater(Exception):
    """The delivery failed for now; another attempt may succeed."""


class DocumentSource(Protocol):
    """Where the stored documents an email attaches wait."""

    async def get_document(self, document_id: int) -> StoredDocument | None: ...


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server (the SMTP_* settings)."""

    host: str
    port: int = 587
    sender: str = "orders@example.com"
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 30.0


def sign(body: bytes, key: str) -> str:
    """The webhook signature header's value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def qr_png(link: str) -> bytes:
    """The link as a QR code PNG for the email's inline image."""
    buffer = BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=5, border=2)
    return buffer.getvalue()


def build_email(sender: str, message: OutboxMessage, document: StoredDocument | None) -> EmailMessage:
    """The MIME message of an email row: plain text and HTML alternatives, inline QR code, PDF attached."""
    params = message.params
    email = EmailMessage()
    email["From"] = sender
    email["To"] = str(params["to"])
    email["Subject"] = str(params["subject"])
    email["Date"] = formatdate(message.created_at.timestamp(), usegmt=True)
    email["Message-ID"] = make_msgid(idstring=str(message.id), domain=sender.rpartition("@")[2] or None)
    email.set_content(str(params["text"]))
    email.add_alternative(str(params["html"]), subtype="html")
    if params.get("qr_link"):
        html_part = email.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage), "the HTML alternative was just added"
        html_part.add_related(qr_png(str(params["qr_link"])), "image", "png", cid=f"<{QR_CID}>")
    if document is not None:
        email.add_attachment(
            document.content, maintype="application", subtype="pdf", filename=document.filename
        )
    return email


class SmtpMailer:
    """Sends emails through the configured SMTP server."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, email: EmailMessage) -> None:
        """Sends one email; raises GiveUp for a permanent refusal, TryLater for anything else."""
        # Imported where mail goes out: an instance without SMTP_HOST never loads it (12 MB, issue 17).
        import aiosmtplib

        settings = self.settings
        try:
            await aiosmtplib.send(
                email,
                hostname=settings.host,
                port=settings.port,
                username=settings.user,
                password=settings.password,
                start_tls=settings.starttls,
                timeout=settings.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            if all(500 <= code < 600 for code in codes):
                raise GiveUp(f"the mail server refused the address ({', '.join(map(str, codes))})") from None
            raise TryLater(f"the mail server deferred the address ({', '.join(map(str, codes))})") from None
        except aiosmtplib.SMTPResponseException as error:
            text = f"the mail server answered {error.code} {error.message[:200]}"
            raise (GiveUp(text) if 500 <= error.code < 600 else TryLater(text)) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TryLater(f"cannot reach the mail server: {type(error).__name__}: {error}") from None


class WebhookPoster:
    """POSTs signed webhook bodies to the platforms' URLs."""

    def __init__(self, urls: Mapping[str, str], keys: Mapping[str, str], timeout: float = 10.0) -> None:
        self.urls = dict(urls)
        self._keys = dict(keys)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, platform: str, event_id: str, body: str) -> None:
        """Delivers one body; raises GiveUp for an unknown platform, TryLater unless the answer is 2xx."""
        url, key = self.urls.get(platform), self._keys.get(platform)
        if url is None or key is None:
            raise GiveUp(f"no webhook URL or API key for platform {platform!r} any more")
        raw = body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(raw, key),
            EVENT_HEADER: event_id,
            "User-Agent": "OrderDesk-Webhooks/1",
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(url, data=raw, headers=headers, allow_redirects=False) as answer:
                await answer.read()
                if not 200 <= answer.status < 300:
                    raise TryLater(f"the platform answered HTTP {answer.status}")
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TryLater(f"cannot reach the platform: {type(error).__name__}") from None

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class ChannelDelivery:
    """Delivers email and webhook rows of the outbox and records each outcome."""

    def __init__(
        self,
        queue: OutboxQueue,
        clock: Clock,
        *,
        mailer: SmtpMailer | None = None,
        webhooks: WebhookPoster | None = None,
        documents: DocumentSource | None = None,
        on_delivered: Delivered | None = None,
        max_attempts: int = 10,
        webhook_max_attempts: int = 20,
        backoff_base: float = 2.0,
        backoff_cap: float = 3600.0,
        rng: random.Random | None = None,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._mailer = mailer
        self._webhooks = webhooks
        self._documents = documents
        self._on_delivered = on_delivered
        self._max_attempts = {EMAIL_METHOD: max_attempts, WEBHOOK_METHOD: webhook_max_attempts}
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[int]] = set()

    def handles(self, message: OutboxMessage) -> bool:
        """Whether the row is one of these channels' (not a Bot API call)."""
        return message.method in CHANNEL_METHODS

    def start(self, message: OutboxMessage) -> None:
        """Delivers a claimed row in a task of its own; the lease keeps it ours meanwhile."""
        task = asyncio.create_task(self.deliver(message), name=f"outbox-{message.method}-{message.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the deliveries under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Finishes the deliveries under way and closes the HTTP session."""
        await self.drain()
        if self._webhooks is not None:
            await self._webhooks.close()

    async def deliver(self, message: OutboxMessage) -> int:
        """Delivers one row and records the outcome; returns 1 if it was delivered, else 0."""
        assert message.id is not None, "claimed messages come from the database"
        try:
            await self._send(message)
        except GiveUp as error:
            await self._queue.mark_failed(message.id, str(error))
            # The reason (kept in the row, shown by /failed) may quote an address: not logged.
            logger.warning("%s message %s given up", message.method, message.id)
            return 0
        except TryLater as error:
            await self._retry_later(message, message.id, str(error))
            return 0
        except Exception as error:
            # A bug or a broken row must not stay leased for ever: it is retried, then given up.
            logger.exception("%s message %s failed", message.method, message.id)
            await self._retry_later(message, message.id, f"{type(error).__name__}: {error}")
            return 0
        now = self._clock.now()
        await self._queue.mark_sent(message.id, None, now)
        if self._on_delivered is not None:
            try:
                await self._on_delivered(message, now)
            except Exception:
                logger.exception("recording the delivery of %s message %s failed", message.method, message.id)
        return 1

    async def _send(self, message: OutboxMessage) -> None:
        """Hands the row to its channel."""
        params = message.params
        if message.method == EMAIL_METHOD:
            if self._mailer is None:
                raise GiveUp("email is not configured (SMTP_HOST)")
            document = None
            if params.get("document_id") is not None and self._documents is not None:
                document = await self._documents.get_document(int(params["document_id"]))
            await self._mailer.send(build_email(self._mailer.settings.sender, message, document))
            return
        if self._webhooks is None:
            raise GiveUp("webhooks are not configured (API_WEBHOOKS)")
        await self._webhooks.post(str(params["platform"]), str(params["event_id"]), str(params["body"]))

    async def _retry_later(self, message: OutboxMessage, message_id: int, error: str) -> None:
        """Schedules another attempt after a backoff, or gives up after the channel's attempts."""
        attempts = message.attempts + 1
        if attempts >= self._max_attempts.get(message.method, 10):
            await self._queue.mark_failed(message_id, f"gave up after {attempts} attempts: {error}")
            return
        delay = retry_delay(attempts, self._backoff_base, self._backoff_cap, self._rng)
        await self._queue.mark_retry(message_id, later(self._clock.now(), delay), error)
