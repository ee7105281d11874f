"""Every KPI and report query reads a range of an index on SQLite, never a whole table (issue 16, scale)."""

from __future__ import annotations

from pathlib import Path

from application.kpi import KpiSetup, month_kpis
from application.reports import ReportSetup, compile_report, day_checks
from bench.databases import recorded_selects
from domain.clock import FixedClock
from domain.kpi import Month
from presentation.reports import SupervisionDocuments
from storage.database import create_engine, create_session_factory, migrate
from storage.uow import SqlUnitOfWork
from tests.kpi.conftest import SLA, local, management_chat, queries_of, seed_march

ALL: list[str] = []
LARGE_TABLES = ("orders", "order_audit", "order_clocks", "sla_alerts", "exception_cases", "survey_answers")
# A partial index as small as what it holds: reading all of it is the plan (the complaints only).
SMALL_INDEXES = ("ix_survey_answers_complaints",)


async def test_the_kpi_and_report_queries_search_indexes(
    tmp_path: Path, documents: SupervisionDocuments
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/plans.sqlite3"
    await migrate(url)
    engine = create_engine(url)
    factory = create_session_factory(engine)

    def new_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(factory)

    await seed_march(new_uow, factory)
    kpi = KpiSetup(queries_of, SLA, FixedClock(local(4, 2)))
    setup = ReportSetup(kpi, queries_of, documents, management_chat)
    with recorded_selects(engine) as statements:
        async with new_uow() as uow:
            await month_kpis(uow, kpi, Month(2026, 3))
            await compile_report(uow, setup, Month(2026, 3))
            await day_checks(uow, setup, local(3, 16).date())

    scans = []
    async with engine.connect() as connection:
        for sql, parameters in statements:
            for row in await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters):
                detail = str(row[-1])
                ALL.append(detail)
                large = any(f" {table} " in f" {detail} " for table in LARGE_TABLES)
                if (
                    detail.startswith("SCAN")
                    and large
                    and not any(index in detail for index in SMALL_INDEXES)
                ):
                    scans.append((detail, sql))
    await engine.dispose()
    assert len(statements) >= 20
    print("\n".join(sorted({str(s) for s in ALL})))
    assert scans == []
