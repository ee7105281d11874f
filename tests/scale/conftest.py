"""Scale fixtures: an empty Redis database (skipped without Redis, failed in CI)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.storage.conftest import unreachable

REDIS_URL = os.environ.get("ORDERDESK_TEST_REDIS_URL_SCALE", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A flushed Redis database, flushed again afterwards."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    except Exception as error:
        await client.aclose()
        unreachable(f"Redis at {REDIS_URL} is not reachable: {error!r}")
    yield client
    await client.flushdb()
    await client.aclose()
