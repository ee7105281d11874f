"""The bot token, secrets and personal data never reach the logs (issue 11 findings 2 and 10)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator

import pytest
from aiogram import Bot, Dispatcher
from aiohttp.test_utils import TestServer
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.intake import place_order
from bot.inbox import UpdateProcessor
from bot.logging import TokenRedactingFilter, setup_logging, statement_shape
from bot.webhook import build_webhook_app
from domain.clock import FixedClock
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft
from domain.orders.status import Channel
from storage.models import StaffNameRow
from storage.uow import SqlUnitOfWork
from tests.api.conftest import T0
from tests.fakes import FakeDatabase, FakeInbox
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

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


# Issue 11 finding 2: no personal data and no secret in the logs at any level.
PERSON = ("Anna Schmidt", "+4915123456789", "anna.schmidt@example.com", "Unter den Linden 77")
API_KEY = "key-shop-0123456789abcdef"


def order_draft() -> OrderDraft:
    """A platform order of the person."""
    name, phone, email, street = PERSON
    return OrderDraft(
        customer=CustomerDraft(name, phone, email),
        address=AddressDraft("DE", "Berlin", street, "10117"),
        items=[ItemDraft("Tea set", 1, "1.2", "39.90")],
        service="air_freight",
        payment_method="card",
        remarks=f"call {name}",
        channel=Channel.PLATFORM_API,
    )


async def test_no_sql_parameter_or_row_is_logged_at_any_level(
    log_output: io.StringIO, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    engine_log = logging.getLogger("sqlalchemy.engine")
    saved = engine_log.level
    # Even an operator who turns SQLAlchemy's statement log on sees no values.
    engine_log.setLevel(logging.INFO)
    try:
        placed = await place_order(new_uow(), order_draft(), FixedClock(T0))
        async with new_uow() as uow:
            assert (await uow.orders.get(placed.order.id)).customer.name == PERSON[0]
    finally:
        engine_log.setLevel(saved)

    text = log_output.getvalue()
    assert "INSERT INTO orders" in text
    for value in (*PERSON, "Berlin", "Tea set"):
        assert value not in text, f"{value!r} was logged"


async def test_a_database_error_is_logged_by_class_and_statement_shape_only(
    log_output: io.StringIO, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    row = {"user_id": 5, "name": PERSON[0], "updated_at": T0}
    async with session_factory() as session:
        await session.execute(insert(StaffNameRow).values(**row))
        await session.commit()
    with pytest.raises(IntegrityError) as raised:
        async with session_factory() as session:
            await session.execute(insert(StaffNameRow).values(**row))
            await session.commit()
    error = raised.value
    assert PERSON[0] in str(error) or "user_id" in str(error)

    # As the errors router logs it, and as aiogram's dispatcher does.
    logging.getLogger("handlers.common").error("Update 7 failed: %s", type(error).__name__, exc_info=error)
    logging.getLogger("aiogram.event").error("Cause exception while process update id=7\n%s: %s", "E", error)

    text = log_output.getvalue()
    assert "sqlalchemy.exc.IntegrityError on INSERT staff_names" in text
    assert "Traceback (most recent call last)" in text
    assert PERSON[0] not in text
    assert "[parameters" not in text and "Key (user_id)" not in text and "UNIQUE constraint" not in text


def test_a_statement_shape_names_the_verb_and_tables_only() -> None:
    insert_sql = "INSERT INTO orders (id, name) VALUES ($1::VARCHAR, $2::VARCHAR)"
    assert statement_shape(insert_sql) == "INSERT orders"
    assert statement_shape('SELECT o.id FROM "orders" AS o JOIN order_audit ON 1 = 1') == (
        "SELECT orders order_audit"
    )
    assert statement_shape("UPDATE orders SET customer_name='Anna' WHERE id = ?") == "UPDATE orders"
    assert statement_shape(None) == ""


def test_the_configured_secrets_are_redacted(log_output: io.StringIO) -> None:
    root = logging.getLogger()
    handler = setup_logging("DEBUG", TOKEN, secrets=[API_KEY])
    handler.setStream(log_output)  # type: ignore[attr-defined]

    logging.getLogger("api").warning("Authorization: Bearer %s", API_KEY)

    assert API_KEY not in log_output.getvalue()
    assert "Bearer <redacted>" in log_output.getvalue()
    assert root.handlers == [handler]


async def test_a_malformed_webhook_request_is_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    processor = UpdateProcessor(FakeInbox(FakeDatabase()), Dispatcher(), Bot(TOKEN), FixedClock(T0))
    app = build_webhook_app(processor, secret_token="s3cret", path="/webhook")
    async with TestServer(app) as server:
        assert server.port is not None
        with caplog.at_level(logging.DEBUG):
            answer = await send_raw(server.port, b"POST /webhook HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")

    assert answer.startswith(b"HTTP/1.0 400")
    notable = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [(record.name, record.levelname, record.getMessage()) for record in notable] == [
        (
            "bot.webhook.http",
            "WARNING",
            "Malformed HTTP request refused with 400 (BadHttpMessage: Invalid header token)",
        )
    ]
    assert all(record.exc_info is None for record in caplog.records)


async def send_raw(port: int, request: bytes) -> bytes:
    """Sends raw bytes to a local HTTP server and returns what it answers before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
