"""Engine, session factory and migrations for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where migrations run, not with the bot: its modules cost a running instance
# tens of megabytes (issue 17), and the bot migrates in a child process (migrate_apart).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PROJECT = MIGRATIONS.parents[1]
# Seconds a pooled PostgreSQL connection may rest before it is pinged at its next use.
IDLE_BEFORE_PING = 5.0
_IDLE_SINCE = "idle_since"
# Connections the pool keeps open: the updates processed at once (bot.inbox.CONCURRENCY, 16) and
# the inbox, outbox and scheduler beside them. A smaller pool opened and closed a connection for
# most transactions under load (issue 17). With the overflow, an instance holds at most 25
# PostgreSQL connections: three instances stay within the server's default of 100.
POOL_SIZE = 20
POOL_OVERFLOW = 5

# Write transactions a job may run side by side (the SLA sweep's chats): PostgreSQL runs them at
# once; SQLite has one writer, so there they queue and gain nothing.
PARALLEL_WRITERS = 4


def parallel_writers(url: str) -> int:
    """How many write transactions of one job are worth running at once on this database."""
    return 1 if make_url(url).get_backend_name() == "sqlite" else PARALLEL_WRITERS


_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
)


def create_engine(url: str, *, idle_before_ping: float = IDLE_BEFORE_PING) -> AsyncEngine:
    """Creates the async engine, tuned for safe concurrent writers on SQLite; SQL parameters stay hidden.

    On PostgreSQL a pooled connection that sat idle for idle_before_ping seconds is pinged before
    use and replaced if the server dropped it (a restart, an idle timeout); one in steady use is
    not, which saves a round trip per transaction (issue 17).
    """
    parsed = make_url(url)
    # Parameters are names, phones and addresses: kept out of SQLAlchemy's logs and error messages.
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
        )
        event.listen(engine.sync_engine, "checkin", _note_idle_since)
        event.listen(
            engine.sync_engine, "checkout", _ping_after_idle(engine.sync_engine.dialect, idle_before_ping)
        )
        return engine
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _note_idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    """Remembers when a connection went back to the pool."""
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_after_idle(dialect: Dialect, idle_before_ping: float) -> Callable[..., None]:
    """A checkout hook that pings a connection back from a long rest, and has the pool replace a dead one."""

    def check(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_before_ping:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the pooled connection did not answer a ping") from error
        if not alive:
            raise DisconnectionError("the pooled connection did not answer a ping")

    return check


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Sets the pragmas and takes transaction control away from the driver."""
    # The driver would otherwise BEGIN lazily (deferred) and only for DML; we emit our own BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    """Starts every SQLite transaction holding the write lock."""
    # A deferred transaction that reads and then writes fails with "database is locked" when another
    # writer got there first; taking the lock up front makes writers queue on busy_timeout instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Creates the session factory the units of work open sessions from."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Builds the Alembic configuration in code (there is no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str) -> None:
    """Applies all Alembic migrations up to head."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade, alembic_config(url))
            await connection.commit()
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> None:
    """Runs the synchronous Alembic upgrade on an already open connection."""
    from alembic import command

    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate_apart(url: str) -> None:
    """Applies the migrations in a child process, so that Alembic never loads into the caller."""
    # Same working folder (a relative SQLite path means the same file); the project importable from it.
    path = os.pathsep.join(filter(None, (str(PROJECT), os.environ.get("PYTHONPATH"))))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "storage.migrate",
        stdin=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )
    # The URL may hold a password: it goes through the pipe, not the command line others can read.
    await process.communicate(url.encode())
    if process.returncode != 0:
        raise RuntimeError(f"the migrations failed (exit status {process.returncode}); see the log above")
