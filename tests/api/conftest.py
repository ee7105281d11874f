"""API fixtures: the intake app on the fake unit of work (tests on the real databases bring their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_api_app
from application.ports import PlatformUnitOfWork
from domain.clock import FixedClock

T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
KEYS = {"shop-a": "key-a-0123456789", "shop-b": "key-b-9876543210"}


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of one of the test keys."""
    return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture
def clock() -> FixedClock:
    """The API's clock."""
    return FixedClock(T0)


@pytest.fixture
async def client(
    new_uow: Callable[[], PlatformUnitOfWork], clock: FixedClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """An HTTP client talking to the intake API on the test database."""
    app = build_api_app(new_uow, clock, KEYS)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
