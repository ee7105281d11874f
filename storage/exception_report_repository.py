"""SQL side of the monthly exception report (issue 14, R-6.5): case facts, payouts, improvement actions.

Each query reads a range [start, end) of one indexed column: exception cases by
ix_exception_cases_opened_at and ix_exception_cases_closed_at, their orders' clocks by order id,
payouts by ix_money_owed_paid_at, improvement actions by ix_improvement_actions_recorded_at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports import Document
from domain.exception_report import CASE_STAGES, CaseFact, Cause, ImprovementAction, PayoutFact, StepFact
from domain.finance import MoneyKind, OwedStatus
from storage.kpi_repository import SqlKpiQueries
from storage.models import (
    ExceptionCaseRow,
    ExceptionReportRunRow,
    ImprovementActionRow,
    MoneyOwedRow,
    OrderClockRow,
    StaffNameRow,
)
from storage.repositories import table_of, upsert


class SqlExceptionReportQueries:
    """Reads the report's facts and writes improvement actions in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def cases(self, start: datetime, end: datetime) -> list[CaseFact]:
        """The cases opened or closed in the period, each with the timed steps of its order."""
        row = ExceptionCaseRow
        opened = select(row).where(row.opened_at >= start, row.opened_at < end)
        closed = select(row).where(row.closed_at >= start, row.closed_at < end)
        cases = {case.id: case for query in (opened, closed) for case in await self._session.scalars(query)}
        steps = await self._steps({case.order_id for case in cases.values()})
        return [
            CaseFact(
                case_id=case.id,
                type=case.type,
                cause=case.cause,
                opened_at=case.opened_at,
                closed_at=case.closed_at,
                steps=tuple(
                    StepFact(clock.stage, clock.due_at, clock.finished_at, clock.met)
                    for clock in steps.get(case.order_id, ())
                    if _during(clock.started_at, case.opened_at, case.closed_at)
                ),
                satisfied=case.satisfied,
            )
            for case in sorted(cases.values(), key=lambda case: case.id)
        ]

    async def _steps(self, order_ids: Iterable[str]) -> dict[str, list[OrderClockRow]]:
        """The exception-step clocks of the orders, by order."""
        ids = sorted(set(order_ids))
        if not ids:
            return {}
        clock = OrderClockRow
        query = select(clock).where(clock.order_id.in_(ids), clock.stage.in_(CASE_STAGES)).order_by(clock.id)
        by_order: dict[str, list[OrderClockRow]] = defaultdict(list)
        for row in await self._session.scalars(query):
            by_order[row.order_id].append(row)
        return by_order

    async def payouts(self, start: datetime, end: datetime) -> list[PayoutFact]:
        """The payouts finance paid in the period (compensation and discounts), by the reason they settle."""
        owed = MoneyOwedRow
        query = (
            select(owed.reason, owed.amount, owed.currency, owed.paid_at)
            .where(
                owed.paid_at >= start,
                owed.paid_at < end,
                owed.kind == MoneyKind.PAYOUT.value,
                owed.status == OwedStatus.PAID.value,
            )
            .order_by(owed.paid_at, owed.id)
        )
        return [
            PayoutFact(row.reason, row.amount, row.currency, row.paid_at)
            for row in await self._session.execute(query)
        ]

    async def actions(self, start: datetime, end: datetime) -> list[ImprovementAction]:
        """The improvement actions recorded in the period, oldest first, with who recorded them."""
        action = ImprovementActionRow
        query = (
            select(action, StaffNameRow.name)
            .outerjoin(StaffNameRow, StaffNameRow.user_id == action.recorded_by)
            .where(action.recorded_at >= start, action.recorded_at < end)
            .order_by(action.recorded_at, action.id)
        )
        return [
            ImprovementAction(
                row.id,
                Cause(row.exception_type, row.cause),
                row.action,
                row.recorded_by,
                row.recorded_at,
                name,
            )
            for row, name in (await self._session.execute(query)).all()
        ]

    async def record_action(
        self, cause: Cause, action: str, by: int, by_name: str | None, at: datetime
    ) -> ImprovementAction:
        """Stores an improvement action; returns it with its id."""
        table = table_of(ImprovementActionRow)
        stmt = (
            insert(table)
            .values(
                exception_type=cause.type, cause=cause.name, action=action, recorded_by=by, recorded_at=at
            )
            .returning(table.c.id)
        )
        action_id = int((await self._session.execute(stmt)).scalar_one())
        return ImprovementAction(action_id, cause, action, by, at, by_name)

    async def save_report(
        self, kind: str, period: str, language: str, document: Document, at: datetime
    ) -> int:
        """Stores a rendered file among the report documents the outbox sender uploads."""
        return await SqlKpiQueries(self._session).save_report(kind, period, language, document, at)

    async def report_queued(self, period: str) -> bool:
        """Whether the scheduled report of the month was queued already."""
        run = ExceptionReportRunRow
        found = await self._session.execute(select(func.count()).where(run.period == period))
        return bool(found.scalar_one())

    async def mark_queued(self, period: str, chat_id: int, language: str, at: datetime) -> bool:
        """Records the month's scheduled report as queued; False, writing nothing, if it was already."""
        table = table_of(ExceptionReportRunRow)
        stmt = (
            upsert(self._session, table)
            .values(period=period, chat_id=chat_id, language=language, queued_at=at)
            .on_conflict_do_nothing(index_elements=["period"])
            .returning(table.c.period)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none() is not None


def _during(moment: datetime, opened_at: datetime, closed_at: datetime | None) -> bool:
    """Whether a clock started while the case was open, or as it closed (the exception record's)."""
    return moment >= opened_at and (closed_at is None or moment <= closed_at)
