"""Orders with an open claim, for the claim tests (issue 14, R-6.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.claims import ClaimsSetup
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, sync_clocks
from domain.sla.policy_file import shipped_policy
from tests.storage.factories import CUSTOMER_ID, make_order

# Monday 2026-03-16 10:00 in Shanghai.
T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
SLA = SlaContext(shipped_policy(), BusinessCalendar())
LOGISTICS_ID, SERVICE_ID, WAREHOUSE_ID = 501, 502, 503
CUSTOMER = CUSTOMER_ID


def claimed_order(kind: ExceptionType = ExceptionType.DAMAGED, *, by: int = LOGISTICS_ID) -> Order:
    """A delivered order marked damaged (wrong, lost) at T0, its clocks in step with the policy."""
    order = make_order(status=OrderStatus.DELIVERED, created_at=T0 - timedelta(days=3))
    order.number = "2026031300001"
    order.paid = True
    order.apply(
        Action.RAISE_EXCEPTION, actor_id=by, roles=frozenset({Role.LOGISTICS}), now=T0, exception_type=kind
    )
    sync_clocks(order, T0, SLA)
    order.pull_events()
    return order


def setup_at(clock: FixedClock) -> ClaimsSetup:
    """The claim use cases' setup on a test clock, no notifier."""
    return ClaimsSetup(clock, SLA)
