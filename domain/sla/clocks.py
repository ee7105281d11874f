"""Stage clocks: opening and closing them on clock events, pausing them and judging them (see policy.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from domain.errors import DomainError
from domain.orders.events import OrderStatusChanged
from domain.orders.model import Order, StageClock
from domain.orders.status import (
    INTERRUPTIONS,
    RESUME,
    TRANSITIONS,
    Action,
    ExceptionType,
    OrderStatus,
    Role,
    Service,
)
from domain.sla.calendar import BusinessCalendar
from domain.sla.policy import LEAVING, WARNING_PERCENT, ClockEvent, ClockStatus, SlaPolicy, Stage, reaching
from domain.sla.policy_file import shipped_policy


def entry_stage(urgent: bool) -> Stage:
    """Returns the entry stage of an offline order (R-1.4)."""
    return Stage.ENTRY_URGENT if urgent else Stage.ENTRY


def stage_for(
    status: OrderStatus,
    service: Service,
    exception_type: ExceptionType | None = None,
    policy: SlaPolicy | None = None,
) -> Stage | None:
    """Returns the stage of a status (reaching it starts it, leaving it ends it), or None if it has none.

    Its clock runs while the order is in the status, unless the stage is dormant.
    """
    policy = policy or shipped_policy()
    started = reaching(status, service, exception_type)
    leaving = {
        event
        for source, action in TRANSITIONS
        if source is status
        for event in change_events(status, action, service, exception_type).all
    }
    for stage in policy:
        if (
            stage.starts_on in started
            and stage.applies_to(service)
            and not set(stage.ends_on) & set(started)
            and set(stage.ends_on) & leaving
        ):
            return stage.key
    return None


class ChangeEvents(NamedTuple):
    """The clock events of a status change: those of leaving the old status and those of the new one."""

    left: tuple[ClockEvent, ...]
    reached: tuple[ClockEvent, ...]

    @property
    def all(self) -> tuple[ClockEvent, ...]:
        """Every event of the change."""
        return (*self.left, *self.reached)


def change_events(
    from_status: OrderStatus,
    action: Action,
    service: Service,
    exception_type: ExceptionType | None = None,
    interrupted: OrderStatus | None = None,
) -> ChangeEvents:
    """Returns a status change's clock events: LEAVING; status_changed and CLOCK_EVENTS unless it resumes."""
    rule = TRANSITIONS[(from_status, action)]
    reached = [ClockEvent.STATUS_CHANGED]
    if rule.target != RESUME:
        reached += reaching(OrderStatus(rule.target), service, exception_type, interrupted)
    return ChangeEvents(LEAVING.get(from_status, ()), tuple(reached))


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


def clock_left(clock: StageClock, now: datetime) -> timedelta:
    """Returns how long (wall-clock) a clock has left before its due time, negative once it is late.

    The one reading of a clock's lateness: alerts, digests, /sla, /queue and /order all use it (issue 18).
    """
    return clock.due_at - (clock.finished_at or clock.paused_at or now)


def overdue_by(clock: StageClock, now: datetime) -> timedelta:
    """Returns how long (wall-clock) a clock has run past its due time, zero if it has not."""
    return max(-clock_left(clock, now), timedelta(0))


@dataclass(frozen=True)
class SlaContext:
    """The policy and business calendar a use case needs to keep an order's clocks."""

    policy: SlaPolicy
    calendar: BusinessCalendar


def open_stage(order: Order, stage: Stage, now: datetime, sla: SlaContext) -> StageClock:
    """Starts the clock of a stage with its due time from the policy."""
    return order.open_clock(stage.value, started_at=now, due_at=due_at(sla.policy, sla.calendar, stage, now))


def apply_clock_events(
    order: Order,
    events: Iterable[ClockEvent],
    now: datetime,
    sla: SlaContext,
    *,
    opened: list[StageClock] | None = None,
    keep: Iterable[Stage] = (),
) -> list[StageClock]:
    """Closes the running clocks the events end and opens those they start; returns the clocks touched.

    The hook for named domain events: a use case passes the ClockEvents of what it did. A stage the
    events both end and start keeps its running clock (or, not running, took no time and gets none);
    dormant stages and stages of other services never open; a paused clock of a started stage resumes
    unless the order is in an interruption. The clocks of `keep` are not closed. A clock in `opened`
    (opened by the same sync) that closes again took no time and is dropped.
    """
    emitted = set(events)
    opened = [] if opened is None else opened
    ended = {policy.key for policy in sla.policy if emitted & set(policy.ends_on)}
    started = _started(order, emitted, sla)
    touched: list[StageClock] = []
    for stage in ended - started - set(keep):
        clock = running_clock(order, stage)
        if clock is None:
            continue
        if any(clock is new for new in opened):
            # Opened by the same sync: the stage took no time and leaves no clock.
            order.clocks[:] = [kept for kept in order.clocks if kept is not clock]
            opened[:] = [kept for kept in opened if kept is not clock]
        elif order.close_clock(stage, now=now) is not None:
            touched.append(clock)
    for stage in sorted(started - ended, key=list(Stage).index):
        clock = running_clock(order, stage)
        if clock is None:
            clock = open_stage(order, stage, now, sla)
            opened.append(clock)
            touched.append(clock)
        elif clock.paused_at is not None and order.status not in INTERRUPTIONS:
            resume(clock, now, policy=sla.policy, calendar=sla.calendar)
            touched.append(clock)
    return touched


def _started(order: Order, emitted: set[ClockEvent], sla: SlaContext) -> set[Stage]:
    """The stages the events start for this order (dormant stages and other services' never)."""
    return {
        policy.key
        for policy in sla.policy
        if policy.starts_on in emitted and policy.applies_to(order.service) and not policy.dormant
    }


def sync_clocks(order: Order, now: datetime, sla: SlaContext) -> list[StageClock]:
    """Lets the clocks follow the order's status changes made at `now`; returns the clocks touched.

    The changes are the order's OrderStatusChanged events of this moment not yet dispatched: call it
    after `apply` and before the events are handed on. Each change's clock events (change_events)
    close and open stages through apply_clock_events. Entering an interruption (exception,
    cancellation request) pauses the clock of the stage the order will resume, so the interruption
    does not count against it; coming back resumes it. A stage opened and closed by the changes of
    one sync (approved and confirmed at once) took no time and leaves no clock.
    """
    touched: list[StageClock] = []
    opened: list[StageClock] = []
    for change in [e for e in order.events if isinstance(e, OrderStatusChanged) and e.at == now]:
        source, target = change.from_status, change.to_status
        events = change_events(
            source, change.action, order.service, order.exception_type, order.resume_status
        )
        if target in INTERRUPTIONS and source not in INTERRUPTIONS:
            for clock in _clocks_of(order, source, sla):
                if clock.paused_at is None:
                    pause(clock, max(now, clock.started_at))
                    touched.append(clock)
        elif source in INTERRUPTIONS and TRANSITIONS[(source, change.action)].target == RESUME:
            for clock in _clocks_of(order, target, sla):
                if clock.paused_at is not None:
                    resume(clock, now, policy=sla.policy, calendar=sla.calendar)
                    touched.append(clock)
        # A stage the old status's end closes and the new status starts again goes on running.
        going_on = _started(order, set(events.reached), sla)
        touched += apply_clock_events(order, events.left, now, sla, opened=opened, keep=going_on)
        touched += apply_clock_events(order, events.reached, now, sla, opened=opened)
    return list({id(clock): clock for clock in touched}.values())


_STAGES = frozenset(stage.value for stage in Stage)


def _clocks_of(order: Order, status: OrderStatus, sla: SlaContext) -> list[StageClock]:
    """Returns the running clocks of the stages reaching this status starts."""
    started = reaching(status, order.service, order.exception_type)
    return [
        clock
        for clock in order.clocks
        if clock.running and clock.stage in _STAGES and sla.policy.stage(clock.stage).starts_on in started
    ]


def running_clock(
    order: Order, stage: str | None = None, policy: SlaPolicy | None = None
) -> StageClock | None:
    """Returns the running clock of the order's current stage (of the given stage, if named)."""
    wanted = stage or stage_for(order.status, order.service, order.exception_type, policy)
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
