"""Issue 11 acceptance, second check: schemathesis drives every operation of the OpenAPI document (R-1.1).

The API runs on a migrated SQLite file in a thread of its own, served as bot.app serves it;
schemathesis generates requests from the document and checks that no answer is a server error and
that every answer's status, content type and body are the documented ones.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import build_api_app
from api.openapi import openapi_document
from domain.clock import FixedClock
from storage.database import create_engine, create_session_factory, migrate
from storage.uow import SqlUnitOfWork
from tests.api.conftest import KEYS, T0

SCHEMA = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi_document())))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API's base URL, served from a thread with its own event loop (schemathesis calls synchronously)."""
    database = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis')}/api.sqlite3"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-under-test", daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, AsyncEngine]:
        await migrate(database)
        engine = create_engine(database)
        factory = create_session_factory(engine)
        app = build_api_app(lambda: SqlUnitOfWork(factory), FixedClock(T0), KEYS)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, engine

    async def stop(runner: web.AppRunner, engine: AsyncEngine) -> None:
        await runner.cleanup()
        await engine.dispose()

    runner, engine = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(runner, engine), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@SCHEMA.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case, api_url: str) -> None:
    case.call_and_validate(
        base_url=api_url, headers={"Authorization": f"Bearer {KEYS['shop-a']}"}, checks=CHECKS, timeout=30
    )
