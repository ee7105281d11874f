"""Logging set-up that never writes the bot token, a secret or a database value.

Every record passes one filter on the handler: bot tokens and configured secrets are redacted;
the debug records of the SQL layers (aiosqlite writes every statement with its parameters,
SQLAlchemy every result row) are dropped; a database error, in a message or a traceback, is
written as its class and the shape of its statement (`INSERT orders`), never its message, which
holds parameters and key values.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable

from sqlalchemy.exc import StatementError

# aiohttp and aiogram put request URLs such as https://api.telegram.org/bot<token>/getMe in messages.
TOKEN_PATTERN = re.compile(r"(bot)?\d+:[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted>"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers whose debug records carry SQL parameters or result rows; they log at INFO at most.
SQL_LOGGERS = ("aiosqlite", "sqlalchemy.engine")
# Exceptions of these modules quote SQL parameters or key values in their messages.
_DATABASE_MODULES = ("asyncpg", "aiosqlite", "sqlite3", "sqlalchemy.dialects", "sqlalchemy.connectors")
_STATEMENT_VERB = re.compile(r"\s*([A-Za-z]+)")
_STATEMENT_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+\"?([A-Za-z_][\w.]*)", re.IGNORECASE)
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def statement_shape(statement: str | None) -> str:
    """The verb and tables of a SQL statement, e.g. 'INSERT orders': no value can appear in it."""
    if not statement:
        return ""
    verb = _STATEMENT_VERB.match(statement)
    tables = dict.fromkeys(match.group(1) for match in _STATEMENT_TABLE.finditer(statement))
    return " ".join([verb.group(1).upper() if verb else "", *tables]).strip()


def is_database_error(error: BaseException) -> bool:
    """Whether an exception comes from the database layer, whose messages quote parameters."""
    module = type(error).__module__
    return isinstance(error, StatementError) or any(
        module == name or module.startswith(name + ".") for name in _DATABASE_MODULES
    )


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from or during, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return found


def _shape_of(error: BaseException) -> str:
    """The shape of the statement behind an error, taken from the SQLAlchemy error of its chain."""
    for link in _chain(error):
        if isinstance(link, StatementError):
            return statement_shape(link.statement)
    return ""


def _class_name(error: BaseException) -> str:
    """The exception's class as a traceback names it (builtins unqualified)."""
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def describe_database_error(error: BaseException, shape: str | None = None) -> str:
    """Names a database error by class and statement shape only, e.g. 'DataError on INSERT orders'."""
    shape = _shape_of(error) if shape is None else shape
    return f"{_class_name(error)} on {shape}" if shape else _class_name(error)


def format_exception_safely(error: BaseException) -> str:
    """Formats a traceback as the standard library does, database errors by class and statement shape."""
    shape = _shape_of(error)
    parts: list[str] = []
    for index, link in enumerate(reversed(_chain(error))):
        if index:
            parts.append(_CAUSE if link.__cause__ is not None else _CONTEXT)
        if link.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(link.__traceback__))
        if is_database_error(link):
            parts.append(describe_database_error(link, shape) + "\n")
        else:
            parts.extend(traceback.format_exception_only(type(link), link))
    return "".join(parts).rstrip("\n")


def _safe_argument(value: object) -> object:
    """A database error as its class and statement shape; any other value unchanged."""
    if isinstance(value, BaseException) and is_database_error(value):
        return describe_database_error(value)
    return value


class TokenRedactingFilter(logging.Filter):
    """Redacts tokens and secrets, drops SQL debug records, and describes database errors safely."""

    def __init__(self, token: str | None = None, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.token = token or None
        self.secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Returns text with every token and secret replaced by `<redacted>` (keeping a `bot` prefix)."""
        if self.token:
            text = text.replace(self.token, REDACTED)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(lambda match: (match.group(1) or "") + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redacts the record in place; drops only the SQL layers' debug records."""
        if record.levelno < logging.INFO and record.name.startswith(SQL_LOGGERS):
            return False
        record.msg = _safe_argument(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_safe_argument(arg) for arg in record.args)
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Always formatted anew: another handler may have cached the unsafe text already.
            record.exc_text = format_exception_safely(record.exc_info[1])
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def setup_logging(
    level: str = "INFO", token: str | None = None, secrets: Iterable[str] = ()
) -> logging.Handler:
    """Sends all logs to stderr through the redacting filter and returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    # On the handler, not a logger: logger filters do not see records propagated from child loggers.
    handler.addFilter(TokenRedactingFilter(token, secrets))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SQL_LOGGERS:
        # Not even created: their debug records would only be dropped by the filter. SQLAlchemy keeps
        # its own WARNING default.
        sql_logger = logging.getLogger(name)
        sql_logger.setLevel(max(logging.INFO, sql_logger.getEffectiveLevel()))
    return handler
