"""Logging set-up that never writes the bot token."""

from __future__ import annotations

import logging
import re
import sys

# aiohttp and aiogram put request URLs such as https://api.telegram.org/bot<token>/getMe in messages.
TOKEN_PATTERN = re.compile(r"(bot)?\d+:[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted>"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TokenRedactingFilter(logging.Filter):
    """Replaces bot tokens in a record's message, arguments, exception and stack text."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token or None
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        """Returns text with every token replaced by `<redacted>` (keeping a `bot` prefix)."""
        if self.token:
            text = text.replace(self.token, REDACTED)
        return TOKEN_PATTERN.sub(lambda match: (match.group(1) or "") + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the record in place; never drops it."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def setup_logging(level: str = "INFO", token: str | None = None) -> logging.Handler:
    """Sends all logs to stderr through the redacting filter and returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    # On the handler, not a logger: logger filters do not see records propagated from child loggers.
    handler.addFilter(TokenRedactingFilter(token))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
