"""aiohttp's request-handler log: a malformed request or a client that goes away is one WARNING line.

aiohttp logs every request it cannot parse (a bad header, a broken chunk, an oversized line) as an
ERROR with a traceback, although nothing on our side failed. Both HTTP servers (the platform API and
the webhook) give their application `request_log_args(...)` as handler_args instead.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import RequestPayloadError

# The head of aiohttp's reason quoted in the log line; the rest echoes the request's bytes.
REASON_MAX = 60


def _reason(error: HttpProcessingError) -> str:
    """The first words of aiohttp's reason, without the bytes of the request it quotes."""
    lines = (error.message or "").strip().splitlines()
    head = lines[0].split(":")[0].strip() if lines else ""
    return (head[:REASON_MAX] or type(error).__name__).encode("ascii", "backslashreplace").decode()


class RequestErrorLog(logging.LoggerAdapter[logging.Logger]):
    """Logs a malformed request or a vanished client as one WARNING line; every other failure as before."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """Logs one WARNING line instead of a traceback when the client was at fault."""
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if not self._warn_if_client_fault(error):
            self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Logs aiohttp's debug traceback of a request that is not HTTP at all as the same WARNING line."""
        error = kwargs.get("exc_info")
        if not (isinstance(error, BaseException) and self._warn_if_client_fault(error)):
            self.logger.debug(msg, *args, **kwargs)

    def _warn_if_client_fault(self, error: BaseException | None) -> bool:
        """Logs one WARNING line and returns True if the error is the client's; False for any other error."""
        if isinstance(error, RequestPayloadError) and isinstance(error.__cause__, HttpProcessingError):
            # A body that cannot be decoded, noticed while aiohttp drains it after the answer.
            error = error.__cause__
        if isinstance(error, HttpProcessingError):
            self.logger.warning(
                "Malformed HTTP request refused with %s (%s: %s)",
                error.code or 400,
                type(error).__name__,
                _reason(error),
            )
            return True
        if isinstance(error, ConnectionResetError):
            self.logger.warning("The HTTP client went away before its request was handled")
            return True
        return False


def request_log_args(name: str) -> dict[str, Any]:
    """The handler_args of an aiohttp application that logs request errors through RequestErrorLog."""
    return {"logger": RequestErrorLog(logging.getLogger(name), {})}
