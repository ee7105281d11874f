"""The KPI and supervision queries on the fixed month of conftest.py, on SQLite and PostgreSQL (R-8)."""

from __future__ import annotations

import pytest

from application.kpi import KpiSetup, month_kpis
from application.reports import ReportSetup, compile_report, day_checks
from domain.kpi import Kpi, KpiCard, Month, Ratio, Verdict
from domain.kpi_report import (
    AlertTally,
    ChaseKind,
    ExceptionCaseTally,
    ExceptionMark,
    LateClosure,
    OverdueTally,
)
from domain.orders.status import Role
from tests.kpi.conftest import CLERK, PICKER, REVIEWER, Sessions, UowFactory, local, seed_march

MARCH = Month(2026, 3)


@pytest.fixture(autouse=True)
async def march(new_uow: UowFactory, session_factory: Sessions) -> None:
    """Every test reads the fixed month of conftest.py."""
    await seed_march(new_uow, session_factory)


async def kpis(
    new_uow: UowFactory, kpi_setup: KpiSetup, month: Month, scope: frozenset[Role] | None = None
) -> KpiCard:
    """The KPIs of a month, worked out in a unit of work of their own."""
    async with new_uow() as uow:
        return await month_kpis(uow, kpi_setup, month, scope)


async def test_the_four_kpis_of_the_month_are_the_ones_worked_out_by_hand(
    new_uow: UowFactory, kpi_setup: KpiSetup
) -> None:
    card = await kpis(new_uow, kpi_setup, MARCH)

    assert card.figure(Kpi.ACCURACY).ratio == Ratio(6, 9)
    assert card.figure(Kpi.ON_TIME).ratio == Ratio(5, 8)
    assert card.figure(Kpi.EXCEPTION_SATISFACTION).ratio == Ratio(2, 3)
    assert card.figure(Kpi.COMPLAINT_RATE).ratio == Ratio(2, 4)
    assert {kpi: figure.verdict for kpi, figure in card.figures.items()} == dict.fromkeys(Kpi, Verdict.MISSED)


async def test_the_kpis_break_down_by_department_and_step(new_uow: UowFactory, kpi_setup: KpiSetup) -> None:
    card = await kpis(new_uow, kpi_setup, MARCH)

    by_department = {
        department: tuple(
            figures[kpi].ratio for kpi in (Kpi.ACCURACY, Kpi.ON_TIME, Kpi.EXCEPTION_SATISFACTION)
        )
        for department, figures in card.departments.items()
    }
    assert by_department == {
        Role.ORDER_DESK: (Ratio(8, 9), Ratio(3, 5), Ratio(0, 0)),
        Role.ORDER_DESK_HEAD: (Ratio(9, 9), Ratio(0, 0), Ratio(0, 0)),
        Role.WAREHOUSE: (Ratio(7, 9), Ratio(1, 2), Ratio(0, 0)),
        Role.LOGISTICS: (Ratio(9, 9), Ratio(1, 1), Ratio(1, 2)),
        Role.CUSTOMER_SERVICE: (Ratio(9, 9), Ratio(0, 0), Ratio(1, 1)),
        Role.FINANCE: (Ratio(9, 9), Ratio(0, 0), Ratio(0, 0)),
    }
    # The paused first review (4.5 h on the wall clock, 1.5 h counted) is on time; steps in workflow order.
    assert card.steps == {
        "entry_urgent": Ratio(0, 1),
        "first_review": Ratio(3, 4),
        "picking": Ratio(1, 2),
        "booking": Ratio(1, 1),
    }


async def test_a_team_sees_its_own_figures_and_the_company_complaint_rate(
    new_uow: UowFactory, kpi_setup: KpiSetup
) -> None:
    card = await kpis(new_uow, kpi_setup, MARCH, frozenset({Role.WAREHOUSE}))

    assert card.figure(Kpi.ACCURACY).ratio == Ratio(7, 9)
    assert card.figure(Kpi.ON_TIME).ratio == Ratio(1, 2)
    assert card.figure(Kpi.EXCEPTION_SATISFACTION).ratio == Ratio(0, 0)
    assert card.figure(Kpi.EXCEPTION_SATISFACTION).verdict is Verdict.NO_DATA
    assert card.figure(Kpi.COMPLAINT_RATE).ratio == Ratio(2, 4)
    assert list(card.departments) == [Role.WAREHOUSE]
    assert card.steps == {"picking": Ratio(1, 2)}


async def test_months_are_cut_at_midnight_in_the_company_time_zone(
    new_uow: UowFactory, kpi_setup: KpiSetup
) -> None:
    february = await kpis(new_uow, kpi_setup, Month(2026, 2))
    april = await kpis(new_uow, kpi_setup, Month(2026, 4))

    # O11 (23:59 on Feb 28 local) and its first review are February's; nothing else is.
    assert february.figure(Kpi.ACCURACY).ratio == Ratio(1, 1)
    assert february.figure(Kpi.ON_TIME).ratio == Ratio(1, 1)
    assert february.figure(Kpi.COMPLAINT_RATE).verdict is Verdict.NO_DATA
    # O10 (00:10 on Apr 1 local) with its mismatch; the booking clock closed at 00:00 on Apr 1; O10 completed.
    assert april.figure(Kpi.ACCURACY).ratio == Ratio(0, 1)
    assert april.figure(Kpi.ON_TIME).ratio == Ratio(1, 1)
    assert april.figure(Kpi.EXCEPTION_SATISFACTION).ratio == Ratio(0, 1)
    assert april.figure(Kpi.COMPLAINT_RATE).ratio == Ratio(1, 1)


async def test_the_supervision_facts_of_the_month(new_uow: UowFactory, report_setup: ReportSetup) -> None:
    async with new_uow() as uow:
        report = await compile_report(uow, report_setup, MARCH)

    facts = report.facts
    assert sorted(facts.late, key=lambda late: late.stage) == [
        LateClosure("entry_urgent", CLERK, None, 1),
        LateClosure("first_review", REVIEWER, "Olivia Desk", 1),
        LateClosure("picking", PICKER, "Wang Wei", 1),
    ]
    assert report.late_entries == 1
    assert [(person.department, person.actor_id, person.count) for person in report.people] == [
        (Role.ORDER_DESK, CLERK, 1),
        (Role.ORDER_DESK, REVIEWER, 1),
        (Role.WAREHOUSE, PICKER, 1),
    ]
    assert facts.overdue == [OverdueTally("outbound", 1)]
    assert sorted(facts.alerts, key=lambda alert: alert.department) == [
        AlertTally(Role.LOGISTICS, "warning", 1, 0, 0, 0),
        AlertTally(Role.ORDER_DESK, "breach", 1, 0, 1, 1),
        AlertTally(Role.WAREHOUSE, "breach", 1, 1, 0, 0),
    ]
    compliance = {figures.department: figures for figures in report.departments}
    assert (compliance[Role.ORDER_DESK].late_closures, compliance[Role.ORDER_DESK].unacknowledged) == (2, 1)
    assert (compliance[Role.WAREHOUSE].late_closures, compliance[Role.WAREHOUSE].overdue_open) == (1, 1)
    assert compliance[Role.WAREHOUSE].unacknowledged == 0
    assert (report.checks_held, report.checks_due) == (2, 62)
    assert report.missed_checks[:2] == ["2026-03-01T09:00", "2026-03-01T15:00"]
    assert (facts.survey.answers, facts.survey.rating_total, facts.survey.complaints) == (2, 5, 1)
    assert str(facts.survey.average_rating) == "2.5"
    assert facts.exception_cases == [
        ExceptionCaseTally("customs_hold", 1, 1),
        ExceptionCaseTally("damaged", 1, 1),
        ExceptionCaseTally("delay", 2, 1),
        ExceptionCaseTally("wrong_shipment", 2, 1),
    ]
    assert facts.exceptions_marked == [ExceptionMark("hold_at_customs", 1)]
    assert report.previous.month == Month(2026, 2)
    assert report.previous.figure(Kpi.ACCURACY).ratio == Ratio(1, 1)


async def test_a_day_of_checks_lists_its_progress_checks_and_every_chase(
    new_uow: UowFactory, report_setup: ReportSetup
) -> None:
    async with new_uow() as uow:
        record = await day_checks(uow, report_setup, local(3, 16).date())
        quiet = await day_checks(uow, report_setup, local(3, 17).date())

    assert [(check.slot, check.overdue) for check in record.checks] == [
        ("2026-03-16T09:00", 0),
        ("2026-03-16T15:00", 2),
    ]
    assert record.due == ["2026-03-16T09:00", "2026-03-16T15:00"]
    assert [(chase.at, chase.kind, chase.stage, chase.who) for chase in record.chases] == [
        (local(3, 16, 10, 5), ChaseKind.BREACH, "picking", None),
        (local(3, 16, 10, 20), ChaseKind.ACKNOWLEDGED, "picking", "Wang Wei"),
        (local(3, 16, 11), ChaseKind.BREACH, "first_review", None),
        (local(3, 16, 12), ChaseKind.WARNING, "booking", None),
        (local(3, 16, 12), ChaseKind.ESCALATED_TO_MANAGEMENT, "first_review", None),
    ]
    assert (quiet.checks, quiet.chases, quiet.due) == ([], [], ["2026-03-17T09:00", "2026-03-17T15:00"])
