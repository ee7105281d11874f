"""Webhook mode: the aiohttp app receiving updates, refusing requests without the shared secret."""

from __future__ import annotations

import hmac
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from api.http_log import request_log_args

# aiohttp's log of webhook requests it could not handle: one WARNING line for a malformed one.
REQUEST_LOG_NAME = "bot.webhook.http"


class SecretTokenRequestHandler(SimpleRequestHandler):
    """aiogram's handler with a secret check that also refuses a missing secret and non-ASCII headers."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str, **data: Any) -> None:
        if not secret_token:
            raise ValueError("a webhook needs a secret token")
        # Waiting for the handler means Telegram redelivers an update that failed to process;
        # the processed-updates record makes the redelivery harmless.
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token, **data)

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Compares in constant time, on bytes (secrets.compare_digest raises on non-ASCII str)."""
        expected = (self.secret_token or "").encode()
        received = telegram_secret_token.encode("utf-8", "replace")
        return bool(expected) and hmac.compare_digest(received, expected)


def build_webhook_app(dispatcher: Dispatcher, bot: Bot, *, secret_token: str, path: str) -> web.Application:
    """Creates the aiohttp application serving the webhook at path."""
    app = web.Application(handler_args=request_log_args(REQUEST_LOG_NAME))
    SecretTokenRequestHandler(dispatcher, bot, secret_token).register(app, path=path)
    setup_application(app, dispatcher, bot=bot)
    return app
