"""What the benchmarks share: their arguments, a fresh SQLite file and a throwaway PostgreSQL database."""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.database import migrate

PG_ADMIN_URL = os.environ.get("ORDERDESK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@contextmanager
def recorded_selects(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Records the SELECT statements the engine runs inside the block, with their parameters."""
    statements: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def sqlite_value(value: Any) -> Any:
    """Writes a value the way SQLAlchemy stores it on SQLite (naive UTC text, numbers as text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, Decimal):
        return str(value)
    return value


Batch = dict[str, list[dict[str, Any]]]  # rows to bulk-insert, by table


def load_sqlite(path: Path, batches: Iterable[Batch]) -> None:
    """Bulk-inserts with the standard library driver (executemany): what makes millions of rows quick."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    for batch in batches:
        for table, rows in batch.items():
            if not rows:
                continue
            columns = list(rows[0])
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [[sqlite_value(row[column]) for column in columns] for row in rows],
            )
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def load_postgres(url: str, batches: Iterable[Batch]) -> None:
    """Bulk-loads with COPY through asyncpg."""
    import asyncpg  # only the benchmarks talk to the driver directly

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        for batch in batches:
            for table, rows in batch.items():
                if not rows:
                    continue
                columns = list(rows[0])
                records = [tuple(row[column] for column in columns) for row in rows]
                await connection.copy_records_to_table(table, records=records, columns=columns)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str | None]:
    """Yields the URL of a fresh PostgreSQL database, dropped afterwards; None if the server is down."""
    name = f"orderdesk_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # refused connections and driver errors alike
        print(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(error).__name__}; skipped")
        await admin.dispose()
        yield None
        return
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every benchmark takes: how many orders, and which databases to leave out."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    return parser


async def run_benchmarks(
    args: argparse.Namespace,
    batches: Callable[[], Iterable[Batch]],
    seeded: str,
    measure: Callable[[str], Awaitable[None]],
) -> None:
    """Migrates, seeds (timed) and measures a fresh SQLite file and a throwaway PostgreSQL database."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.sqlite3"
            url = f"sqlite+aiosqlite:///{path}"
            await migrate(url)
            started = time.perf_counter()
            load_sqlite(path, batches())
            print(f"SQLite: seeded {seeded} in {time.perf_counter() - started:.0f} s")
            await measure(url)
    if args.no_postgres:
        return
    async with throwaway_postgres() as postgres_url:
        if postgres_url is None:
            return
        await migrate(postgres_url)
        started = time.perf_counter()
        await load_postgres(postgres_url, batches())
        print(f"PostgreSQL: seeded {seeded} in {time.perf_counter() - started:.0f} s")
        await measure(postgres_url)


def order_row(order_id: str, number: int, status: str, created: datetime, **changes: Any) -> dict[str, Any]:
    """The orders row of one bench order (air freight to Berlin, by card), with the given changes."""
    return {
        "id": order_id,
        "reference": f"R-{number:08d}",
        "status": status,
        "service": "air_freight",
        "channel": "telegram",
        "customer_name": "Bench",
        "customer_language": "en",
        "address_country": "DE",
        "address_city": "Berlin",
        "address_street": "Unter den Linden 1",
        "items": "[]",
        "payment_method": "card",
        "amount": Decimal("10.00"),
        "currency": "EUR",
        "paid": False,
        "remarks": "",
        "urgent": False,
        "created_at": created,
        "updated_at": created,
        "version": 1,
    } | changes
