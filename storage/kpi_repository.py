"""SQL side of the KPIs and the supervision report (issue 16): counts of one period, each on an index.

Every query reads a range [start, end) of one indexed column (migration 0008):

- orders received: ix_orders_created_at;
- errors, completions and exceptions: ix_order_audit_action_at (action, at, order_id), a handful of
  actions at a time, then the order by primary key;
- clocks closed: ix_order_clocks_finished_stage_met, read from the index alone;
- clocks still overdue: ix_order_clocks_open_due (finished_at IS NULL, due_at);
- alerts: ix_sla_alerts_created_at / _escalated_at / _acknowledged_at;
- exception cases: ix_exception_cases_opened_at / _closed_at / _type_opened_at;
- survey answers: ix_survey_answers_answered_at, and by order id;
- progress checks: the unique slot of the tracking log (slots begin with their date).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports import Document
from application.reports import StoredReport
from domain.kpi import (
    AUDITED_ERRORS,
    COMPLETING_ACTIONS,
    ENTRY_MISTAKE_REASON,
    EXCEPTION_ACTIONS,
    ErrorKind,
    ExceptionTally,
    OrderError,
    StageTally,
    classify_audit,
)
from domain.kpi_report import (
    AlertTally,
    Chase,
    ChaseKind,
    ExceptionCaseTally,
    ExceptionMark,
    LateClosure,
    OverdueTally,
    ProgressCheck,
    SurveyTally,
)
from domain.orders.status import Action, Role
from domain.sla.alerts import EscalationLevel
from storage.models import (
    ExceptionCaseRow,
    OrderAuditRow,
    OrderClockRow,
    OrderRow,
    ReportDocumentRow,
    SlaAlertRow,
    StaffNameRow,
    SurveyAnswerRow,
    TrackingLogRow,
)
from storage.repositories import order_ref, table_of

_COMPLETING = sorted(action.value for action in COMPLETING_ACTIONS)
_EXCEPTIONS = sorted(action.value for action in EXCEPTION_ACTIONS)
_AUDITED = sorted(kind.value for kind in AUDITED_ERRORS)
_ROLES = frozenset(role.value for role in Role)
# Order ids per IN (...) list: well under SQLite's 32,766 bound parameters.
ID_BATCH = 500


def _count_if(condition: Any) -> Any:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a count both databases read the same way."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class SqlKpiQueries:
    """The KPI and supervision queries, and the report documents, in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def orders_received(self, start: datetime, end: datetime) -> int:
        """Orders created in the period."""
        order = OrderRow
        stmt = (
            select(func.count()).select_from(order).where(order.created_at >= start, order.created_at < end)
        )
        return int(await self._session.scalar(stmt) or 0)

    async def order_errors(self, start: datetime, end: datetime) -> list[OrderError]:
        """The errors recorded (at any time) on orders created in the period."""
        # Errors are rare: read them by action and time first, then their orders by primary key. A join
        # lets SQLite start from the month's orders and read every audit line of each.
        audit = OrderAuditRow
        lines = (
            await self._session.execute(
                select(audit.order_id, audit.action, audit.note).where(
                    audit.action.in_(_AUDITED),
                    # Nothing is recorded on an order before it exists.
                    audit.at >= start,
                    or_(
                        audit.action != Action.REJECT.value, audit.note.like(f"{ENTRY_MISTAKE_REASON.value}%")
                    ),
                )
            )
        ).all()
        case_row = ExceptionCaseRow
        wrong = (
            await self._session.scalars(
                select(case_row.order_id).where(
                    case_row.type == ErrorKind.WRONG_SHIPMENT.value, case_row.opened_at >= start
                )
            )
        ).all()
        channels = await self._channels_of_orders_created(
            {line.order_id for line in lines} | set(wrong), start, end
        )
        errors = []
        for line in lines:
            channel = channels.get(line.order_id)
            kind = classify_audit(line.action, line.note or "", channel) if channel is not None else None
            if kind is not None:
                errors.append(OrderError(line.order_id, kind))
        errors += [
            OrderError(order_id, ErrorKind.WRONG_SHIPMENT) for order_id in wrong if order_id in channels
        ]
        return errors

    async def _channels_of_orders_created(
        self, order_ids: set[str], start: datetime, end: datetime
    ) -> dict[str, str]:
        """The channel of each of the orders that was created in the period, by primary key."""
        order = OrderRow
        ids = sorted(order_ids)
        channels: dict[str, str] = {}
        for offset in range(0, len(ids), ID_BATCH):
            stmt = select(order.id, order.channel).where(
                order.id.in_(ids[offset : offset + ID_BATCH]),
                order.created_at >= start,
                order.created_at < end,
            )
            channels.update((row.id, row.channel) for row in await self._session.execute(stmt))
        return channels

    async def closed_clocks(self, start: datetime, end: datetime) -> list[StageTally]:
        """Stage clocks closed in the period per stage, and how many within their limit."""
        clock = OrderClockRow
        stmt = (
            select(clock.stage, func.count().label("closed"), _count_if(clock.met.is_(True)).label("met"))
            .where(clock.finished_at >= start, clock.finished_at < end)
            .group_by(clock.stage)
            .order_by(clock.stage)
        )
        return [
            StageTally(row.stage, int(row.closed), int(row.met)) for row in await self._session.execute(stmt)
        ]

    async def exception_answers(self, start: datetime, end: datetime) -> list[ExceptionTally]:
        """Customer answers on exceptions closed in the period, per handling department."""
        case_row = ExceptionCaseRow
        stmt = (
            select(
                case_row.department,
                func.count().label("answered"),
                _count_if(case_row.satisfied.is_(True)).label("satisfied"),
            )
            .where(case_row.closed_at >= start, case_row.closed_at < end, case_row.satisfied.is_not(None))
            .group_by(case_row.department)
            .order_by(case_row.department)
        )
        return [
            ExceptionTally(Role(row.department), int(row.answered), int(row.satisfied))
            for row in await self._session.execute(stmt)
            if row.department in _ROLES
        ]

    async def completed_orders(self, start: datetime, end: datetime) -> int:
        """Orders completed in the period."""
        return int(await self._session.scalar(_completed_count(start, end)) or 0)

    async def complained_orders(self, start: datetime, end: datetime) -> int:
        """Orders completed in the period that have a complaint."""
        audit, survey = OrderAuditRow, SurveyAnswerRow
        stmt = (
            select(func.count(distinct(audit.order_id)))
            .join(survey, survey.order_id == audit.order_id)
            .where(_completing(start, end), survey.complaint.is_(True))
        )
        return int(await self._session.scalar(stmt) or 0)

    async def late_closures(self, start: datetime, end: datetime, limit: int) -> list[LateClosure]:
        """Clocks closed past their limit in the period, per step and the person whose action closed them."""
        clock, audit = OrderClockRow, OrderAuditRow
        closer = (
            select(audit.actor_id)
            .where(
                audit.order_id == clock.order_id, audit.at == clock.finished_at, audit.actor_id.is_not(None)
            )
            .order_by(audit.id)
            .limit(1)
            .correlate(clock)
            .scalar_subquery()
        )
        late = (
            select(clock.stage, closer.label("actor_id"))
            .where(clock.finished_at >= start, clock.finished_at < end, clock.met.is_(False))
            .subquery()
        )
        stmt = (
            select(late.c.stage, late.c.actor_id, func.count().label("late"))
            .group_by(late.c.stage, late.c.actor_id)
            .order_by(func.count().desc(), late.c.stage)
            .limit(limit)
        )
        rows = (await self._session.execute(stmt)).all()
        names = await self._names({row.actor_id for row in rows if row.actor_id is not None})
        return [
            LateClosure(
                row.stage, row.actor_id, names.get(row.actor_id) if row.actor_id else None, int(row.late)
            )
            for row in rows
        ]

    async def overdue_open(self, start: datetime, end: datetime, now: datetime) -> list[OverdueTally]:
        """Clocks still running past a due time in the period (paused ones only if paused after it)."""
        clock = OrderClockRow
        stmt = (
            select(clock.stage, func.count().label("overdue"))
            .where(
                clock.finished_at.is_(None),
                clock.due_at >= start,
                clock.due_at < min(end, now),
                or_(clock.paused_at.is_(None), clock.paused_at > clock.due_at),
            )
            .group_by(clock.stage)
            .order_by(clock.stage)
        )
        return [OverdueTally(row.stage, int(row.overdue)) for row in await self._session.execute(stmt)]

    async def alert_tallies(self, start: datetime, end: datetime) -> list[AlertTally]:
        """SLA alerts raised in the period per department and kind: acknowledged, escalated."""
        alert = SlaAlertRow
        stmt = (
            select(
                alert.department,
                alert.kind,
                func.count().label("total"),
                _count_if(alert.acknowledged_at.is_not(None)).label("acknowledged"),
                _count_if(alert.escalation_level >= EscalationLevel.ORDER_DESK_HEAD).label("head"),
                _count_if(alert.escalation_level >= EscalationLevel.MANAGEMENT).label("management"),
            )
            .where(alert.created_at >= start, alert.created_at < end)
            .group_by(alert.department, alert.kind)
            .order_by(alert.department, alert.kind)
        )
        return [
            AlertTally(
                Role(row.department),
                row.kind,
                int(row.total),
                int(row.acknowledged),
                int(row.head),
                int(row.management),
            )
            for row in await self._session.execute(stmt)
        ]

    async def progress_checks(self, first: date, last: date) -> list[ProgressCheck]:
        """The progress checks recorded for the days first to last."""
        log = TrackingLogRow
        stmt = (
            select(log.slot, log.at, log.content)
            .where(log.slot >= first.isoformat(), log.slot < (last + timedelta(days=1)).isoformat())
            .order_by(log.slot)
        )
        return [
            ProgressCheck(
                row.slot, row.at, int(row.content.get("overdue", 0)), int(row.content.get("at_risk", 0))
            )
            for row in await self._session.execute(stmt)
        ]

    async def chases(self, start: datetime, end: datetime, limit: int) -> list[Chase]:
        """Alerts raised, escalated and acknowledged in the period, in time order."""
        alert = SlaAlertRow
        found: list[Chase] = []
        for moment in (alert.created_at, alert.escalated_at, alert.acknowledged_at):
            stmt = (
                _alerts_with_refs()
                .where(moment >= start, moment < end)
                .order_by(moment, alert.id)
                .limit(limit)
            )
            for row in await self._session.execute(stmt):
                found.append(_chase(row, moment.key))
        found.sort(key=lambda chase: chase.at)
        return found[:limit]

    async def survey_tally(self, start: datetime, end: datetime) -> SurveyTally:
        """Survey answers given in the period: count, sum of ratings, complaints."""
        survey = SurveyAnswerRow
        stmt = select(
            func.count().label("answers"),
            func.coalesce(func.sum(survey.rating), 0).label("ratings"),
            _count_if(survey.complaint.is_(True)).label("complaints"),
        ).where(survey.answered_at >= start, survey.answered_at < end)
        row = (await self._session.execute(stmt)).one()
        return SurveyTally(int(row.answers), int(row.ratings), int(row.complaints))

    async def exception_cases(self, start: datetime, end: datetime) -> list[ExceptionCaseTally]:
        """Exception cases opened and closed in the period, per type."""
        case_row = ExceptionCaseRow
        counts: dict[str, list[int]] = {}
        for index, moment in enumerate((case_row.opened_at, case_row.closed_at)):
            stmt = (
                select(case_row.type, func.count().label("cases"))
                .where(moment >= start, moment < end)
                .group_by(case_row.type)
            )
            for row in await self._session.execute(stmt):
                counts.setdefault(row.type, [0, 0])[index] = int(row.cases)
        return [ExceptionCaseTally(kind, opened, closed) for kind, (opened, closed) in sorted(counts.items())]

    async def exceptions_marked(self, start: datetime, end: datetime) -> list[ExceptionMark]:
        """Orders put into exception in the period, per action of the audit trail."""
        audit = OrderAuditRow
        stmt = (
            select(audit.action, func.count().label("marked"))
            .where(audit.action.in_(_EXCEPTIONS), audit.at >= start, audit.at < end)
            .group_by(audit.action)
            .order_by(audit.action)
        )
        return [ExceptionMark(row.action, int(row.marked)) for row in await self._session.execute(stmt)]

    async def save_report(
        self, kind: str, period: str, language: str, document: Document, at: datetime
    ) -> int:
        """Stores a rendered report document; returns its id for the outbox row."""
        table = table_of(ReportDocumentRow)
        stmt = (
            insert(table)
            .values(
                kind=kind,
                period=period,
                language=language,
                filename=document.filename,
                content=document.content,
                created_at=at,
            )
            .returning(table.c.id)
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def get_report(self, report_id: int) -> StoredReport | None:
        """Loads one stored report document."""
        row = await self._session.get(ReportDocumentRow, report_id)
        if row is None:
            return None
        return StoredReport(
            row.id, row.kind, row.period, row.language, row.filename, row.content, row.created_at
        )

    async def _names(self, user_ids: set[int]) -> dict[int, str]:
        """The staff display names of the users."""
        if not user_ids:
            return {}
        stmt = select(StaffNameRow.user_id, StaffNameRow.name).where(StaffNameRow.user_id.in_(user_ids))
        return {row.user_id: row.name for row in await self._session.execute(stmt)}


def _completing(start: datetime, end: datetime) -> Any:
    """Audit lines that complete an order in the period."""
    audit = OrderAuditRow
    return and_(audit.action.in_(_COMPLETING), audit.at >= start, audit.at < end)


def _completed_count(start: datetime, end: datetime) -> Select[Any]:
    """Counts the orders completed in the period."""
    return select(func.count(distinct(OrderAuditRow.order_id))).where(_completing(start, end))


def _alerts_with_refs() -> Select[*tuple[Any, ...]]:
    """Selects alerts with their order's number (or reference before it has one)."""
    alert = SlaAlertRow
    return select(
        alert.created_at,
        alert.escalated_at,
        alert.acknowledged_at,
        alert.acknowledged_by_name,
        alert.acknowledged_by,
        alert.kind,
        alert.escalation_level,
        alert.stage,
        alert.department,
        order_ref(),
    ).join(OrderRow, OrderRow.id == alert.order_id)


def _chase(row: Any, moment: str) -> Chase:
    """Turns an alert row into the chase that happened at one of its moments."""
    department = Role(row.department)
    if moment == "created_at":
        return Chase(row.created_at, ChaseKind(row.kind), row.order_ref, row.stage, department)
    if moment == "escalated_at":
        kind = (
            ChaseKind.ESCALATED_TO_MANAGEMENT
            if row.escalation_level >= EscalationLevel.MANAGEMENT
            else ChaseKind.ESCALATED_TO_HEAD
        )
        return Chase(row.escalated_at, kind, row.order_ref, row.stage, department)
    who = row.acknowledged_by_name or (str(row.acknowledged_by) if row.acknowledged_by else None)
    return Chase(row.acknowledged_at, ChaseKind.ACKNOWLEDGED, row.order_ref, row.stage, department, who)
