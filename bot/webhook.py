"""Webhook mode: updates are stored in the inbox before Telegram gets its 200 (issue 11, finding 7).

A request without the shared secret is refused (401). An update that cannot be stored is answered
500, so Telegram delivers it again; once stored it is processed in the background, exactly as
in polling mode (bot.inbox).
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web

from api.http_log import request_log_args
from bot.inbox import UpdateProcessor

# aiohttp's log of webhook requests it could not handle: one WARNING line for a malformed one.
REQUEST_LOG_NAME = "bot.webhook.http"


logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class InboxWebhook:
    """The request handler: checks the secret, stores the update, answers."""

    def __init__(self, processor: UpdateProcessor, secret_token: str) -> None:
        if not secret_token:
            raise ValueError("a webhook needs a secret token")
        self._processor = processor
        self._secret = secret_token.encode()

    def verify_secret(self, received: str) -> bool:
        """Compares in constant time, on bytes (secrets.compare_digest raises on non-ASCII str)."""
        return hmac.compare_digest(received.encode("utf-8", "replace"), self._secret)

    async def handle(self, request: web.Request) -> web.Response:
        """Answers 200 once the update is stored; 401 without the secret, 400 if no update, else 500."""
        if not self.verify_secret(request.headers.get(SECRET_HEADER, "")):
            return web.Response(text="Unauthorized", status=401)
        try:
            update = json.loads(await request.read())
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            logger.warning("Webhook request without an update refused")
            return web.Response(text="Bad Request: not an update", status=400)
        try:
            await self._processor.receive([update])
        except Exception as error:
            logger.error("Update %s could not be stored: %s", update["update_id"], type(error).__name__)
            return web.Response(text="Internal Server Error", status=500)
        return web.json_response({})


def build_webhook_app(processor: UpdateProcessor, *, secret_token: str, path: str) -> web.Application:
    """Creates the aiohttp application serving the webhook at path."""
    app = web.Application(handler_args=request_log_args(REQUEST_LOG_NAME))
    app.router.add_post(path, InboxWebhook(processor, secret_token).handle)
    return app
