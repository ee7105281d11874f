"""Issue 11 finding 10: a malformed HTTP request to the API is one WARNING line, not an ERROR traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from api.app import REQUEST_LOG_NAME, build_api_app
from domain.clock import FixedClock
from tests.api.conftest import KEYS, T0

AUTH = f"Authorization: Bearer {KEYS['shop-a']}\r\n".encode()
QUOTE = b"POST /api/v1/quotes HTTP/1.1\r\nHost: x\r\n" + AUTH


@pytest.fixture
async def port() -> AsyncIterator[int]:
    """The API served on a loopback port as bot.app serves it (no request here reaches the database)."""
    app = build_api_app(lambda: None, FixedClock(T0), KEYS)  # type: ignore[arg-type, return-value]
    # Not aiohttp's TestServer: it cancels a handler whose client left, which production does not.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def exchange(port: int, request: bytes, *, hang_up: bool = False) -> bytes:
    """Sends raw bytes; returns the answer, or b'' when the client hangs up before one comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        if hang_up:
            await asyncio.sleep(0.1)
            return b""
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "line"),
    [
        (
            b"GARBAGE\r\n\r\n",
            "Malformed HTTP request refused with 400 (BadHttpMethod: Invalid method encountered)",
        ),
        (
            b"GET /api/v1/services HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            "Malformed HTTP request refused with 400 (BadHttpMessage: Invalid header token)",
        ),
        (
            b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
            "Malformed HTTP request refused with 400 (LineTooLong: Got more than 8190 bytes when reading)",
        ),
        (
            QUOTE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            "Malformed HTTP request refused with 400 (BadHttpMessage: Invalid character in chunk size)",
        ),
        (
            QUOTE + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
            "Malformed HTTP request refused with 400 (ContentEncodingError: Can not decode content-encoding)",
        ),
    ],
    ids=["not-http", "bad-header", "long-line", "bad-chunk", "bad-gzip"],
)
async def test_a_malformed_request_is_answered_400_and_logged_as_one_warning(
    port: int, caplog: pytest.LogCaptureFixture, request_bytes: bytes, line: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await exchange(port, request_bytes)
        await asyncio.sleep(0.1)

    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer[:200]
    notable = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [(record.name, record.levelname, record.getMessage()) for record in notable] == [
        (REQUEST_LOG_NAME, "WARNING", line)
    ]
    assert all(record.exc_info is None for record in caplog.records if record.name != "asyncio")


async def test_a_client_that_hangs_up_mid_body_is_one_warning(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await exchange(port, QUOTE + b"Content-Length: 100\r\n\r\n{", hang_up=True)
        await asyncio.sleep(0.3)

    notable = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [(record.levelname, record.getMessage()) for record in notable] == [
        ("WARNING", "The HTTP client went away before its request was handled")
    ]
