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

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from application.kpi import KpiSetup, month_kpis
from application.reports import ReportSetup, compile_report
from bench.databases import Batch, benchmark_parser, order_row, recorded_selects, run_benchmarks
from bot.app import kpi_queries_of
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.kpi import Month, department_lookup
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.reports import SupervisionDocuments
from storage.database import create_engine, create_session_factory
from storage.uow import SqlUnitOfWork

ZONE = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2025, 1, 1, tzinfo=ZONE).astimezone(UTC)
YEAR = timedelta(days=365)
MONTH = Month(2025, 12)
NOW = datetime(2026, 1, 2, 10, tzinfo=ZONE).astimezone(UTC)
CHUNK = 20_000
PLAN_WIDTH = 200
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
        order_row(
            order_id,
            number,
            "completed",
            created,
            channel="hotline" if number % 10 == 0 else "telegram",
            paid=True,
        )
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


def chunks(orders: int) -> Iterator[Batch]:
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


def batches(orders: int) -> Iterator[Batch]:
    """Every row to seed: the orders' in chunks, then the tracking log."""
    yield from chunks(orders)
    yield {"tracking_log": tracking_rows()}


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
    try:
        uow_factory, kpi, report_setup = setups(engine, sla)
        async with uow_factory() as uow:  # warm the connection pool and the catalogs
            await month_kpis(uow, kpi, MONTH.previous())
        with recorded_selects(engine) as statements:
            started = time.perf_counter()
            async with uow_factory() as uow:
                card = await month_kpis(uow, kpi, MONTH)
            elapsed = time.perf_counter() - started
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


async def main() -> None:
    """Parses the arguments and runs the benchmarks."""
    args = benchmark_parser(__doc__).parse_args()
    sla = SlaContext(load_policy(), BusinessCalendar("Asia/Shanghai"))
    orders = args.orders
    await run_benchmarks(
        args,
        lambda: batches(orders),
        f"{orders:,} orders, {orders * len(ACTIONS):,} audit lines, {orders * len(STAGES):,} clocks",
        lambda url: measure(url, sla),
    )


if __name__ == "__main__":
    asyncio.run(main())
