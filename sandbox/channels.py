"""What customers and platforms receive outside Telegram, for the demo: a mailbox and a webhook log.

`Mailbox` is a local SMTP sink (aiosmtpd) the bot's SMTP_HOST / SMTP_PORT point at; `WebhookLog` is
the demo platform's HTTP endpoint (API_WEBHOOKS) that records every call with its signature check.
`ChannelsPage` shows both at /channels of the demo page (refreshing itself), lets the PDFs be
downloaded, and places a demo platform order through the bot's API to watch it go round.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

Json = dict[str, Any]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """An SMTP sink on loopback: every message received, parsed."""

    messages: list[tuple[datetime, EmailMessage]] = field(default_factory=list)
    controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keeps one received message (aiosmtpd calls this hook by its name)."""
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        if isinstance(parsed, EmailMessage):
            self.messages.append((datetime.now(UTC), parsed))
        return "250 Message accepted for delivery"

    def start(self) -> int:
        """Starts the SMTP server; returns its port."""
        port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()
        return port

    def stop(self) -> None:
        """Stops the SMTP server."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class WebhookCall:
    """One webhook call: when, the event, whether its signature was right."""

    at: datetime
    event_id: str
    signature_valid: bool
    body: bytes


@dataclass
class WebhookLog:
    """The demo platform's webhook endpoint: records every call and checks its signature."""

    api_key: str
    calls: list[WebhookCall] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        """Records a call and answers 200."""
        body = await request.read()
        expected = "sha256=" + hmac.new(self.api_key.encode(), body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(request.headers.get("X-OrderDesk-Signature", ""), expected)
        self.calls.append(
            WebhookCall(datetime.now(UTC), request.headers.get("X-OrderDesk-Event-Id", ""), valid, body)
        )
        return web.json_response({"received": True})


@dataclass
class ChannelsPage:
    """The /channels page of the demo: the mailbox and the webhook log."""

    mailbox: Mailbox
    webhooks: WebhookLog
    place_order: Callable[[], Awaitable[Json]] | None = None
    last_order: Json | None = None

    def install(self, app: web.Application) -> None:
        """Adds the page's routes to the demo app."""
        app.router.add_get("/channels", self._page)
        app.router.add_get("/channels/mail/{index}/{part}", self._attachment)
        app.router.add_post("/channels/platform-order", self._order)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=self.render(), content_type="text/html")

    async def _attachment(self, request: web.Request) -> web.Response:
        try:
            _, message = self.mailbox.messages[int(request.match_info["index"])]
            part = list(message.iter_attachments())[int(request.match_info["part"])]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        content = part.get_content()
        data = content if isinstance(content, bytes) else str(content).encode()
        name = part.get_filename() or "attachment"
        return web.Response(
            body=data,
            content_type=part.get_content_type(),
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    async def _order(self, request: web.Request) -> web.Response:
        if self.place_order is not None:
            self.last_order = await self.place_order()
        raise web.HTTPSeeOther("/channels")

    def render(self) -> str:
        """The page as HTML, newest first."""
        mails = []
        for index in reversed(range(len(self.mailbox.messages))):
            at, message = self.mailbox.messages[index]
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            links = " ".join(
                f'<a href="/channels/mail/{index}/{n}">{html.escape(part.get_filename() or "file")}</a>'
                for n, part in enumerate(message.iter_attachments())
            )
            mails.append(
                f"<article><h3>{html.escape(str(message['Subject']))}</h3>"
                f"<p class=muted>{at:%H:%M:%S} · to {html.escape(str(message['To']))} · {links}</p>"
                f"<pre>{html.escape(text)}</pre></article>"
            )
        calls = []
        for call in reversed(self.webhooks.calls):
            try:
                pretty = json.dumps(json.loads(call.body), ensure_ascii=False, indent=2)
            except ValueError:
                pretty = call.body.decode(errors="replace")
            check = "signature valid" if call.signature_valid else "SIGNATURE WRONG"
            calls.append(
                f"<article><p class=muted>{call.at:%H:%M:%S} · {html.escape(call.event_id)} · {check}</p>"
                f"<pre>{html.escape(pretty)}</pre></article>"
            )
        placed = ""
        if self.last_order is not None:
            placed = f"<pre>{html.escape(json.dumps(self.last_order, ensure_ascii=False, indent=2))}</pre>"
        return (
            "<!DOCTYPE html><html><head><meta charset=utf-8><meta http-equiv=refresh content=3>"
            "<title>OrderDesk demo: mailbox and webhooks</title><style>"
            "body{font-family:sans-serif;margin:1rem;display:grid;grid-template-columns:1fr 1fr;gap:1rem}"
            "header{grid-column:1/3}pre{white-space:pre-wrap;background:#f5f5f5;padding:.5rem}"
            ".muted{color:#666}article{border-bottom:1px solid #ddd}</style></head><body>"
            "<header><h1>What customers and platforms receive</h1><a href='/'>back to the chats</a>"
            "<form method=post action=/channels/platform-order><button>Place a platform order "
            "(the demo shop's API)</button></form>"
            f"{placed}</header>"
            f"<section><h2>Mailbox ({len(mails)})</h2>"
            f"{''.join(mails) or '<p class=muted>empty</p>'}</section>"
            f"<section><h2>Webhook calls ({len(calls)})</h2>"
            f"{''.join(calls) or '<p class=muted>none yet</p>'}</section></body></html>"
        )
