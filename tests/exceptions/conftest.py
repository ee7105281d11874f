"""Fixtures of the exception tests (issue 14): orders on their way, staff with roles, the setup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from application.exceptions import ExceptionSetup
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, sync_clocks
from domain.sla.policy_file import load_policy
from tests.fakes import FakeDatabase, FakeUnitOfWork
from tests.storage.factories import T0, make_order

SLA = SlaContext(load_policy(), BusinessCalendar())
LOGISTICS_ID = 7001
SERVICE_ID = 7002
DESK_ID = 7003
WAREHOUSE_ID = 7004
SYSTEM = frozenset({Role.SYSTEM})
DESK = frozenset({Role.ORDER_DESK})
WAREHOUSE = frozenset({Role.WAREHOUSE})
LOGISTICS = frozenset({Role.LOGISTICS})

# The steps that bring a reviewed air-freight order to each status, in order.
ROUTE: tuple[tuple[Action, frozenset[Role], OrderStatus], ...] = (
    (Action.PASS_VALIDATION, SYSTEM, OrderStatus.PENDING_REVIEW),
    (Action.APPROVE, DESK, OrderStatus.AWAITING_CONFIRMATION),
    (Action.CONFIRM, SYSTEM, OrderStatus.CONFIRMED),
    (Action.PICK, WAREHOUSE, OrderStatus.PICKED),
    (Action.OUTBOUND_SCAN, WAREHOUSE, OrderStatus.OUTBOUND),
    (Action.BOOK, LOGISTICS, OrderStatus.BOOKED),
    (Action.DEPART, LOGISTICS, OrderStatus.IN_TRANSIT),
    (Action.ARRIVE, LOGISTICS, OrderStatus.ARRIVED),
    (Action.CLEAR_CUSTOMS, LOGISTICS, OrderStatus.CLEARED),
    (Action.START_LAST_MILE, LOGISTICS, OrderStatus.OUT_FOR_DELIVERY),
    (Action.DELIVER, LOGISTICS, OrderStatus.DELIVERED),
)


def order_at(status: OrderStatus, *, telegram_user_id: int = 555_000_111) -> Order:
    """An air-freight order walked through the table to a status, its clocks kept by the policy."""
    order = make_order(telegram_user_id=telegram_user_id)
    now = T0
    for action, roles, reached in ROUTE:
        now += timedelta(minutes=10)
        order.apply(action, actor_id=None, roles=roles, now=now)
        sync_clocks(order, now, SLA)
        if reached is OrderStatus.CONFIRMED:
            order.assign_number("OD-20260315-0001", now=now)
        if reached is status:
            break
    order.pull_events()
    return order


@pytest.fixture
def clock() -> FixedClock:
    """A clock an hour after the test orders' last step."""
    return FixedClock(T0 + timedelta(hours=3))


@pytest.fixture
def database() -> FakeDatabase:
    """A fake database with staff of every department handling exceptions."""
    database = FakeDatabase()
    database.state.roles.update(
        {
            LOGISTICS_ID: {Role.LOGISTICS},
            SERVICE_ID: {Role.CUSTOMER_SERVICE},
            DESK_ID: {Role.ORDER_DESK},
            WAREHOUSE_ID: {Role.WAREHOUSE},
        }
    )
    return database


@pytest.fixture
def uows(database: FakeDatabase) -> Callable[[], FakeUnitOfWork]:
    """Opens units of work on the fake database."""
    return database.unit_of_work


@pytest.fixture
def setup(clock: FixedClock) -> ExceptionSetup:
    """The exception setup with the shipped SLA policy and no notifier."""
    return ExceptionSetup(clock, SLA)


def seed(database: FakeDatabase, order: Order) -> Order:
    """Stores an order as committed."""
    order.version = 1
    database.state.orders[order.id] = order
    return order
