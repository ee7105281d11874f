"""Engine settings and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from bot.inbox import CONCURRENCY
from storage.database import alembic_config, create_engine, migrate_apart, writer_lock
from storage.models import Base


async def test_migrations_build_exactly_the_models_schema(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
        head = await connection.scalar(text("SELECT version_num FROM alembic_version"))

    assert diff == []
    assert head == ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()


async def test_sqlite_connections_are_tuned_for_concurrent_writers(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/orderdesk.sqlite3")
    try:
        async with engine.connect() as connection:
            settings = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            ]
    finally:
        await engine.dispose()

    # synchronous=1 is NORMAL
    assert settings == ["wal", 1, 10000, 1]


def test_create_engine_makes_the_folder_of_a_sqlite_file(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "db"

    engine = create_engine(f"sqlite+aiosqlite:///{folder}/orderdesk.sqlite3")

    assert folder.is_dir()
    assert engine.dialect.name == "sqlite"


async def _backend_pid(engine: AsyncEngine) -> int:
    """The server process behind the pooled connection the engine hands out next."""
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _kill(url: str, pid: int) -> None:
    """Ends a server process from another connection, as a server restart or an idle timeout would."""
    killer = create_engine(url)
    try:
        async with killer.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


@pytest.mark.postgres
async def test_a_rested_connection_the_server_dropped_is_replaced_before_use(pg_url: str) -> None:
    """Issue 17: the ping is kept for connections back from a rest, and a dead one never reaches a query."""
    engine = create_engine(pg_url, idle_before_ping=0.0)
    try:
        first = await _backend_pid(engine)
        await _kill(pg_url, first)
        # The pooled connection is dead: the ping finds out and the pool opens a new one.
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_a_connection_in_steady_use_is_not_pinged(pg_url: str) -> None:
    engine = create_engine(pg_url, idle_before_ping=60.0)
    pings = 0
    dialect = engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return real_ping(dbapi_connection)

    dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        pids = {await _backend_pid(engine) for _ in range(5)}
        assert len(pids) == 1
        assert pings == 0
    finally:
        await engine.dispose()


def test_migrations_apart_leave_alembic_out_of_the_caller(tmp_path: Path) -> None:
    """Issue 17: the bot migrates in a child process, so Alembic's modules never load into it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'apart.sqlite3'}"
    script = (
        "import asyncio, sys\n"
        "from storage.database import migrate_apart\n"
        f"asyncio.run(migrate_apart({url!r}))\n"
        "print('alembic' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.strip() == "False"
    tables = sqlite3.connect(tmp_path / "apart.sqlite3").execute("SELECT name FROM sqlite_master").fetchall()
    assert ("alembic_version",) in tables and ("orders",) in tables


async def test_a_failed_migration_apart_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="migrations failed"):
        await migrate_apart(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x'}/..")


@pytest.mark.postgres
async def test_the_pool_keeps_a_connection_for_every_update_processed_at_once(pg_url: str) -> None:
    """Issue 17: with 16 updates at once, a 5-connection pool opened and closed one for most transactions."""
    engine = create_engine(pg_url)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(object()))
    release = asyncio.Event()

    async def transaction() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await release.wait()

    try:
        for _ in range(3):
            release.clear()
            running = [asyncio.create_task(transaction()) for _ in range(CONCURRENCY)]
            # A pool smaller than that holds the rest back; they go once the first are released.
            pool = engine.pool
            assert isinstance(pool, QueuePool)
            for _ in range(200):
                if pool.checkedout() >= CONCURRENCY:
                    break
                await asyncio.sleep(0.01)
            release.set()
            await asyncio.gather(*running)
        # Each round reused the connections of the first: none was closed on its way back.
        assert len(opened) == CONCURRENCY
    finally:
        await engine.dispose()


def _sqlite_engine(tmp_path: Path) -> AsyncEngine:
    """A SQLite engine on a file of its own, without the migrations."""
    return create_engine(f"sqlite+aiosqlite:///{tmp_path}/writers.sqlite3")


async def test_sqlite_statements_run_on_the_loops_thread(tmp_path: Path) -> None:
    """Issue 17: aiosqlite's thread hops (four a statement) are gone; statements run where the loop runs."""
    engine = _sqlite_engine(tmp_path)

    def add_thread_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    event.listen(engine.sync_engine, "connect", add_thread_function)
    try:
        async with engine.connect() as connection:
            thread = (await connection.execute(text("SELECT thread_id()"))).scalar_one()
    finally:
        await engine.dispose()

    assert thread == threading.get_ident()


async def test_sqlite_transactions_outside_a_unit_of_work_queue_on_the_writer_lock(tmp_path: Path) -> None:
    """Issue 17: a second transaction waits on the process's lock, not in SQLite's busy handler."""
    engine = _sqlite_engine(tmp_path)
    first_open, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE scans (waybill TEXT)"))
            first_open.set()
            await release.wait()

    async def second() -> int:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO scans VALUES ('W-1')"))
            return int((await connection.execute(text("SELECT count(*) FROM scans"))).scalar_one())

    try:
        holder = asyncio.create_task(first())
        await first_open.wait()
        waiter = asyncio.create_task(second())
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        # The loop kept running while the second waited, and it waits on the lock the first holds.
        assert ticks == 20 and not waiter.done()
        assert writer_lock(engine).locked()
        release.set()
        await holder
        assert await waiter == 1
        assert not writer_lock(engine).locked()
    finally:
        await engine.dispose()


async def test_a_sqlite_begin_refused_by_another_process_frees_the_writer_lock(tmp_path: Path) -> None:
    """A BEGIN that fails (another process holds the database) leaves the lock free for the next."""
    engine = _sqlite_engine(tmp_path)

    def fail_at_once(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    event.listen(engine.sync_engine, "connect", fail_at_once)
    other = sqlite3.connect(tmp_path / "writers.sqlite3", isolation_level=None)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE scans (waybill TEXT)"))
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO scans VALUES ('W-1')"))
        assert not writer_lock(engine).locked()
        other.execute("COMMIT")
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO scans VALUES ('W-2')"))
            assert (await connection.execute(text("SELECT waybill FROM scans"))).scalars().all() == ["W-2"]
    finally:
        other.close()
        await engine.dispose()
