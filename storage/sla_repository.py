"""SQL side of the SLA sweeps: running clocks by due time, alerts recorded once, the tracking log.

Every query that finds clocks bounds them by due time on an index: the breach sweep on the
partial ix_order_clocks_unalerted_breach_due (running, unpaused, not alerted; due_at < now), the
warning sweep, /sla and the digest on the partial ix_order_clocks_running_stage_due (stage,
due_at <= that stage's threshold). A clock records when it was warned and breached, in the
alert's transaction, so the sweeps skip alerted clocks without joining sla_alerts (issue 17).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    any_,
    bindparam,
    false,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from domain.orders.status import Role
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, LastAction, NewAlert, SlaAlert
from storage.models import OrderAuditRow, OrderClockRow, OrderRow, SlaAlertRow, StaffNameRow, TrackingLogRow
from storage.repositories import columns_of, order_ref, record_from, table_of, upsert, upsert_in

# Any constant shared by every instance: pg_try_advisory_xact_lock takes one bigint key.
SWEEP_LOCK_KEY = 0x0D_5A_5E_E9
# The clock column that says when the clock got an alert of each kind.
ALERTED_AT = {
    AlertKind.WARNING: OrderClockRow.warning_alerted_at,
    AlertKind.BREACH: OrderClockRow.breach_alerted_at,
}


class SqlSlaRepository:
    """Reads clocks and writes alerts in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def try_lock_sweep(self) -> bool:
        """Takes the sweep lock until the transaction ends; False if another instance holds it."""
        if self._session.get_bind().dialect.name != "postgresql":
            # SQLite has one writer at a time (BEGIN IMMEDIATE), and one process per file.
            return True
        locked = await self._session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK_KEY}
        )
        return bool(locked)

    async def due_for_breach(self, now: datetime, limit: int) -> list[DueClock]:
        """Lists running, unpaused clocks past their due time that have no breach alert yet, oldest first."""
        return await self._with_last_actions(await self._session.execute(*breach_query(now, limit)))

    async def due_for_warning(
        self, thresholds: Mapping[str, datetime], now: datetime, limit: int
    ) -> list[DueClock]:
        """Lists running, unpaused clocks not yet due whose due time is within their stage's threshold."""
        return await self._with_last_actions(
            await self._session.execute(*warning_query(thresholds, now, limit))
        )

    async def at_risk_or_breached(self, thresholds: Mapping[str, datetime], limit: int) -> list[DueClock]:
        """Lists running clocks (paused ones too) within their stage's threshold, most overdue first."""
        return await self._with_last_actions(await self._session.execute(*_per_stage(thresholds, limit)))

    async def record_alert(self, alert: NewAlert) -> int | None:
        """Records an alert; returns its id, or None (writing nothing) if it was recorded before."""
        table = table_of(SlaAlertRow)
        stmt = (
            upsert(self._session, table)
            .values(
                **columns_of(alert, kind=alert.kind.value, department=alert.department.value),
                escalation_level=EscalationLevel.NONE,
            )
            .on_conflict_do_nothing(index_elements=["clock_id", "kind", "order_id"])
            .returning(table.c.id)
        )
        alert_id: int | None = (await self._session.execute(stmt)).scalar_one_or_none()
        if alert_id is not None:
            await self._mark_alerted(alert.kind, [alert.clock_id], alert.created_at)
        return alert_id

    async def record_alerts(self, alerts: Sequence[NewAlert]) -> list[int | None]:
        """Records alerts in one statement; each one's id, or None where it was recorded before."""
        if not alerts:
            return []
        values = [
            columns_of(alert, kind=alert.kind.value, department=alert.department.value)
            | {"escalation_level": EscalationLevel.NONE}
            for alert in alerts
        ]
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            # One array per column: one prepared statement whatever the count (a VALUES list of n rows is
            # a new statement for every n, parsed and planned anew).
            rows = await self._session.execute(
                _RECORD_ALERTS_FROM_ARRAYS, {name: [row[name] for row in values] for name in _ALERT_COLUMNS}
            )
        else:
            # Parameters beside the statement: one cached statement, sent as multi-row VALUES batches.
            rows = await self._session.execute(_record_alerts_statement(dialect), values)
        recorded = {(row.clock_id, row.kind, row.order_id): row.id for row in rows}
        ids = [recorded.get((alert.clock_id, alert.kind.value, alert.order_id)) for alert in alerts]
        newly: defaultdict[tuple[AlertKind, datetime], list[int]] = defaultdict(list)
        for alert, alert_id in zip(alerts, ids, strict=True):
            if alert_id is not None:
                newly[alert.kind, alert.created_at].append(alert.clock_id)
        for (kind, at), clock_ids in newly.items():
            await self._mark_alerted(kind, clock_ids, at)
        return ids

    async def _mark_alerted(self, kind: AlertKind, clock_ids: Sequence[int], at: datetime) -> None:
        """Marks the clocks alerted of this kind, so the sweeps no longer find them."""
        column = ALERTED_AT[kind]
        await self._session.execute(
            update(OrderClockRow)
            .where(self._among(OrderClockRow.id, clock_ids), column.is_(None))
            .values({column: at})
            .execution_options(synchronize_session=False)
        )

    async def get_alert(self, alert_id: int) -> SlaAlert | None:
        """Returns one alert, if it exists."""
        row = (await self._session.execute(_alerts().where(SlaAlertRow.id == alert_id))).first()
        return _to_alert(row) if row else None

    async def alerts_in_batch(self, batch: str) -> list[SlaAlert]:
        """Returns the alerts merged into one digest message."""
        rows = await self._session.execute(
            _alerts().where(SlaAlertRow.batch == batch).order_by(SlaAlertRow.id)
        )
        return [_to_alert(row) for row in rows]

    async def unacknowledged(self, level: int, older_than: datetime, limit: int) -> list[SlaAlert]:
        """Lists breach alerts of a level unacknowledged since before older_than whose stage is still open."""
        alert = SlaAlertRow
        told_at = alert.created_at if level == EscalationLevel.NONE else alert.escalated_at
        stmt = (
            _alerts()
            .where(
                alert.acknowledged_at.is_(None),
                alert.kind == AlertKind.BREACH.value,
                alert.escalation_level == level,
                told_at <= older_than,
                OrderClockRow.finished_at.is_(None),
            )
            .order_by(alert.created_at, alert.id)
            .limit(limit)
        )
        return [_to_alert(row) for row in await self._session.execute(stmt)]

    async def escalate(self, alert_id: int, level: int, at: datetime) -> bool:
        """Raises an unacknowledged alert to level; False if it was acknowledged or raised already."""
        alert = SlaAlertRow
        stmt = (
            update(alert)
            .where(alert.id == alert_id, alert.escalation_level == level - 1, alert.acknowledged_at.is_(None))
            .values(escalation_level=level, escalated_at=at)
            .returning(alert.id)
        )
        return (await self._session.execute(stmt)).first() is not None

    async def acknowledge(self, alert_ids: Sequence[int], user_id: int, name: str, at: datetime) -> int:
        """Marks the alerts nobody acknowledged yet as taken on by the user; returns how many."""
        if not alert_ids:
            return 0
        alert = SlaAlertRow
        stmt = (
            update(alert)
            .where(alert.id.in_(list(alert_ids)), alert.acknowledged_at.is_(None))
            .values(acknowledged_by=user_id, acknowledged_by_name=name[:200], acknowledged_at=at)
            .returning(alert.id)
        )
        return len((await self._session.execute(stmt)).all())

    async def record_digest(self, slot: str, at: datetime, content: dict[str, Any]) -> bool:
        """Records the digest of a slot; False, writing nothing, if that slot's digest exists."""
        table = table_of(TrackingLogRow)
        stmt = (
            upsert(self._session, table)
            .values(slot=slot, at=at, content=content)
            .on_conflict_do_nothing(index_elements=["slot"])
            .returning(table.c.id)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    def _among(self, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
        """Matches a column against many values sent as one parameter (a list SQLAlchemy expands is slow).

        An array on PostgreSQL, a JSON array SQLite's json_each reads as rows.
        """
        values = list(values)
        if self._session.get_bind().dialect.name == "postgresql":
            element_type = Integer() if isinstance(column.type, Integer) else String()
            return column == any_(bindparam("among", values, type_=ARRAY(element_type)))
        members: Select[tuple[Any]] = select(literal_column("value")).select_from(
            func.json_each(json.dumps(values))
        )
        return column.in_(members.scalar_subquery())

    async def _with_last_actions(self, rows: Any) -> list[DueClock]:
        """Turns clock rows into DueClocks carrying their order's last audit line."""
        rows = list(rows)
        order_ids = {row.order_id for row in rows}
        last: dict[str, LastAction] = {}
        if order_ids:
            audit = OrderAuditRow
            newest = (
                select(func.max(audit.id))
                .where(self._among(audit.order_id, order_ids))
                .group_by(audit.order_id)
            )
            # Rows of the five columns, not audit entities: the sweep reads up to a thousand at a time.
            lines = (
                await self._session.execute(
                    select(audit.order_id, audit.actor_id, audit.actor_role, audit.action, audit.at).where(
                        audit.id.in_(newest)
                    )
                )
            ).all()
            actor_ids = {line.actor_id for line in lines if line.actor_id is not None}
            names = (
                dict(
                    (
                        await self._session.execute(
                            select(StaffNameRow.user_id, StaffNameRow.name).where(
                                StaffNameRow.user_id.in_(actor_ids)
                            )
                        )
                    ).all()
                )
                if actor_ids
                else {}
            )
            for line in lines:
                name = names.get(line.actor_id) if line.actor_id is not None else None
                last[line.order_id] = LastAction(line.actor_id, line.actor_role, line.action, line.at, name)
        return [
            DueClock(
                clock_id=row.id,
                order_id=row.order_id,
                order_ref=row.order_ref,
                stage=row.stage,
                started_at=row.started_at,
                due_at=row.due_at,
                paused_at=row.paused_at,
                last_action=last.get(row.order_id),
            )
            for row in rows
        ]


# The columns an alert is recorded with; their types (UTC times refused naive) are the table's own.
_ALERT_COLUMNS: dict[str, Any] = {
    name: table_of(SlaAlertRow).c[name].type
    for name in (
        "order_id",
        "clock_id",
        "stage",
        "kind",
        "department",
        "created_at",
        "batch",
        "escalation_level",
    )
}


@functools.cache
def _record_alerts_statement(dialect: str) -> ReturningInsert[*tuple[Any, ...]]:
    """INSERT of alerts that skips those recorded before, returning what each new row's key and id are."""
    table = table_of(SlaAlertRow)
    return (
        upsert_in(dialect, table)
        .on_conflict_do_nothing(index_elements=["clock_id", "kind", "order_id"])
        .returning(table.c.id, table.c.clock_id, table.c.kind, table.c.order_id)
    )


def _from_arrays() -> ReturningInsert[*tuple[Any, ...]]:
    """The PostgreSQL INSERT of alerts whose values come as one array per column (unnest)."""
    arrays = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _ALERT_COLUMNS.items()))
        .table_valued(*_ALERT_COLUMNS)
        .render_derived(name="alerts")
    )
    return _record_alerts_statement("postgresql").from_select(list(_ALERT_COLUMNS), select(*arrays.c))


_RECORD_ALERTS_FROM_ARRAYS = _from_arrays()


# A sweep's queries with their values: the statement is built once and runs with new parameters
# (building the warning query's union of 26 stages took about 25 ms of every sweep, issue 17).
Query = tuple[Select[*tuple[Any, ...]], dict[str, Any]]


def breach_query(now: datetime, limit: int) -> Query:
    """Selects running, unpaused, unalerted clocks past due (ix_order_clocks_unalerted_breach_due)."""
    return _breach_statement(), {"now": now, "limit": limit}


@functools.cache
def _breach_statement() -> Select[*tuple[Any, ...]]:
    """The breach sweep's statement, its due time and limit as parameters."""
    clock = OrderClockRow
    return (
        _due_clocks()
        .where(
            clock.finished_at.is_(None),
            clock.paused_at.is_(None),
            clock.breach_alerted_at.is_(None),
            clock.due_at < bindparam("now"),
        )
        .order_by(clock.due_at, clock.id)
        .limit(bindparam("limit", type_=Integer()))
    )


def warning_query(thresholds: Mapping[str, datetime], now: datetime, limit: int) -> Query:
    """Selects running, unpaused clocks within their stage's warning threshold without a warning alert."""
    statement = _per_stage_statement(tuple(thresholds), warning=True)
    return statement, _bounds(thresholds) | {"now": now, "limit": limit}


def _per_stage(thresholds: Mapping[str, datetime], limit: int) -> Query:
    """Selects running clocks (paused ones too) due within their own stage's threshold, earliest due first."""
    return _per_stage_statement(tuple(thresholds), warning=False), _bounds(thresholds) | {"limit": limit}


def _bounds(thresholds: Mapping[str, datetime]) -> dict[str, datetime]:
    """The parameters of the per-stage thresholds, in the order of the statement's branches."""
    return {f"bound_{index}": bound for index, bound in enumerate(thresholds.values())}


@functools.lru_cache(maxsize=8)
def _per_stage_statement(stages: tuple[str, ...], *, warning: bool) -> Select[*tuple[Any, ...]]:
    """Selects running clocks due within their stage's bound (bound_<i>), earliest due first.

    One branch per stage, so each is a range on ix_order_clocks_running_stage_due (stage, due_at);
    a single OR over the stages lets SQLite fall back to every running clock not yet due. The
    warning sweep leaves out paused, overdue and warned clocks.
    """
    clock = OrderClockRow
    conditions = (
        (clock.paused_at.is_(None), clock.due_at >= bindparam("now"), clock.warning_alerted_at.is_(None))
        if warning
        else ()
    )
    branches = [
        _due_clocks().where(
            clock.finished_at.is_(None),
            clock.stage == stage,
            clock.due_at <= bindparam(f"bound_{index}", type_=clock.due_at.type),
            *conditions,
        )
        for index, stage in enumerate(stages)
    ]
    if not branches:
        return _due_clocks().where(false())
    union = union_all(*branches).subquery()
    return select(union).order_by(union.c.due_at, union.c.id).limit(bindparam("limit", type_=Integer()))


def _due_clocks() -> Select[*tuple[Any, ...]]:
    """Selects clock columns with the order's number (or reference before it has one)."""
    clock = OrderClockRow
    return select(
        clock.id,
        clock.order_id,
        clock.stage,
        clock.started_at,
        clock.due_at,
        clock.paused_at,
        order_ref(),
    ).join(OrderRow, OrderRow.id == clock.order_id)


def _alerts() -> Select[*tuple[Any, ...]]:
    """Selects alerts with their order reference and clock due time."""
    return (
        select(
            SlaAlertRow,
            order_ref(),
            OrderClockRow.due_at,
        )
        .join(OrderRow, OrderRow.id == SlaAlertRow.order_id)
        .join(OrderClockRow, OrderClockRow.id == SlaAlertRow.clock_id)
        # Alerts are changed by plain UPDATEs; reading one back must not return the stale loaded object.
        .execution_options(populate_existing=True)
    )


def _to_alert(row: Row[Any]) -> SlaAlert:
    """Builds an alert from its row, order reference and due time."""
    alert: SlaAlertRow = row[0]
    return record_from(
        SlaAlert,
        alert,
        order_ref=row.order_ref,
        due_at=row.due_at,
        kind=AlertKind(alert.kind),
        department=Role(alert.department),
        escalation_level=EscalationLevel(alert.escalation_level),
    )
