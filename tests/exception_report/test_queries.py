"""The exception report read from the records on SQLite and PostgreSQL (R-6.5): a stored month's figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from application.exception_report import ExceptionReportSetup, compile_exception_report
from domain.exception_report import CompensationTotal, StepFigures, TypeFigures
from domain.kpi import Month, Ratio
from tests.exception_report.conftest import (
    CLERK,
    HEAD,
    NOW,
    PACKING,
    WEATHER,
    UowFactory,
    local,
    queries_of,
    seed_march,
)

MARCH = Month(2026, 3)


async def test_the_month_is_read_from_the_case_payout_and_action_records(
    new_uow: UowFactory, report_setup: ExceptionReportSetup
) -> None:
    await seed_march(new_uow)

    async with new_uow() as uow:
        report = await compile_exception_report(uow, report_setup, MARCH)

    assert (report.opened, report.closed) == (2, 2)
    assert report.by_type == (
        TypeFigures("damaged", 0, 1, Ratio(0, 1), timedelta(days=4), timedelta(days=4)),
        TypeFigures("delay", 2, 1, Ratio(1, 1), timedelta(hours=6), timedelta(hours=6)),
    )
    assert report.within_limits == Ratio(1, 2)
    assert report.steps == (
        StepFigures("delay_cause", Ratio(1, 1)),
        StepFigures("delay_notice", Ratio(1, 1)),
        StepFigures("evidence", Ratio(0, 1)),
        StepFigures("exception_record", Ratio(1, 2)),
    )
    assert report.compensation == (CompensationTotal("delay_compensation", "CNY", Decimal("500.00"), 1),)
    assert report.satisfaction.ratio == Ratio(1, 1)
    assert [(rank.cause, rank.count) for rank in report.top_causes] == [(WEATHER, 2)]
    (action,) = report.top_causes[0].actions
    assert (action.action, action.recorded_by, action.recorded_by_name) == (
        "Book a second carrier for typhoon weeks",
        CLERK,
        "Olivia Desk",
    )
    assert [
        (follow.action.cause, follow.action.recorded_by, follow.recurrences) for follow in report.follow_ups
    ] == [
        (WEATHER, HEAD, 2),
        (PACKING, HEAD, 0),
    ]


async def test_a_case_opened_just_after_local_midnight_is_the_next_months(
    new_uow: UowFactory, report_setup: ExceptionReportSetup
) -> None:
    await seed_march(new_uow)

    async with new_uow() as uow:
        april = await compile_exception_report(uow, report_setup, Month(2026, 4))

    assert (april.opened, april.closed) == (1, 0)
    assert april.by_type[0].type == "wrong_shipment"
    assert april.compensation == (CompensationTotal("delay_compensation", "CNY", Decimal("70.00"), 1),)
    assert [follow.action.action for follow in april.follow_ups] == [
        "Book a second carrier for typhoon weeks"
    ]


async def test_a_months_scheduled_report_is_recorded_once(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        queries = queries_of(uow)
        assert await queries.report_queued("2026-03") is False
        assert await queries.mark_queued("2026-03", -1006, "zh", NOW) is True
        assert await queries.mark_queued("2026-03", -1006, "en", NOW) is False
        await uow.commit()
    async with new_uow() as uow:
        assert await queries_of(uow).report_queued("2026-03") is True
        assert await queries_of(uow).report_queued("2026-04") is False


async def test_an_action_is_stored_with_its_cause(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        stored = await queries_of(uow).record_action(
            WEATHER, "Check forecasts daily", HEAD, "Henry Head", NOW
        )
        await uow.commit()
    async with new_uow() as uow:
        (read,) = await queries_of(uow).actions(local(4, 1), local(4, 3))

    assert read.id == stored.id
    assert (read.cause, read.action, read.recorded_by, read.recorded_at) == (
        WEATHER,
        "Check forecasts daily",
        HEAD,
        NOW,
    )
