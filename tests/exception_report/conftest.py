"""Exception report fixtures: the storage fixtures (every test on SQLite and PostgreSQL) and a stored month.

The month is March 2026 in Asia/Shanghai; now is 2026-04-02 10:00 local. What `seed_march` stores,
through the order, exception and finance repositories, and the figures it must give (R-6.5):

- order A: a delay (weather) opened at 10:00 on Mar 2, closed at 16:00 (6 h), the customer satisfied;
  its cause found (delay_cause) and its record made (exception_record) in time. A delay_cause clock
  of February (before the case opened) is not the case's.
- order B: damage (packing) opened on Feb 27, closed on Mar 3 (4 days); its evidence came late; its
  picking clock is no step of the case. Unanswered.
- order C: a wrong shipment opened at 00:10 on Apr 1 local: April's.
- order D: a delay (weather) opened at 23:30 on Mar 31 local, still open.
    opened 2 (A, D), closed 2 (A, B); delay: opened 2, closed 1, within the limits 1 / 1, 6 h;
    damaged: opened 0, closed 1, within 0 / 1, 4 days; within the limits 1 / 2; satisfaction 1 / 1.
- payouts: 500.00 CNY of delay compensation paid on Mar 8; not counted: one still open, a refund
  paid in March, a payout paid at 00:30 on Apr 1 local.
- improvement actions: one in March against delay/weather, one in February against delay/weather
  (recurred: 2 cases) and one in February against damaged/packing (did not recur).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from application.exception_report import ExceptionReportSetup
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.exception_report import Cause
from domain.finance import MoneyKind, MoneyOwed, OwedReason
from domain.orders.model import Order
from domain.orders.status import Role
from presentation.exception_report import ExceptionReportTexts
from storage.exception_report_repository import SqlExceptionReportQueries
from storage.models import ExceptionCaseRow
from storage.uow import SqlUnitOfWork
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory
from tests.storage.factories import make_order

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

ZONE = ZoneInfo("Asia/Shanghai")
UowFactory = Callable[[], SqlUnitOfWork]
MANAGEMENT_CHAT = -1006
CLERK, HEAD, MANAGER, PICKER = 301, 305, 304, 302
CAUSES = {
    "delay": ("weather", "carrier_capacity", "other"),
    "damaged": ("packing", "other"),
    "wrong_shipment": ("picking_error", "other"),
}
WEATHER = Cause("delay", "weather")
PACKING = Cause("damaged", "packing")


def local(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time of 2026 as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


NOW = local(4, 2)


def queries_of(uow: object) -> SqlExceptionReportQueries:
    """The SQL queries on a test unit of work."""
    assert isinstance(uow, SqlUnitOfWork)
    return SqlExceptionReportQueries(uow.session)


async def management_chat(uow: object, department: str) -> int | None:
    """The management chat of the tests."""
    return MANAGEMENT_CHAT if department == Role.MANAGEMENT.value else None


@pytest.fixture
def clock() -> FixedClock:
    """The controlled time of the test."""
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def texts() -> ExceptionReportTexts:
    """The report renderer with the real catalogs."""
    return ExceptionReportTexts(create_i18n("en"), "Asia/Shanghai")


@pytest.fixture
def report_setup(clock: FixedClock, texts: ExceptionReportTexts) -> ExceptionReportSetup:
    """The report's setup on the test database, reporting in English to the management chat."""
    return ExceptionReportSetup(clock, ZONE, queries_of, texts, management_chat, CAUSES, locale="en")


def clocked(order: Order, stage: str, started: datetime, hours: int, finished: datetime | None) -> None:
    """Opens a clock due `hours` after it started, and closes it when finished is given."""
    order.open_clock(stage, started_at=started, due_at=started + timedelta(hours=hours))
    if finished is not None:
        order.close_clock(stage, now=finished)


async def add_case(
    uow: SqlUnitOfWork,
    order: Order,
    kind: str,
    cause: str,
    opened: datetime,
    closed: datetime | None = None,
    satisfied: bool | None = None,
) -> None:
    """Stores an exception case of the order."""
    uow.session.add(
        ExceptionCaseRow(
            order_id=order.id,
            type=kind,
            cause=cause,
            department="logistics",
            opened_at=opened,
            closed_at=closed,
            satisfied=satisfied,
            answered_at=closed if satisfied is not None else None,
        )
    )


def owed(order: Order, kind: MoneyKind, reason: OwedReason, amount: str, created: datetime) -> MoneyOwed:
    """A refund or payout of the order."""
    return MoneyOwed(
        order_id=order.id,
        kind=kind,
        reason=reason,
        amount=Decimal(amount),
        currency="CNY",
        method="card",
        created_at=created,
        due_at=created + timedelta(days=3),
    )


async def seed_march(new_uow: UowFactory) -> dict[str, Order]:
    """Stores the month of this module's docstring."""
    orders = {name: make_order(created_at=local(2, 20)) for name in "ABCD"}
    a, b, c, d = (orders[name] for name in "ABCD")
    clocked(a, "delay_cause", local(2, 1), 2, local(2, 1, 11))
    clocked(a, "delay_cause", local(3, 2, 10), 2, local(3, 2, 11))
    clocked(a, "exception_record", local(3, 2, 16), 24, local(3, 2, 18))
    clocked(b, "picking", local(2, 26), 24, local(2, 28))
    clocked(b, "evidence", local(2, 27), 2, local(2, 27, 15))
    clocked(d, "delay_cause", local(3, 31, 23, 30), 2, None)
    async with new_uow() as uow:
        for order in orders.values():
            await uow.orders.add(order)
        await add_case(uow, a, "delay", "weather", local(3, 2, 10), local(3, 2, 16), satisfied=True)
        await add_case(uow, b, "damaged", "packing", local(2, 27), local(3, 3))
        await add_case(uow, c, "wrong_shipment", "picking_error", local(4, 1, 0, 10))
        await add_case(uow, d, "delay", "weather", local(3, 31, 23, 30))
        finance = uow.finance
        paid = await finance.add(
            owed(a, MoneyKind.PAYOUT, OwedReason.DELAY_COMPENSATION, "500.00", local(3, 3))
        )
        await finance.mark_paid(paid, reference="T-1", paid_at=local(3, 8), by=None, at=local(3, 8))
        await finance.add(owed(b, MoneyKind.PAYOUT, OwedReason.DAMAGE_COMPENSATION, "300.00", local(3, 3)))
        refund = await finance.add(owed(b, MoneyKind.REFUND, OwedReason.CANCELLATION, "99.00", local(3, 4)))
        await finance.mark_paid(refund, reference="T-2", paid_at=local(3, 5), by=None, at=local(3, 5))
        late = await finance.add(
            owed(d, MoneyKind.PAYOUT, OwedReason.DELAY_COMPENSATION, "70.00", local(3, 31))
        )
        await finance.mark_paid(late, reference="T-3", paid_at=local(4, 1, 0, 30), by=None, at=local(4, 1, 1))
        queries = queries_of(uow)
        await queries.record_action(
            WEATHER, "Book a second carrier for typhoon weeks", CLERK, None, local(3, 3)
        )
        await queries.record_action(WEATHER, "Watch the typhoon forecast", HEAD, None, local(2, 10))
        await queries.record_action(PACKING, "Double boxes for glass", HEAD, None, local(2, 20))
        await uow.reviews.remember_name(CLERK, "Olivia Desk", NOW)
        await uow.commit()
    return orders
