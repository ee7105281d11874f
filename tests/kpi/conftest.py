"""KPI fixtures: the storage fixtures (every test on SQLite and PostgreSQL) and a fixed month, worked by hand.

The month is March 2026 in Asia/Shanghai ([2026-02-28 16:00Z, 2026-03-31 16:00Z)); "now" is
2026-04-02 10:00 local. What it holds, and the figures it must give (R-8.2):

Orders received in March: O1-O9 (O9 at 23:30 on Mar 31 local, 15:30Z). O10 arrives at 00:10 on
Apr 1 local (16:10Z on Mar 31: April); O11 at 23:59 on Feb 28 local (February).
Errors of March orders: O1 (hotline) rejected as inconsistent (an entry mistake, order desk); O2
(customer's own Telegram order) rejected as inconsistent and O3 (hotline) rejected as not paid are
no staff errors; O4 has a picking count mismatch and a wrong-shipment case (one order, warehouse);
O5 a wrong-shipment case (warehouse). O10's mismatch is April's.
    accuracy = 6 / 9 (order desk 8 / 9, warehouse 7 / 9, the others 9 / 9).
Stage clocks closed in March: first review x4 (one late, closed by 303; one paused 3 h, so 4 h
wall-clock yet within its 2 h), picking x2 (one late, closed by the picker 302), booking x1, offline
entry x1 (late, entered by clerk 301). Not March: a booking clock closed exactly at 00:00 on
Apr 1 local, a first review closed in February (met).
    on-time = 5 / 8 (order desk 3 / 5, warehouse 1 / 2, logistics 1 / 1); February 1 / 1.
Exception cases closed in March with an answer: logistics delay (satisfied), logistics damage (not
satisfied), customer service customs hold (satisfied); the warehouse's wrong shipment is closed
unanswered, and a case closed in April is not March's.
    exception satisfaction = 2 / 3 (logistics 1 / 2, customer service 1 / 1).
Orders completed in March: O6 (receipt), O7 (by the desk), O8 (receipt), O11 (receipt). Complaints:
O6 (rating 1, answered in March), O11 (answered in April: its completion was March's); O7 rated 4.
O10 complained but did not complete in March.
    complaint rate = 2 / 4.
Supervision facts: one outbound clock still running, due Mar 20 (warehouse); SLA alerts: a
warehouse breach acknowledged by Wang Wei, an order-desk breach escalated to management and never
acknowledged, a logistics warning; progress checks held on Mar 16 at 09:00 and 15:00 (and one on
Apr 1); surveys answered in March: 2, ratings 1 + 4, 1 complaint; O1 held by customs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.kpi import KpiSetup
from application.reports import ReportSetup
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.kpi import department_lookup
from domain.orders.model import AuditEvent, Order
from domain.orders.status import Channel, OrderStatus, Role
from domain.sla.alerts import AlertKind, NewAlert
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, pause, resume
from domain.sla.policy_file import load_policy
from presentation.reports import SupervisionDocuments
from storage.kpi_repository import SqlKpiQueries
from storage.models import ExceptionCaseRow, OrderClockRow, SurveyAnswerRow
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory
from tests.storage.factories import make_order

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

ZONE = ZoneInfo("Asia/Shanghai")
SLA = SlaContext(load_policy(), BusinessCalendar("Asia/Shanghai"))
CLERK, PICKER, REVIEWER, MANAGER, HEAD, LOGISTICIAN = 301, 302, 303, 304, 305, 306
UowFactory = Callable[[], SqlUnitOfWork]
Sessions = async_sessionmaker[AsyncSession]


def local(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    """A Shanghai wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


NOW = local(4, 2, 10)


def queries_of(uow: object) -> SqlKpiQueries:
    """The SQL queries on a test unit of work."""
    assert isinstance(uow, SqlUnitOfWork)
    return SqlKpiQueries(uow.session)


async def management_chat(uow: object, department: str) -> int | None:
    """The management chat of the tests."""
    return MANAGEMENT_CHAT if department == Role.MANAGEMENT.value else None


MANAGEMENT_CHAT = -1006


@pytest.fixture
def clock() -> FixedClock:
    """The controlled time of the test."""
    return FixedClock(NOW)


@pytest.fixture
def kpi_setup(clock: FixedClock) -> KpiSetup:
    """The KPI use cases' setup on the test database."""
    return KpiSetup(queries_of, SLA, clock)


@pytest.fixture(scope="session")
def documents() -> SupervisionDocuments:
    """The report renderer with the real catalogs."""
    return SupervisionDocuments(create_i18n("en"), "Asia/Shanghai", department_lookup(SLA.policy))


@pytest.fixture
def report_setup(kpi_setup: KpiSetup, documents: SupervisionDocuments) -> ReportSetup:
    """The report use cases' setup, reporting in English to the management chat."""
    return ReportSetup(kpi_setup, queries_of, documents, management_chat, locale="en")


def note(order: Order, at: datetime, action: str, actor_id: int | None = None, text: str = "") -> None:
    """Appends an audit line to the order."""
    role = Role.SYSTEM if actor_id is None else Role.ORDER_DESK
    order.audit.append(AuditEvent(at, actor_id, role, action, order.status, order.status, text))


def closed(
    order: Order, stage: str, started: datetime, finished: datetime, closer: int | None = None
) -> None:
    """Opens a stage clock with its policy limit and closes it, the closer's audit line at the same moment."""
    order.open_clock(
        stage, started_at=started, due_at=SLA.calendar.add(started, SLA.policy.stage(stage).limit)
    )
    order.close_clock(stage, now=finished)
    if closer is not None:
        note(order, finished, f"close_{stage}", closer)


@dataclass
class March:
    """The stored orders of the fixed month, by name."""

    orders: dict[str, Order]


def _order(created: datetime, channel: Channel = Channel.TELEGRAM) -> Order:
    """A stored-to-be order received at created."""
    order = make_order(created_at=created)
    order.channel = channel
    note(order, created, "submit")
    return order


async def seed_march(new_uow: UowFactory, session_factory: Sessions) -> March:
    """Stores the fixed month described in this module's docstring."""
    day = local(3, 10, 10)
    orders = {f"O{index}": _order(day + timedelta(hours=index)) for index in range(1, 9)}
    orders["O1"].channel = orders["O3"].channel = Channel.HOTLINE
    orders["O9"] = _order(local(3, 31, 23, 30))
    orders["O10"] = _order(local(4, 1, 0, 10))
    orders["O11"] = _order(local(2, 28, 23, 59))
    o = orders
    # Errors.
    note(o["O1"], local(3, 11), "reject", REVIEWER, "inconsistent: the address is not the customer's")
    note(o["O2"], local(3, 11), "reject", REVIEWER, "inconsistent")
    note(o["O3"], local(3, 11), "reject", REVIEWER, "not_paid")
    note(o["O4"], local(3, 12), "pick_mismatch", PICKER, "TEA-01 counted 1 of 2")
    note(o["O10"], local(4, 1, 9), "pick_mismatch", PICKER)
    # Stage clocks closed in March: first review x4.
    closed(o["O1"], "first_review", local(3, 10, 11), local(3, 10, 12))
    closed(o["O2"], "first_review", local(3, 10, 12), local(3, 10, 13))
    closed(o["O3"], "first_review", local(3, 10, 9), local(3, 10, 14), closer=REVIEWER)  # 5 h: late
    paused = o["O5"].open_clock(
        "first_review", started_at=local(3, 10, 15), due_at=local(3, 10, 17)
    )  # 2 h limit
    pause(paused, local(3, 10, 16))
    resume(paused, local(3, 10, 19), policy=SLA.policy, calendar=SLA.calendar)  # 3 h paused
    o["O5"].close_clock("first_review", now=local(3, 10, 19, 30))  # 4.5 h wall-clock, 1.5 h counted
    # Picking x2 (24 h), one late closed by the picker; booking x1; offline entry x1, late.
    closed(o["O4"], "picking", local(3, 12), local(3, 12, 20))
    closed(o["O6"], "picking", local(3, 12), local(3, 14), closer=PICKER)
    closed(o["O7"], "booking", local(3, 13), local(3, 13, 18))
    o["O1"].urgent = True
    closed(o["O1"], "entry_urgent", local(3, 10, 9), local(3, 10, 10, 45), closer=CLERK)
    # Not March: closed at 00:00 on Apr 1 local, and in February.
    closed(o["O8"], "booking", local(3, 31, 12), local(4, 1, 0, 0))
    closed(o["O11"], "first_review", local(2, 28, 23, 0), local(2, 28, 23, 30))
    # Still running past a due time in March.
    o["O8"].open_clock("outbound", started_at=local(3, 20, 4), due_at=local(3, 20, 10))
    o["O9"].open_clock("picking", started_at=local(3, 31, 23, 30), due_at=local(4, 3))
    # Completions in March (and the exceptions marked).
    for name, action in (("O6", "confirm_receipt"), ("O7", "complete"), ("O8", "confirm_receipt")):
        note(o[name], local(3, 25), action)
        o[name].status = OrderStatus.COMPLETED
    note(o["O11"], local(3, 5), "confirm_receipt")
    note(o["O10"], local(4, 1, 12), "confirm_receipt")
    note(o["O1"], local(3, 18), "hold_at_customs")
    async with new_uow() as uow:
        for order in orders.values():
            await uow.orders.add(order)
        await uow.reviews.remember_name(PICKER, "Wang Wei", NOW)
        await uow.reviews.remember_name(REVIEWER, "Olivia Desk", NOW)
        await uow.commit()
    async with session_factory() as session:
        session.add_all(
            [
                _case(o["O4"], "wrong_shipment", Role.WAREHOUSE, local(3, 13), local(3, 20), None),
                _case(o["O5"], "wrong_shipment", Role.WAREHOUSE, local(3, 14), None, None),
                _case(o["O6"], "delay", Role.LOGISTICS, local(3, 5), local(3, 8), True),
                _case(o["O7"], "damaged", Role.LOGISTICS, local(3, 6), local(3, 9), False),
                _case(o["O8"], "customs_hold", Role.CUSTOMER_SERVICE, local(3, 7), local(3, 10), True),
                _case(o["O9"], "delay", Role.LOGISTICS, local(3, 30), local(4, 1, 8), False),
                SurveyAnswerRow(order_id=o["O6"].id, rating=1, complaint=True, answered_at=local(3, 27)),
                SurveyAnswerRow(order_id=o["O7"].id, rating=4, complaint=False, answered_at=local(3, 27)),
                SurveyAnswerRow(order_id=o["O11"].id, rating=2, complaint=True, answered_at=local(4, 1, 11)),
                SurveyAnswerRow(order_id=o["O10"].id, rating=1, complaint=True, answered_at=local(4, 1, 13)),
            ]
        )
        await session.commit()
    await _alerts_and_checks(new_uow, session_factory, o)
    return March(orders)


def _case(
    order: Order,
    kind: str,
    department: Role,
    opened: datetime,
    closed_at: datetime | None,
    satisfied: bool | None,
) -> ExceptionCaseRow:
    """An exception case row (the exceptions issue will write these)."""
    return ExceptionCaseRow(
        order_id=order.id,
        type=kind,
        department=department.value,
        opened_at=opened,
        closed_at=closed_at,
        satisfied=satisfied,
        answered_at=closed_at if satisfied is not None else None,
    )


async def _alerts_and_checks(new_uow: UowFactory, session_factory: Sessions, o: dict[str, Order]) -> None:
    """Records the month's SLA alerts (with an acknowledgement and escalations) and progress checks."""
    async with session_factory() as session:
        clock_ids = {
            (row.order_id, row.stage): row.id for row in (await session.scalars(select(OrderClockRow))).all()
        }

    def alert(order: str, stage: str, kind: AlertKind, department: Role, at: datetime) -> NewAlert:
        """An alert on the clock of one of the month's orders at a stage."""
        return NewAlert(o[order].id, clock_ids[(o[order].id, stage)], stage, kind, department, at)

    async with new_uow() as uow:
        sla = uow.sla
        picking = await sla.record_alert(
            alert("O6", "picking", AlertKind.BREACH, Role.WAREHOUSE, local(3, 16, 10, 5))
        )
        review = await sla.record_alert(
            alert("O3", "first_review", AlertKind.BREACH, Role.ORDER_DESK, local(3, 16, 11))
        )
        await sla.record_alert(alert("O7", "booking", AlertKind.WARNING, Role.LOGISTICS, local(3, 16, 12)))
        assert picking is not None and review is not None
        await sla.acknowledge([picking], PICKER, "Wang Wei", local(3, 16, 10, 20))
        await sla.escalate(review, 1, local(3, 16, 11, 30))
        await sla.escalate(review, 2, local(3, 16, 12, 0))
        for slot, overdue in (("2026-03-16T09:00", 0), ("2026-03-16T15:00", 2), ("2026-04-01T09:00", 1)):
            await sla.record_digest(slot, local(3, 16, 9), {"overdue": overdue, "at_risk": 1})
        await uow.commit()
