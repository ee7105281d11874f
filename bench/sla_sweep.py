"""Times one SLA sweep over many orders and prints the query plans, on SQLite and (if reachable) PostgreSQL.

    .venv/bin/python -m bench.sla_sweep                # 1,000,000 orders, 10,000 of them overdue
    .venv/bin/python -m bench.sla_sweep --orders 100000 --overdue 1000 --no-postgres

Each order has one stage clock: the overdue ones are running past their due time, 30 % of the
rest are running and due within the next month, the others finished long ago. The sweep must
find the overdue clocks through an index on the due time, not by scanning every clock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from application.sla_sweeps import SlaSweeper, SweepSettings
from domain.clock import FixedClock
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, risk_thresholds
from domain.sla.policy import Stage, load_policy
from presentation.sla_alerts import SlaAlertTexts
from storage.database import create_engine, create_session_factory, migrate
from storage.sla_repository import breach_query, warning_query
from storage.uow import SqlUnitOfWork

NOW = datetime(2026, 3, 16, 2, tzinfo=UTC)
STAGES = [
    Stage.FIRST_REVIEW,
    Stage.CONFIRMATION,
    Stage.PICKING,
    Stage.OUTBOUND,
    Stage.BOOKING,
    Stage.CLEARANCE,
]
CHUNK = 50_000
PG_ADMIN_URL = os.environ.get("ORDERDESK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TEAM_CHATS = {"order_desk": -1, "warehouse": -2, "logistics": -3, "customer_service": -4, "finance": -5}


def rows(orders: int, overdue: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yields (order, clock) column values; the first `overdue` clocks are running and past due."""
    rng = random.Random(6)
    for number in range(orders):
        order_id = f"{number:08d}-0000-4000-8000-{secrets.token_hex(6)}"
        created = NOW - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
        stage = STAGES[number % len(STAGES)]
        if number < overdue:
            due, finished = NOW - timedelta(minutes=rng.randint(1, 3000)), None
        elif rng.random() < 0.3:
            due, finished = NOW + timedelta(minutes=rng.randint(1, 43_200)), None
        else:
            due = created + timedelta(hours=2)
            finished = due - timedelta(minutes=5)
        order = {
            "id": order_id,
            "reference": f"R-{number:08d}",
            "status": "pending_review",
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
        }
        clock = {
            "order_id": order_id,
            "stage": stage.value,
            "started_at": due - timedelta(hours=2),
            "due_at": due,
            "finished_at": finished,
            "met": True if finished else None,
        }
        yield order, clock


def chunks(orders: int, overdue: int) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Groups the rows for bulk inserts."""
    batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for pair in rows(orders, overdue):
        batch.append(pair)
        if len(batch) == CHUNK:
            yield [order for order, _ in batch], [clock for _, clock in batch]
            batch = []
    if batch:
        yield [order for order, _ in batch], [clock for _, clock in batch]


def _sqlite_value(value: Any) -> Any:
    """Writes a value the way SQLAlchemy stores it on SQLite (naive UTC text, numbers as text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, Decimal):
        return str(value)
    return value


def seed_sqlite(path: Path, orders: int, overdue: int) -> None:
    """Bulk-inserts with the standard library driver (executemany), which is what makes 1M rows quick."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    for order_batch, clock_batch in chunks(orders, overdue):
        for table, batch in (("orders", order_batch), ("order_clocks", clock_batch)):
            columns = list(batch[0])
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [[_sqlite_value(row[column]) for column in columns] for row in batch],
            )
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def seed_postgres(url: str, orders: int, overdue: int) -> None:
    """Bulk-loads with COPY through asyncpg."""
    import asyncpg  # only the benchmark talks to the driver directly

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        for order_batch, clock_batch in chunks(orders, overdue):
            for table, batch in (("orders", order_batch), ("order_clocks", clock_batch)):
                columns = list(batch[0])
                records = [tuple(row[column] for column in columns) for row in batch]
                await connection.copy_records_to_table(table, records=records, columns=columns)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def explain(engine: AsyncEngine, sla: SlaContext) -> None:
    """Prints the plans of the breach and warning queries."""
    dialect = engine.dialect.name
    compile_dialect = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()
    for name, stmt in (
        ("breach sweep", breach_query(NOW, 1000)),
        ("warning sweep", warning_query(risk_thresholds(sla, NOW), NOW, 1000)),
    ):
        sql = str(stmt.compile(dialect=compile_dialect, compile_kwargs={"literal_binds": True}))
        if dialect == "sqlite":
            # SQLite stores the naive UTC text SQLAlchemy writes; literal binds would render offsets.
            sql = sql.replace("+00:00", "")
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, COSTS OFF) "
        async with engine.connect() as connection:
            started = time.perf_counter()
            plan = (await connection.execute(text(prefix + sql))).all()
            elapsed = time.perf_counter() - started
        print(f"  plan of the {name} ({elapsed * 1000:.1f} ms):")
        for line in plan:
            print("    " + (str(line[-1]) if dialect == "sqlite" else str(line[0])))


def formatted(msgid: str, locale: str, /, **params: Any) -> str:
    """Renders a text as its msgid with the parameters filled in (no catalogs in the benchmark)."""
    return msgid.format(**params)


async def sweep_once(url: str, sla: SlaContext) -> None:
    """Runs and times two real sweeps."""
    engine = create_engine(url)
    try:
        await explain(engine, sla)
        factory = create_session_factory(engine)
        sweeper = SlaSweeper(
            uow_factory=lambda: SqlUnitOfWork(factory),
            clock=FixedClock(NOW),
            sla=sla,
            team_chats=TEAM_CHATS,
            texts=SlaAlertTexts(formatted),
            settings=SweepSettings(),
        )
        # Each sweep records at most batch_limit (1000) breaches and warnings; the rest wait for the next.
        for label in ("sweep 1", "sweep 2"):
            started = time.perf_counter()
            report = await sweeper.sweep()
            elapsed = time.perf_counter() - started
            print(
                f"  {label}: {elapsed * 1000:.0f} ms, {report.breaches} breaches, "
                f"{report.warnings} warnings, {report.messages} messages, {report.deferred} deferred"
            )
    finally:
        await engine.dispose()


async def bench_sqlite(orders: int, overdue: int, sla: SlaContext) -> None:
    """Seeds and sweeps a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        started = time.perf_counter()
        seed_sqlite(path, orders, overdue)
        print(
            f"SQLite: seeded {orders:,} orders ({overdue:,} overdue) in {time.perf_counter() - started:.0f} s"
        )
        await sweep_once(url, sla)


async def bench_postgres(orders: int, overdue: int, sla: SlaContext) -> None:
    """Seeds and sweeps a throwaway PostgreSQL database, if the server is reachable."""
    name = f"orderdesk_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # refused connections and driver errors alike
        print(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(error).__name__}; skipped")
        await admin.dispose()
        return
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate(url)
        started = time.perf_counter()
        await seed_postgres(url, orders, overdue)
        print(
            f"PostgreSQL: seeded {orders:,} orders ({overdue:,} overdue) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        await sweep_once(url, sla)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    """Parses the arguments and runs the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--overdue", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sla = SlaContext(load_policy(), BusinessCalendar())
    if not args.no_sqlite:
        await bench_sqlite(args.orders, args.overdue, sla)
    if not args.no_postgres:
        await bench_postgres(args.orders, args.overdue, sla)


if __name__ == "__main__":
    asyncio.run(main())
