"""Storage fixtures: every test runs on a migrated SQLite file and on a private PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.database import create_engine, create_session_factory, migrate
from storage.models import Base
from storage.uow import SqlUnitOfWork

PG_ADMIN_URL = os.environ.get("ORDERDESK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    """Runs one statement outside a transaction on the PostgreSQL admin database."""
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


def unreachable(reason: str) -> NoReturn:
    """Fails in CI (which starts the services), skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def flushed_redis(url: str) -> AsyncIterator[Redis]:
    """A flushed Redis database, flushed again afterwards (unreachable: failed in CI, skipped elsewhere)."""
    client = Redis.from_url(url)
    try:
        await client.flushdb()
    except Exception as error:  # refused connections and redis's own errors alike
        await client.aclose()
        unreachable(f"Redis at {url} is not reachable: {error!r}")
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """Creates and migrates a throwaway PostgreSQL database for this test session."""
    name = f"orderdesk_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # refused connections and asyncpg's own errors alike
        unreachable(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {error!r}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# The fake unit of work and both databases, for a contract that holds on each of them.
EVERY_BACKEND = ["fake", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of the backend a fixture parameter names: a SQLite file in tmp_path, PostgreSQL, or "fake"."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/backend.sqlite3"
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return "fake"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database under test; the SQLite file sits in a folder that does not exist yet."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/nested/orderdesk.sqlite3"
    url: str = request.getfixturevalue("pg_url")
    return url


async def empty_database(url: str) -> AsyncEngine:
    """Migrates the database, empties it (PostgreSQL is shared by the session) and returns an engine on it."""
    await migrate(url)
    engine = create_engine(url)
    if engine.dialect.name == "postgresql":
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@asynccontextmanager
async def migrated_sqlite(path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a freshly migrated SQLite file; the engine is disposed when the block ends."""
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    engine = create_engine(url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database."""
    engine = await empty_database(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory on the test database."""
    return create_session_factory(engine)


@pytest.fixture
def new_uow(session_factory: async_sessionmaker[AsyncSession]) -> Callable[[], SqlUnitOfWork]:
    """Makes a fresh unit of work for each call."""
    return lambda: SqlUnitOfWork(session_factory)
