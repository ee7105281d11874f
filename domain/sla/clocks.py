"""Stage clocks: which clock runs in which status, opening, closing, pausing and judging them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from domain.errors import DomainError
from domain.orders.model import Order, StageClock
from domain.orders.status import INTERRUPTIONS, ExceptionType, OrderStatus, Role, Service
from domain.sla.calendar import BusinessCalendar
from domain.sla.policy import WARNING_PERCENT, ClockStatus, SlaPolicy, Stage


def entry_stage(urgent: bool) -> Stage:
    """Returns the entry stage of an offline order (R-1.4)."""
    return Stage.ENTRY_URGENT if urgent else Stage.ENTRY


_STATUS_STAGES: Mapping[OrderStatus, Stage] = MappingProxyType(
    {
        OrderStatus.PENDING_REVIEW: Stage.FIRST_REVIEW,
        OrderStatus.PENDING_SECOND_REVIEW: Stage.SECOND_REVIEW,
        OrderStatus.AWAITING_CONFIRMATION: Stage.CONFIRMATION,
        OrderStatus.PICKED: Stage.OUTBOUND,
        OrderStatus.ARRIVED: Stage.CLEARANCE,
        OrderStatus.CLEARED: Stage.LAST_MILE,
        OrderStatus.DELIVERED: Stage.COMPLETION,
        OrderStatus.COMPLETED: Stage.ARCHIVE,
        OrderStatus.CANCELLATION_REQUESTED: Stage.CANCEL_CHECK,
        OrderStatus.CANCELLED: Stage.COMPLETION,
    }
)


_EXCEPTION_STAGES: Mapping[ExceptionType, Stage] = MappingProxyType(
    {
        ExceptionType.CUSTOMER_CANCELLATION: Stage.CANCEL_CHECK,
        ExceptionType.COMPANY_CANCELLATION: Stage.CANCEL_CHECK,
        ExceptionType.MODIFICATION: Stage.MODIFICATION,
        ExceptionType.DELAY: Stage.DELAY_CAUSE,
        ExceptionType.DAMAGED: Stage.EVIDENCE,
        ExceptionType.WRONG_SHIPMENT: Stage.EVIDENCE,
        ExceptionType.LOST: Stage.EVIDENCE,
        ExceptionType.CUSTOMS_HOLD: Stage.DELAY_NOTICE,
    }
)


def stage_for(
    status: OrderStatus, service: Service, exception_type: ExceptionType | None = None
) -> Stage | None:
    """Returns the stage whose clock runs while an order is in this status, or None if no limit applies."""
    if status is OrderStatus.CONFIRMED:
        return Stage.PICKING_OVERSEAS if service is Service.OVERSEAS_WAREHOUSE else Stage.PICKING
    if status is OrderStatus.OUTBOUND:
        return Stage.BOOKING if service.international else Stage.LAST_MILE
    if status is OrderStatus.EXCEPTION:
        return _EXCEPTION_STAGES.get(exception_type) if exception_type is not None else None
    return _STATUS_STAGES.get(status)


def due_at(policy: SlaPolicy, calendar: BusinessCalendar, stage: str, started_at: datetime) -> datetime:
    """Returns when a stage started at started_at must be finished (aware UTC)."""
    return calendar.add(started_at, policy.stage(stage).limit)


def warning_at(policy: SlaPolicy, calendar: BusinessCalendar, stage: str, started_at: datetime) -> datetime:
    """Returns when 80 % of a stage's time is used (business time for working-day limits)."""
    return _warning_before(policy, calendar, stage, due_at(policy, calendar, stage, started_at))


def clock_warning_at(clock: StageClock, *, policy: SlaPolicy, calendar: BusinessCalendar) -> datetime:
    """Returns when 80 % of a clock's time is used, counting only time it was running."""
    return _warning_before(policy, calendar, clock.stage, clock.due_at)


def _warning_before(policy: SlaPolicy, calendar: BusinessCalendar, stage: str, due: datetime) -> datetime:
    """Returns the moment 20 % of the stage's time before its due time."""
    # Counting back from the due time makes a resumed clock's warning move with its due time.
    limit = policy.stage(stage).limit
    left = calendar.length(limit) * (100 - WARNING_PERCENT) / 100
    if limit.working_days:
        return calendar.add_working_time(due, -left)
    return due - left


def pause(clock: StageClock, now: datetime) -> None:
    """Stops a running clock so the time until resume does not count against the stage."""
    if not clock.running:
        raise DomainError(f"the {clock.stage} clock has finished; it cannot be paused")
    if clock.paused_at is not None:
        raise DomainError(f"the {clock.stage} clock is already paused")
    if now < clock.started_at:
        raise DomainError(f"the {clock.stage} clock cannot be paused before it started")
    clock.paused_at = now


def resume(clock: StageClock, now: datetime, *, policy: SlaPolicy, calendar: BusinessCalendar) -> None:
    """Restarts a paused clock and moves its due time on by the paused time."""
    if clock.paused_at is None:
        raise DomainError(f"the {clock.stage} clock is not paused")
    if now < clock.paused_at:
        raise DomainError(f"the {clock.stage} clock cannot resume before it was paused")
    if policy.stage(clock.stage).limit.working_days:
        clock.due_at = calendar.add_working_time(
            clock.due_at, calendar.working_time_between(clock.paused_at, now)
        )
    else:
        clock.due_at = clock.due_at + (now - clock.paused_at)
    clock.paused_at = None


def status_of(
    clock: StageClock, now: datetime, *, policy: SlaPolicy, calendar: BusinessCalendar
) -> ClockStatus:
    """Tells whether a clock is done, breached, at risk (80 % used) or fine; a paused clock stands still."""
    if not clock.running:
        return ClockStatus.DONE
    moment = clock.paused_at or now
    if moment > clock.due_at:
        return ClockStatus.BREACHED
    if moment >= clock_warning_at(clock, policy=policy, calendar=calendar):
        return ClockStatus.AT_RISK
    return ClockStatus.OK


def overdue_by(clock: StageClock, now: datetime) -> timedelta:
    """Returns how long (wall-clock) a clock has run past its due time, zero if it has not."""
    end = clock.finished_at or clock.paused_at or now
    return max(end - clock.due_at, timedelta(0))


@dataclass(frozen=True)
class SlaContext:
    """The policy and business calendar a use case needs to keep an order's clocks."""

    policy: SlaPolicy
    calendar: BusinessCalendar


# Statuses before the outbound scan: only then is a cancellation done within cancel_done.
_BEFORE_OUTBOUND = frozenset(
    {
        OrderStatus.SUBMITTED,
        OrderStatus.VALIDATION_FAILED,
        OrderStatus.PENDING_REVIEW,
        OrderStatus.PENDING_SECOND_REVIEW,
        OrderStatus.AWAITING_CONFIRMATION,
        OrderStatus.CONFIRMED,
        OrderStatus.PICKED,
    }
)


# The stages sync_clocks opens and closes from the order status; the others end with events it does not see.
STATUS_STAGES = frozenset(
    {
        *_STATUS_STAGES.values(),
        *_EXCEPTION_STAGES.values(),
        Stage.PICKING,
        Stage.PICKING_OVERSEAS,
        Stage.BOOKING,
        Stage.LAST_MILE,
        Stage.CANCEL_DONE,
    }
)


def open_stage(order: Order, stage: Stage, now: datetime, sla: SlaContext) -> StageClock:
    """Starts the clock of a stage with its due time from the policy."""
    return order.open_clock(stage.value, started_at=now, due_at=due_at(sla.policy, sla.calendar, stage, now))


def sync_clocks(order: Order, now: datetime, sla: SlaContext) -> list[StageClock]:
    """Makes the order's status clocks follow its status; returns the clocks opened, closed or moved.

    Entering an interruption (exception, cancellation request) pauses the stage the order will
    resume, so the interruption does not count against it; coming back resumes that clock. Any
    other status clock of a stage the order has left is closed, recording whether it was met, and
    the clock of the stage the order is in now is opened if it is not running yet.
    """
    current = stage_for(order.status, order.service, order.exception_type)
    interrupted = order.status in INTERRUPTIONS
    waiting = (
        stage_for(order.resume_status, order.service) if interrupted and order.resume_status else None
    )
    cancelling = order.status is OrderStatus.CANCELLATION_REQUESTED
    touched: list[StageClock] = []
    for clock in list(order.clocks):
        if not clock.running or clock.stage not in STATUS_STAGES:
            continue
        if clock.stage == current or (clock.stage == Stage.CANCEL_DONE and cancelling):
            if clock.paused_at is not None and clock.stage == current and not interrupted:
                resume(clock, now, policy=sla.policy, calendar=sla.calendar)
                touched.append(clock)
            continue
        if clock.stage == waiting:
            if clock.paused_at is None:
                pause(clock, max(now, clock.started_at))
                touched.append(clock)
            continue
        closed = order.close_clock(clock.stage, now=now)
        if closed is not None:
            touched.append(closed)
    running = {clock.stage for clock in order.clocks if clock.running}
    if current is not None and current not in running:
        touched.append(open_stage(order, current, now, sla))
    if cancelling and Stage.CANCEL_DONE not in running and order.resume_status in _BEFORE_OUTBOUND:
        touched.append(open_stage(order, Stage.CANCEL_DONE, now, sla))
    return touched


def running_clock(order: Order, stage: str | None = None) -> StageClock | None:
    """Returns the running status clock of the order (of the given stage, if named)."""
    wanted = stage or stage_for(order.status, order.service, order.exception_type)
    if wanted is None:
        return None
    return next((clock for clock in order.clocks if clock.running and clock.stage == wanted), None)


def risk_thresholds(
    sla: SlaContext, now: datetime, stages: Iterable[Stage] = tuple(Stage)
) -> dict[str, datetime]:
    """Returns, per stage, the latest due time whose clock has reached its warning at now.

    A running clock of stage s is at risk (80 % used) or breached exactly when its due time is at
    most thresholds[s]; the sweeps look clocks up by due time with these bounds, on an index.
    """
    thresholds = {}
    for stage in stages:
        limit = sla.policy.stage(stage).limit
        left = sla.calendar.length(limit) * (100 - WARNING_PERCENT) / 100
        if limit.working_days:
            thresholds[stage.value] = sla.calendar.add_working_time(now, left)
        else:
            thresholds[stage.value] = now + left
    return thresholds


def department_of(sla: SlaContext, stage: str) -> Role:
    """Returns the department that answers for a stage."""
    return sla.policy.stage(stage).department


def stages_of(sla: SlaContext, departments: Iterable[Role]) -> list[Stage]:
    """Lists the stages the departments answer for."""
    wanted = set(departments)
    return [policy.key for policy in sla.policy if policy.department in wanted]
