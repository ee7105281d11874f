"""Engine, session factory and migrations for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import aiosqlite
from sqlalchemy import Connection, Dialect, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

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

    async def connect() -> aiosqlite.Connection:
        """Opens a driver connection with the URL's own arguments, its statements run inline."""
        dialect = engine.sync_engine.dialect
        (database, *_), options = dialect.create_connect_args(engine.sync_engine.url)
        # Used from the loop's thread, opened and closed in aiosqlite's: never at the same time.
        options["check_same_thread"] = False
        connection = InlineSqliteConnection(lambda: sqlite3.connect(str(database), **options), 64)
        connection._thread.daemon = True
        return await connection

    engine = create_async_engine(
        url, hide_parameters=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, async_creator=connect
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    for end in ("commit", "rollback"):
        event.listen(engine.sync_engine, end, _release_writer)
    # A connection whose transaction ended without either event (it broke) still frees the writer.
    event.listen(engine.sync_engine, "checkin", _release_checked_in_writer)
    return engine


class InlineSqliteConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run on the event loop's thread (issue 17).

    aiosqlite hands every call (cursor, execute, fetch, close of a cursor) to its worker thread and
    back: four thread hops a statement, each waking the loop through its self-pipe, several times
    the cost of the statement itself on a local file. A statement here takes tens of microseconds,
    and since every transaction first waits for the process's writer lock (below) no statement
    waits for another of this process; what waits is a statement behind another process's write
    lock (busy_timeout), which then holds up the loop too. Opening and closing a connection still
    happen on aiosqlite's thread.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs one call of the sqlite3 connection now, where aiosqlite would queue it to its thread."""
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


# SQLite has one writer at a time, and every transaction here takes the write lock (BEGIN IMMEDIATE).
# Transactions of one process queue on an asyncio lock instead of SQLite's busy handler, whose
# sleeps (up to 100 ms each) would leave the process idle while the lock is already free, and
# whose waits, with statements run on the loop's thread, would stop the loop (issue 17).
_SQLITE_WRITERS: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()
# Whether the current task holds its database's writer lock for a unit of work (storage.uow): its
# own transactions, and a nested unit of work, must not wait for it.
HOLDS_WRITER: ContextVar[bool] = ContextVar("holds_sqlite_writer", default=False)
# Where a connection keeps the writer lock its transaction took.
_WRITER_TAKEN = "sqlite_writer_taken"


def writer_lock(engine: AsyncEngine | Engine) -> asyncio.Lock:
    """The in-process writer lock of a SQLite database's engine."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    lock = _SQLITE_WRITERS.get(sync_engine)
    if lock is None:
        lock = _SQLITE_WRITERS[sync_engine] = asyncio.Lock()
    return lock


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
    """Starts every SQLite transaction holding the write lock, after the process's writer lock."""
    if not HOLDS_WRITER.get():
        lock = writer_lock(connection.engine)
        # The event runs inside SQLAlchemy's greenlet: the wait gives the loop back to other tasks.
        await_(lock.acquire())
        connection.info[_WRITER_TAKEN] = lock
    # A deferred transaction that reads and then writes fails with "database is locked" when another
    # writer got there first; taking the lock up front makes writers queue on busy_timeout instead.
    try:
        _execute_now(connection, "BEGIN IMMEDIATE")
    except BaseException:
        _release_writer(connection)
        raise


def _execute_now(connection: Connection, sql: str) -> None:
    """Runs a statement without parameters or rows straight on the sqlite3 connection under an inline one.

    A BEGIN through SQLAlchemy's statement execution took an execution context, a cursor and four
    hops between greenlets: some 16 of the 270 microseconds of a one-insert transaction (issue 17).
    """
    sqlite_connection = inline_sqlite_of(connection)
    if sqlite_connection is None:
        connection.exec_driver_sql(sql)
    else:
        run_inline(sqlite_connection, sql)


def inline_sqlite_of(connection: Connection) -> sqlite3.Connection | None:
    """The sqlite3 connection under a connection of the inline SQLite driver; None under any other."""
    driver = connection.connection.driver_connection
    return driver._connection if isinstance(driver, InlineSqliteConnection) else None


def run_inline(
    sqlite_connection: sqlite3.Connection, sql: str, parameters: tuple[Any, ...] = ()
) -> sqlite3.Cursor:
    """Runs a statement on a sqlite3 connection; an error comes as SQLAlchemy's own (IntegrityError...)."""
    try:
        return sqlite_connection.execute(sql, parameters)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error


def _release_writer(connection: Connection) -> None:
    """Frees the writer lock the connection's transaction took, once it has ended."""
    lock = connection.info.pop(_WRITER_TAKEN, None)
    if lock is not None:
        lock.release()


def _release_checked_in_writer(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    """Frees the writer lock of a connection back in the pool whose transaction ended unseen."""
    lock = record.info.pop(_WRITER_TAKEN, None)
    if lock is not None:
        lock.release()


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
