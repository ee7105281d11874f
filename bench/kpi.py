"""Times /kpi and the monthly supervision report over many orders, on SQLite and (if reachable) PostgreSQL.

    .venv/bin/python -m bench.kpi                       # 1,000,000 orders, 10,000,000 audit lines
    .venv/bin/python -m bench.kpi --orders 100000 --no-postgres

The orders are spread evenly over the twelve months of 2025; each has ten audit lines (a few of
them rejections, count mismatches and customs holds), five stage clocks (about 2 % late, the last
ones of the year still running), and some have an SLA alert, an exception case and a survey
answer. The month measured is December 2025, "now" 2 January 2026: /kpi is the four KPIs of the
company (`month_kpis`); the report is `compile_report` (its facts and two months of KPIs), then its
PDF and XLSX. The plan of every query /kpi runs is printed: each must read a range of an index,
never scan a whole table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from application.kpi import KpiSetup, month_kpis
from application.reports import ReportSetup, compile_report
from bot.app import kpi_queries_of
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.kpi import Month, department_lookup
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy import load_policy
from presentation.reports import SupervisionDocuments
from storage.database import create_engine, create_session_factory, migrate
from storage.uow import SqlUnitOfWork

ZONE = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2025, 1, 1, tzinfo=ZONE).astimezone(UTC)
YEAR = timedelta(days=365)
MONTH = Month(2025, 12)
NOW = datetime(2026, 1, 2, 10, tzinfo=ZONE).astimezone(UTC)
CHUNK = 20_000
PLAN_WIDTH = 200
PG_ADMIN_URL = os.environ.get("ORDERDESK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
ACTIONS = (
    "submit",
    "pass_validation",
    "approve",
    "confirm",
    "assign_number",
    "pick",
    "outbound_scan",
    "book",
    "deliver",
    "confirm_receipt",
)
STAGES = (("first_review", 2), ("confirmation", 1), ("picking", 24), ("outbound", 6), ("booking", 24))
TABLES = ("orders", "order_audit", "order_clocks", "sla_alerts", "exception_cases", "survey_answers")


def order_rows(number: int, orders: int) -> dict[str, list[dict[str, Any]]]:
    """The rows of one order in every table (clock ids are 5 * number + 1 ... + 5, in insert order)."""
    order_id = f"{number:08d}-0000-4000-8000-{secrets.token_hex(6)}"
    created = YEAR_START + YEAR * number / orders + timedelta(minutes=number % 90)
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    rows["orders"].append(
        {
            "id": order_id,
            "reference": f"R-{number:08d}",
            "status": "completed",
            "service": "air_freight",
            "channel": "hotline" if number % 10 == 0 else "telegram",
            "customer_name": "Bench",
            "customer_language": "en",
            "address_country": "DE",
            "address_city": "Berlin",
            "address_street": "Unter den Linden 1",
            "items": "[]",
            "payment_method": "card",
            "amount": Decimal("10.00"),
            "currency": "EUR",
            "paid": True,
            "remarks": "",
            "urgent": False,
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
    )
    for step, action in enumerate(ACTIONS):
        note = ""
        if step == 2 and number % 97 == 0:
            action, note = "reject", "inconsistent: wrong address"
        elif step == 5 and number % 331 == 0:
            action = "pick_mismatch"
        elif step == 7 and number % 211 == 0:
            action = "hold_at_customs"
        rows["order_audit"].append(
            {
                "order_id": order_id,
                "at": created + timedelta(hours=3 * step),
                "actor_id": 1000 + number % 50,
                "actor_role": "order_desk",
                "action": action,
                "from_status": "submitted",
                "to_status": "submitted",
                "note": note,
            }
        )
    for index, (stage, hours) in enumerate(STAGES):
        started = created + timedelta(hours=3 * index)
        due = started + timedelta(hours=hours)
        late = (number * 7 + index) % 50 == 0
        finished = None if created > NOW - timedelta(days=2) else due + timedelta(minutes=30 if late else -30)
        rows["order_clocks"].append(
            {
                "order_id": order_id,
                "stage": stage,
                "started_at": started,
                "due_at": due,
                "finished_at": finished,
                "met": None if finished is None else not late,
            }
        )
    if number % 100 == 0:
        alert_at = created + timedelta(hours=30)
        rows["sla_alerts"].append(
            {
                "order_id": order_id,
                "clock_id": 5 * number + 3,
                "stage": "picking",
                "kind": "breach",
                "department": "warehouse",
                "created_at": alert_at,
                "acknowledged_at": alert_at + timedelta(minutes=10) if number % 200 == 0 else None,
                "escalation_level": 0 if number % 200 == 0 else 1,
                "escalated_at": None if number % 200 == 0 else alert_at + timedelta(minutes=30),
            }
        )
    if number % 200 == 0:
        rows["exception_cases"].append(
            {
                "order_id": order_id,
                "type": "delay" if number % 400 == 0 else "damaged",
                "department": "logistics",
                "opened_at": created + timedelta(hours=20),
                "closed_at": created + timedelta(days=2),
                "satisfied": (number // 200) % 10 != 0,
                "answered_at": created + timedelta(days=2),
            }
        )
    if number % 3 == 0:
        rows["survey_answers"].append(
            {
                "order_id": order_id,
                "rating": 1 if number % 150 == 0 else 5,
                "complaint": number % 150 == 0,
                "answered_at": created + timedelta(days=3),
            }
        )
    return rows


def chunks(orders: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Groups the rows of CHUNK orders per table, for bulk inserts."""
    batch: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for number in range(orders):
        for table, rows in order_rows(number, orders).items():
            batch[table] += rows
        if (number + 1) % CHUNK == 0:
            yield batch
            batch = {table: [] for table in TABLES}
    if batch["orders"]:
        yield batch


def tracking_rows() -> list[dict[str, Any]]:
    """The 09:00 and 15:00 progress checks of every day of 2025."""
    rows = []
    day = datetime(2025, 1, 1, tzinfo=ZONE)
    while day.year == 2025:
        for hour in (9, 15):
            moment = day.replace(hour=hour)
            rows.append(
                {"slot": f"{moment:%Y-%m-%d}T{hour:02d}:00", "at": moment.astimezone(UTC), "content": "{}"}
            )
        day += timedelta(days=1)
    return rows


def _sqlite_value(value: Any) -> Any:
    """Writes a value the way SQLAlchemy stores it on SQLite (naive UTC text, numbers as text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _insert_sqlite(connection: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk-inserts rows of one table."""
    if not rows:
        return
    columns = list(rows[0])
    connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [[_sqlite_value(row[column]) for column in columns] for row in rows],
    )


def seed_sqlite(path: Path, orders: int) -> None:
    """Bulk-inserts with the standard library driver (executemany): what makes millions of rows quick."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    for batch in chunks(orders):
        for table in TABLES:
            _insert_sqlite(connection, table, batch[table])
        connection.commit()
    _insert_sqlite(connection, "tracking_log", tracking_rows())
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


async def seed_postgres(url: str, orders: int) -> None:
    """Bulk-loads with COPY through asyncpg."""
    import asyncpg  # only the benchmark talks to the driver directly

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        batches = [*chunks(orders), {"tracking_log": tracking_rows()}]
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


def setups(engine: AsyncEngine, sla: SlaContext) -> tuple[Callable[[], SqlUnitOfWork], KpiSetup, ReportSetup]:
    """The unit-of-work factory and the KPI and report setups on the bench database."""
    factory = create_session_factory(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(factory)

    async def management(uow: object, department: str) -> int | None:
        return -6

    kpi = KpiSetup(kpi_queries_of, sla, FixedClock(NOW))
    documents = SupervisionDocuments(create_i18n("en"), "Asia/Shanghai", department_lookup(sla.policy))
    return uow, kpi, ReportSetup(kpi, kpi_queries_of, documents, management)


async def explain(engine: AsyncEngine, statements: list[tuple[str, Any]]) -> None:
    """Prints the plan of every statement /kpi ran."""
    dialect = engine.dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (COSTS OFF) "
    async with engine.connect() as connection:
        for number, (sql, parameters) in enumerate(statements, start=1):
            plan = (await connection.exec_driver_sql(prefix + sql, parameters)).all()
            print(f"  plan of /kpi query {number}:")
            for line in plan:
                detail = str(line[-1]) if dialect == "sqlite" else str(line[0])
                # PostgreSQL writes the order ids of an IN (...) list out: keep the plan readable.
                print("    " + (detail if len(detail) <= PLAN_WIDTH else detail[:PLAN_WIDTH] + " …"))


async def measure(url: str, sla: SlaContext) -> None:
    """Times /kpi and the report on the seeded database, and prints the plans of /kpi's queries."""
    engine = create_engine(url)
    statements: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    try:
        uow_factory, kpi, report_setup = setups(engine, sla)
        async with uow_factory() as uow:  # warm the connection pool and the catalogs
            await month_kpis(uow, kpi, MONTH.previous())
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        started = time.perf_counter()
        async with uow_factory() as uow:
            card = await month_kpis(uow, kpi, MONTH)
        elapsed = time.perf_counter() - started
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        figures = ", ".join(
            f"{kpi_name} {figure.ratio.percent} %" for kpi_name, figure in card.figures.items()
        )
        print(f"  /kpi {MONTH}: {elapsed * 1000:.0f} ms ({figures})")
        started = time.perf_counter()
        async with uow_factory() as uow:
            report = await compile_report(uow, report_setup, MONTH)
        compiled = time.perf_counter() - started
        started = time.perf_counter()
        files = report_setup.documents.files(report, "en")
        rendered = time.perf_counter() - started
        sizes = ", ".join(
            f"{file.document.filename} {len(file.document.content) // 1024} KiB" for file in files
        )
        print(f"  monthly report {MONTH}: queries {compiled * 1000:.0f} ms, ", end="")
        print(f"PDF and XLSX {rendered * 1000:.0f} ms ({sizes})")
        await explain(engine, statements)
    finally:
        await engine.dispose()


async def bench_sqlite(orders: int, sla: SlaContext) -> None:
    """Seeds and measures a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate(url)
        started = time.perf_counter()
        seed_sqlite(path, orders)
        print(
            f"SQLite: seeded {orders:,} orders, {orders * len(ACTIONS):,} audit lines, "
            f"{orders * len(STAGES):,} clocks in {time.perf_counter() - started:.0f} s"
        )
        await measure(url, sla)


async def bench_postgres(orders: int, sla: SlaContext) -> None:
    """Seeds and measures a throwaway PostgreSQL database, if the server is reachable."""
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
        await seed_postgres(url, orders)
        print(
            f"PostgreSQL: seeded {orders:,} orders, {orders * len(ACTIONS):,} audit lines, "
            f"{orders * len(STAGES):,} clocks in {time.perf_counter() - started:.0f} s"
        )
        await measure(url, sla)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> None:
    """Parses the arguments and runs the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sla = SlaContext(load_policy(), BusinessCalendar("Asia/Shanghai"))
    if not args.no_sqlite:
        await bench_sqlite(args.orders, sla)
    if not args.no_postgres:
        await bench_postgres(args.orders, sla)


if __name__ == "__main__":
    asyncio.run(main())
