"""Completion (R-7.1): the customer's problem report, the desk's completion by hand, and the sweep.

Without an answer a delivered order completes by itself once the quiet period (COMPLETE_AFTER) has
passed, unless the customer reported a problem; one back from a closed exception completes at
once. Each completion opens the completion clock on the receipt (confirmed or deemed) and closes
it on completion, so its time is recorded; the customer is told through the notification policy.
Cancelled orders are completed by the SLA sweep (application/sla_sweeps.py). The completion's
time is the audit line that reached completed; the after-sales record starts from it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from application.aftersales_ports import AftersalesSetup, AftersalesUnitOfWork
from application.services import SYSTEM, Actor, commit_change
from domain.aftersales.completion import (
    HAND_COMPLETABLE,
    PROBLEM_REPORTED,
    completed_at,
    completion_due,
    problem_open,
)
from domain.aftersales.events import ProblemReported
from domain.errors import DomainError
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.clocks import apply_clock_events
from domain.sla.policy import ClockEvent

logger = logging.getLogger(__name__)
REASON_MAX = 500


class NotYourOrder(DomainError):
    """The order is not the customer's own."""


class ProblemAlreadyReported(DomainError):
    """The customer already reported a problem with the delivered order."""


class NotDelivered(DomainError):
    """The order is not (or no longer) waiting for the customer's receipt."""


def check_customers(order: Order, customer_id: int) -> None:
    """Raises NotYourOrder unless the order is the customer's own."""
    if order.customer.telegram_user_id != customer_id:
        raise NotYourOrder(f"order {order.display_id} is not the customer's")


def check_delivered_to(order: Order, customer_id: int) -> None:
    """Raises unless the order is the customer's own and waits for their receipt."""
    check_customers(order, customer_id)
    if order.status is not OrderStatus.DELIVERED:
        raise NotDelivered(order.display_id)


def _receipt(order: Order, now: datetime, setup: AftersalesSetup) -> None:
    """Opens the completion clock on a delivered order's receipt (confirmed or deemed confirmed)."""
    if order.status is OrderStatus.DELIVERED:
        apply_clock_events(order, [ClockEvent.READY_TO_COMPLETE], now, setup.sla)


async def report_problem(
    uow: AftersalesUnitOfWork, order_id: str, customer_id: int, setup: AftersalesSetup
) -> Order:
    """Records the customer's problem with their delivered order; customer service gets a card (R-7.1)."""
    async with uow:
        order = await uow.orders.get(order_id)
        check_delivered_to(order, customer_id)
        if problem_open(order):
            raise ProblemAlreadyReported(order.display_id)
        now = setup.clock.now()
        order.note("", actor_id=customer_id, role=Role.CUSTOMER, now=now, action=PROBLEM_REPORTED)
        order.record(ProblemReported(order.event_id(), order.id, now))
        await commit_change(order, uow, now, setup.handlers, None)
    return order


async def complete_by_hand(
    uow: AftersalesUnitOfWork, reference: str, actor: Actor, reason: str, setup: AftersalesSetup
) -> Order:
    """The order desk completes an order by hand, with a reason (R-7.1); raises if it may not."""
    reason = " ".join(reason.split())[:REASON_MAX]
    if not reason:
        raise DomainError("a completion by hand needs a reason")
    async with uow:
        order = await uow.orders.find(reference)
        if order is None:
            raise LookupError(reference)
        if order.status not in HAND_COMPLETABLE:
            raise NotDelivered(order.display_id)
        now = setup.clock.now()
        _receipt(order, now, setup)
        order.apply(Action.COMPLETE, actor_id=actor.user_id, roles=actor.roles, now=now, note=reason)
        await commit_change(order, uow, now, setup.handlers, setup.sla)
    return order


async def complete_due(uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup) -> int:
    """Completes the delivered orders whose quiet period passed without objection; returns how many."""
    settings = setup.settings
    calendar, quiet = setup.sla.calendar, settings.complete_after
    now = setup.clock.now()
    # The latest delivery whose quiet period has run: read on the audit index, never every delivered order.
    if quiet.working_days:
        delivered_before = calendar.add_working_time(now, -calendar.length(quiet))
    else:
        delivered_before = now - quiet.wall_time
    async with uow_factory() as uow:
        delivered = await uow.aftersales.due_for_completion(delivered_before, settings.batch)
    done = 0
    for order_id in delivered:
        # If one fails we don't want all to fail.
        try:
            async with uow_factory() as uow:
                order = await uow.orders.get(order_id)
                now = setup.clock.now()
                reason = completion_due(order, now, settings.complete_after, setup.sla.calendar)
                if reason is None:
                    continue
                _receipt(order, now, setup)
                order.apply(Action.COMPLETE, actor_id=None, roles=SYSTEM, now=now, note=reason.value)
                await commit_change(order, uow, now, setup.handlers, setup.sla)
                done += 1
        except Exception:
            logger.exception("After-sales sweep: could not complete order %s", order_id)
    return done


async def record_completions(uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup) -> int:
    """Starts the after-sales record (completion time) of every newly completed order; returns how many."""
    async with uow_factory() as uow:
        order_ids = await uow.aftersales.completed_without_record(setup.settings.batch)
    done = 0
    for order_id in order_ids:
        try:
            async with uow_factory() as uow:
                order = await uow.orders.get(order_id)
                await uow.aftersales.record_completion(order_id, completed_at(order) or setup.clock.now())
                await uow.commit()
                done += 1
        except Exception:
            logger.exception("After-sales sweep: could not record the completion of order %s", order_id)
    return done
