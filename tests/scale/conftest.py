"""Scale fixtures: an empty Redis database (skipped without Redis, failed in CI)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.storage.conftest import flushed_redis

REDIS_URL = os.environ.get("ORDERDESK_TEST_REDIS_URL_SCALE", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A flushed Redis database, flushed again afterwards."""
    async with flushed_redis(REDIS_URL) as client:
        yield client
