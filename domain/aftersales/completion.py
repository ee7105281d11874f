"""When an order completes (R-7.1): receipt confirmed, no objection in the quiet period, a closed exception.

A delivered order completes by itself once the quiet period after delivery (COMPLETE_AFTER) has
passed without the customer reporting a problem; one that comes back to delivered from a closed
exception completes at once (within the 24 h of the completion clock). Cancelled orders are
completed by the SLA sweep. The order desk may complete an order by hand, with a reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus
from domain.sla.calendar import BusinessCalendar, Duration

# The audit action of the customer's "Report a problem" on the delivered message.
PROBLEM_REPORTED = "problem_reported"
# The actions whose audit lines complete an order (the KPIs read the same ones).
COMPLETING_ACTIONS = frozenset({Action.CONFIRM_RECEIPT.value, Action.COMPLETE.value})
# Orders the desk can complete by hand: the transition table's sources of COMPLETE.
HAND_COMPLETABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.EXCEPTION})


class CompletionReason(StrEnum):
    """Why the system completes an order; the value is its audit note."""

    QUIET_PERIOD = "no objection after delivery (R-7.1)"
    EXCEPTION_CLOSED = "exception closed (R-7.1)"


def last_delivered_at(order: Order) -> datetime | None:
    """Returns when the order last reached delivered (its delivery, or its return from an exception)."""
    for line in reversed(order.audit):
        if line.to_status is OrderStatus.DELIVERED and line.from_status is not OrderStatus.DELIVERED:
            return line.at
    return None


def problem_open(order: Order) -> bool:
    """Whether the customer reported a problem since the order last reached delivered."""
    since = last_delivered_at(order)
    return since is not None and any(
        line.action == PROBLEM_REPORTED and line.at >= since for line in order.audit
    )


def completion_due(
    order: Order, now: datetime, quiet: Duration, calendar: BusinessCalendar
) -> CompletionReason | None:
    """Tells why a delivered order is to be completed now, or None while it is not."""
    if order.status is not OrderStatus.DELIVERED or problem_open(order):
        return None
    reached = next((line for line in reversed(order.audit) if line.to_status is OrderStatus.DELIVERED), None)
    if reached is None:
        return None
    if reached.from_status is OrderStatus.EXCEPTION:
        return CompletionReason.EXCEPTION_CLOSED
    delivered = order.shipment.delivered_at or reached.at
    return CompletionReason.QUIET_PERIOD if calendar.add(delivered, quiet) <= now else None


def completed_at(order: Order) -> datetime | None:
    """Returns when the order completed (the audit line that reached completed), or None."""
    for line in reversed(order.audit):
        if line.to_status is OrderStatus.COMPLETED and line.from_status is not OrderStatus.COMPLETED:
            return line.at
    return None
