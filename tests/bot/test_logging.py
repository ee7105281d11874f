"""The bot token never reaches the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logging import TokenRedactingFilter, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
OTHER_TOKEN = "987654321:ZZZdqTcvCH1vGWJxfSeofSAs0K5PALDsaww"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Installs the production logging set-up writing into a buffer, then restores the root logger."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    handler = setup_logging("DEBUG", TOKEN)
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_token_in_a_request_url_argument_is_redacted(log_output: io.StringIO) -> None:
    logging.getLogger("aiogram.client").info(
        "Request to %s failed", f"https://api.telegram.org/bot{TOKEN}/getMe"
    )

    text = log_output.getvalue()
    assert TOKEN not in text
    assert "https://api.telegram.org/bot<redacted>/getMe" in text


def test_any_token_shaped_string_is_redacted(log_output: io.StringIO) -> None:
    logging.getLogger("aiohttp.client").warning(f"GET /bot{OTHER_TOKEN}/getUpdates and bare {OTHER_TOKEN}")

    text = log_output.getvalue()
    assert OTHER_TOKEN not in text
    assert "/bot<redacted>/getUpdates and bare <redacted>" in text


def test_token_in_an_exception_is_redacted(log_output: io.StringIO) -> None:
    try:
        raise RuntimeError(f"cannot connect to https://api.telegram.org/bot{TOKEN}/getMe")
    except RuntimeError:
        logging.getLogger("bot").exception("Polling failed")

    text = log_output.getvalue()
    assert "Traceback" in text
    assert "RuntimeError: cannot connect to https://api.telegram.org/bot<redacted>/getMe" in text
    assert TOKEN not in text


def test_the_configured_token_is_redacted_even_if_unusual() -> None:
    short_token = "42:short"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (short_token,), None)

    TokenRedactingFilter(short_token).filter(record)

    assert record.getMessage() == "token <redacted>"


def test_ordinary_text_is_left_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Update id=%s at 12:30:15", (5,), None)

    TokenRedactingFilter(TOKEN).filter(record)

    assert record.getMessage() == "Update id=5 at 12:30:15"
