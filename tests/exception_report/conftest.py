"""Exception report fixtures: the storage fixtures (every test on SQLite and PostgreSQL) and a stored month.

The month is March 2026 in Asia/Shanghai; now is 2026-04-02 10:00 local. What `seed_march` stores,
through the order, exception and finance repositories, and the figures it must give (R-6.5):

- order A: a delay (weather, known when marked: its cause clock ends as it starts) opened at 10:00
  on Mar 2, the customer told at 10:30 (delay_notice, 1 h), closed at 16:00 (6 h), its record made at
  18:00 (exception_record, 24 h); the customer satisfied. Its clocks of the way there are no steps.
- order B: damage (packing) opened on Feb 27, closed on Mar 3 (4 days): its evidence clock (2 h)
  closed with the case, late; its record was never made (due Mar 4, now past). Unanswered.
- order C: a wrong shipment opened at 00:10 on Apr 1 local: April's.
- order D: a delay (weather) opened at 23:30 on Mar 31 local, still open.
    opened 2 (A, D), closed 2 (A, B); delay: opened 2, closed 1, within the limits 1 / 1, 6 h;
    damaged: opened 0, closed 1, within 0 / 1, 4 days; within the limits 1 / 2; satisfaction 1 / 1;
    steps: delay cause 1 / 1, delay notice 1 / 1, evidence 0 / 1, exception record 1 / 2.
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
from application.exceptions import ExceptionSetup, close_case, complete_record, raise_exception, tell_customer
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.exception_report import Cause
from domain.exceptions.case import CaseResult
from domain.finance import MoneyKind, MoneyOwed, OwedReason
from domain.orders.model import Order
from domain.orders.status import ExceptionType, OrderStatus, Role
from presentation.exception_report import ExceptionReportTexts
from storage.exception_report_repository import SqlExceptionReportQueries
from storage.uow import SqlUnitOfWork
from tests.exceptions.conftest import SLA, order_at
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

ZONE = ZoneInfo("Asia/Shanghai")
UowFactory = Callable[[], SqlUnitOfWork]
MANAGEMENT_CHAT = -1006
CLERK, HEAD, MANAGER, LOGISTICIAN, SERVICE = 301, 305, 304, 306, 307
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


async def open_case(
    new_uow: UowFactory, clock: FixedClock, order: Order, kind: ExceptionType, cause: str, at: datetime
) -> int:
    """Logistics marks an exception on the order at a moment (application/exceptions.py)."""
    clock.current = at
    case = await raise_exception(
        new_uow(), order.id, actor_id=LOGISTICIAN, kind=kind, cause=cause, note="", setup=_setup(clock)
    )
    assert case.id is not None
    return case.id


async def close(new_uow: UowFactory, clock: FixedClock, case_id: int, at: datetime) -> None:
    """Customer service closes the case, the order resuming."""
    clock.current = at
    await close_case(new_uow(), case_id, actor_id=SERVICE, result=CaseResult.RESUMED, setup=_setup(clock))


def _setup(clock: FixedClock) -> ExceptionSetup:
    """The exception use cases on the shipped SLA policy and cause list."""
    return ExceptionSetup(clock, SLA)


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
    """Stores the month of this module's docstring through the exception and finance repositories."""
    clock = FixedClock(NOW)
    orders = {name: order_at(OrderStatus.IN_TRANSIT) for name in "ABCD"}
    a, b, c, d = (orders[name] for name in "ABCD")
    for serial, order in enumerate(orders.values(), start=1):
        order.number = f"OD-20260315-{serial:04d}"
    async with new_uow() as uow:
        for order in orders.values():
            await uow.orders.add(order)
        await uow.staff.grant(LOGISTICIAN, Role.LOGISTICS, by=None, at=NOW)
        await uow.staff.grant(SERVICE, Role.CUSTOMER_SERVICE, by=None, at=NOW)
        await uow.staff.grant(CLERK, Role.ORDER_DESK, by=None, at=NOW)
        await uow.commit()
    first = await open_case(new_uow, clock, a, ExceptionType.DELAY, "weather", local(3, 2, 10))
    clock.current = local(3, 2, 10, 30)
    await tell_customer(
        new_uow(), first, actor_id=SERVICE, text="Typhoon: two days later", setup=_setup(clock)
    )
    await close(new_uow, clock, first, local(3, 2, 16))
    clock.current = local(3, 2, 18)
    await complete_record(new_uow(), first, actor_id=CLERK, text=None, setup=_setup(clock))
    damage = await open_case(new_uow, clock, b, ExceptionType.DAMAGED, "packing", local(2, 27))
    await close(new_uow, clock, damage, local(3, 3))
    await open_case(new_uow, clock, c, ExceptionType.WRONG_SHIPMENT, "picking_error", local(4, 1, 0, 10))
    await open_case(new_uow, clock, d, ExceptionType.DELAY, "weather", local(3, 31, 23, 30))
    async with new_uow() as uow:
        case = await uow.exceptions.get(first)
        assert case is not None and case.answer(
            True, at=local(3, 2, 19), customer_id=a.customer.telegram_user_id
        )
        await uow.exceptions.save(case)
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
