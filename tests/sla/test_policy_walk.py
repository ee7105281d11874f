"""The SLA policy walked row by row: what opens and what closes every stage's clock (issue 10, R-P).

The walk drives real orders through every transition of the table (every service, every exception
type) with the real sync_clocks, and records which status changes open and close each stage. The
production walk takes only the transitions a use case performs (found in application/ and the intake,
plus the SLA sweep's completion of cancelled orders) and fails if a clock can be left running where
nothing the product does can ever close it.
"""

from __future__ import annotations

import ast
import copy
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType

import pytest

from application.sla_sweeps import CANCELLED_COMPLETION
from domain.orders.model import Order
from domain.orders.status import (
    INTERRUPTIONS,
    TRANSITIONS,
    Action,
    ExceptionType,
    OrderStatus,
    Role,
    Service,
)
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, stage_for, sync_clocks
from domain.sla.policy import DORMANT, ClockEvent, SlaPolicy, Stage
from domain.sla.policy_file import shipped_policy
from tests.storage.factories import make_order

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
EVERY_ROLE = frozenset(Role)
CALENDAR = BusinessCalendar()
# Where a use case applies a status change: the use cases and the intake's validation.
USE_CASE_SOURCES = ("application", "domain/intake")
# The SLA sweep's one status change is declared where it is made, not found by name.
SWEEP_MODULE = "application/sla_sweeps.py"

# What opens and closes each stage's clock: the actions of the status changes (every service and
# exception type), as the walk finds them. "intake": the offline intake opens and closes the entry
# clock itself at entry (order_received .. order_entered, from Order.received_at, R-1.4).
WALK: dict[Stage, tuple[set[str], set[str]]] = {
    Stage.ENTRY: ({"intake"}, {"intake"}),
    Stage.ENTRY_URGENT: ({"intake"}, {"intake"}),
    # "requote": a change of service or zone sends the order back to first review (R-6.2, issue 13).
    Stage.FIRST_REVIEW: (
        {"pass_validation", "requote"},
        {"approve", "refer_second_review", "reject", "cancel"},
    ),
    Stage.SECOND_REVIEW: ({"refer_second_review"}, {"approve_second", "reject", "cancel", "requote"}),
    Stage.CONFIRMATION: ({"approve", "approve_second"}, {"confirm", "cancel", "requote"}),
    Stage.PICKING: ({"confirm"}, {"pick", "confirm_cancellation", "start_recall", "complete", "requote"}),
    Stage.PICKING_OVERSEAS: (
        {"confirm"},
        {"pick", "confirm_cancellation", "start_recall", "complete", "requote"},
    ),
    Stage.OUTBOUND: (
        {"pick"},
        {"outbound_scan", "confirm_cancellation", "start_recall", "complete", "requote"},
    ),
    Stage.BOOKING: ({"outbound_scan"}, {"book", "confirm_cancellation", "start_recall", "complete"}),
    Stage.CLEARANCE: ({"arrive"}, {"clear_customs", "confirm_cancellation", "start_recall", "complete"}),
    Stage.LAST_MILE: (
        {"outbound_scan", "clear_customs"},
        {"start_last_mile", "confirm_cancellation", "start_recall", "complete"},
    ),
    Stage.CANCEL_CHECK: (
        {"request_cancellation", "raise_exception"},
        {"decline_cancellation", "confirm_cancellation", "start_recall", "resolve_exception", "complete"},
    ),
    Stage.CANCEL_DONE: (
        {"request_cancellation"},
        {"decline_cancellation", "confirm_cancellation", "start_recall"},
    ),
    Stage.MODIFICATION: (
        {"raise_exception"},
        {"resolve_exception", "confirm_cancellation", "request_cancellation", "complete"},
    ),
    # A customs hold opens and closes it in one step: its cause is the hold reason.
    Stage.DELAY_CAUSE: (
        {"raise_exception"},
        {"resolve_exception", "confirm_cancellation", "request_cancellation", "complete"},
    ),
    Stage.EVIDENCE: (
        {"raise_exception"},
        {"resolve_exception", "confirm_cancellation", "request_cancellation", "complete"},
    ),
    # Delivery no longer opens it: the receipt does (confirmed, or deemed so after the quiet period),
    # which application/completion.py emits as ready_to_complete just before completing (issue 15).
    Stage.COMPLETION: (
        {"cancel", "confirm_cancellation"},
        {"complete"},
    ),
    Stage.ARCHIVE: ({"confirm_receipt", "complete"}, {"archive"}),
    # Opened on completion, closed by the survey sweep's survey_sent (a named event, issue 15).
    Stage.SURVEY: ({"confirm_receipt", "complete"}, set()),
    # "notice": the notification policy opens it with every customer notice; "delivery": the outbox's
    # delivery of one closes it (application/customer_channels.py, R-5.2). No status change touches it.
    Stage.CUSTOMER_NOTICE: ({"notice"}, {"delivery"}),
    # No status change touches it: a conversation opens it on the customer's message and closes it on
    # the answer (application/conversation.py; tests/product/test_conversation.py).
    Stage.CUSTOMER_REPLY: (set(), set()),
    # No status change touches them: a claim's evidence opens claim_contact and customer service's
    # Customer contacted closes it; the customer accepting a reship opens reship and the warehouse's
    # Reshipped closes it (application/claims.py, R-6.4); tests/claims walks them.
    Stage.CLAIM_CONTACT: (set(), set()),
    Stage.RESHIP: (set(), set()),
    # No status change touches them: application/finance.py's owe() opens one clock per refund or
    # payout record and recording that record paid closes it (issue 13, R-6.1, R-6.4).
    Stage.REFUND: (set(), set()),
    Stage.COMPENSATION: (set(), set()),
    # A delay or a customs hold opens it; customer service's notice closes it (customer_told, a named
    # event of application/exceptions.py), and so does the case's end (exception_closed, issue 14).
    Stage.DELAY_NOTICE: (
        {"raise_exception", "hold_at_customs"},
        {"resolve_exception", "confirm_cancellation", "request_cancellation", "complete"},
    ),
    # Leaving an exception opens it (exception_closed); the desk's completed record closes it, a named
    # event (application/exceptions.py complete_record, R-6.5, issue 14).
    Stage.EXCEPTION_RECORD: (
        {"resolve_exception", "confirm_cancellation", "request_cancellation", "complete"},
        set(),
    ),
}
# Stages opened and closed outside status changes, by what starts and ends them.
OUTSIDE_CHANGES = {
    Stage.ENTRY: (ClockEvent.ORDER_RECEIVED, (ClockEvent.ORDER_ENTERED,)),
    Stage.ENTRY_URGENT: (ClockEvent.ORDER_RECEIVED, (ClockEvent.ORDER_ENTERED,)),
    Stage.CUSTOMER_NOTICE: (ClockEvent.CUSTOMER_FACING_CHANGE, (ClockEvent.NOTICE_DELIVERED,)),
    Stage.REFUND: (ClockEvent.CANCELLATION_AGREED, (ClockEvent.REFUND_PAID,)),
    Stage.COMPENSATION: (ClockEvent.COMPENSATION_AGREED, (ClockEvent.COMPENSATION_PAID,)),
}
# Stages a use case closes with a named clock event rather than a status change (issue 15).
CLOSED_BY_NAMED_EVENT = frozenset(
    {
        Stage.SURVEY,
        Stage.REFUND,
        Stage.COMPENSATION,
        Stage.CLAIM_CONTACT,
        Stage.RESHIP,
        Stage.EXCEPTION_RECORD,
    }
)


@dataclass(frozen=True)
class Change:
    """One status change the walk made: from where, by which action, with which exception type."""

    source: OrderStatus
    action: Action
    exception_type: ExceptionType | None
    service: Service

    @property
    def performed(self) -> tuple[OrderStatus, Action]:
        """The transition of the table it takes."""
        return (self.source, self.action)


# A state of the walk: status, where an interruption resumes, exception type, running clocks, service.
StateKey = tuple[OrderStatus, OrderStatus | None, ExceptionType | None, frozenset[tuple[str, bool]], Service]


@dataclass
class Walk:
    """What the walk saw: the stages each change opened and closed, and the states it reached."""

    opened: dict[Stage, set[Change]] = field(default_factory=dict)
    closed: dict[Stage, set[Change]] = field(default_factory=dict)
    # Every state reached, and from each the changes possible and the state each leads to.
    states: dict[StateKey, Order] = field(default_factory=dict)
    edges: dict[StateKey, list[tuple[Change, StateKey, frozenset[Stage]]]] = field(default_factory=dict)

    def actions(self, stage: Stage) -> tuple[set[str], set[str]]:
        """The actions that open and that close the stage."""
        return (
            {change.action.value for change in self.opened.get(stage, ())},
            {change.action.value for change in self.closed.get(stage, ())},
        )


def state_key(order: Order) -> StateKey:
    """Names the state of an order for the walk."""
    clocks = frozenset((clock.stage, clock.paused_at is not None) for clock in order.clocks if clock.running)
    return (order.status, order.resume_status, order.exception_type, clocks, order.service)


def step(order: Order, change: Change, sla: SlaContext) -> tuple[Order, set[Stage], set[Stage]]:
    """Applies a change to a copy of the order and syncs its clocks; returns it and what opened and closed."""
    moved = copy.deepcopy(order)
    now = T0 + timedelta(minutes=len(moved.audit))
    before = {id(clock) for clock in moved.clocks if clock.running}
    moved.apply(change.action, actor_id=1, roles=EVERY_ROLE, now=now, exception_type=change.exception_type)
    sync_clocks(moved, now, sla)
    moved.pull_events()
    opened = {Stage(clock.stage) for clock in moved.clocks if clock.running and id(clock) not in before}
    closed = {Stage(clock.stage) for clock in moved.clocks if id(clock) in before and not clock.running}
    return moved, opened, closed


def changes_from(
    order: Order, performed: set[tuple[OrderStatus, Action]] | None, raised: Iterable[ExceptionType]
) -> Iterator[Change]:
    """Lists the changes the table allows the order now (only performed ones, if given)."""
    for (source, action), rule in TRANSITIONS.items():
        if source is not order.status or not rule.applies_to(order.service):
            continue
        if performed is not None and (source, action) not in performed:
            continue
        for exception_type in raised if action is Action.RAISE_EXCEPTION else (None,):
            yield Change(source, action, exception_type, order.service)


def walk(
    policy: SlaPolicy,
    performed: set[tuple[OrderStatus, Action]] | None = None,
    raised: Iterable[ExceptionType] = tuple(ExceptionType),
) -> Walk:
    """Walks every state reachable from a submitted order of each service, breadth first."""
    sla = SlaContext(policy, CALENDAR)
    seen = Walk()
    queue: deque[Order] = deque()
    for service in Service:
        order = make_order(created_at=T0)
        order.service = service
        seen.states[state_key(order)] = order
        queue.append(order)
    raised = tuple(raised)
    while queue:
        order = queue.popleft()
        key = state_key(order)
        seen.edges[key] = []
        for change in changes_from(order, performed, raised):
            moved, opened, closed = step(order, change, sla)
            for stage in opened:
                seen.opened.setdefault(stage, set()).add(change)
            for stage in closed:
                seen.closed.setdefault(stage, set()).add(change)
            target = state_key(moved)
            seen.edges[key].append((change, target, frozenset(closed)))
            if target not in seen.states:
                seen.states[target] = moved
                queue.append(moved)
    return seen


def dead_ends(seen: Walk) -> dict[Stage, list[StateKey]]:
    """Finds states where a running, unpaused clock can never close by any change the walk could make."""
    found: dict[Stage, list[StateKey]] = {}
    for key in seen.states:
        for stage, paused in key[3]:
            if paused or Stage(stage) in (Stage.ENTRY, Stage.ENTRY_URGENT, *CLOSED_BY_NAMED_EVENT):
                continue
            if not closes_later(seen, key, Stage(stage)):
                found.setdefault(Stage(stage), []).append(key)
    return found


def closes_later(seen: Walk, start: StateKey, stage: Stage) -> bool:
    """Whether some sequence of changes from the state closes the stage's clock."""
    queue, visited = deque([start]), {start}
    while queue:
        key = queue.popleft()
        for _, target, closed in seen.edges.get(key, ()):
            if stage in closed:
                return True
            if target not in visited:
                visited.add(target)
                queue.append(target)
    return False


def referenced(
    kind: type[Action] | type[ExceptionType] | type[ClockEvent], *, skip: str = SWEEP_MODULE
) -> set[str]:
    """Names the members of an enum the use cases refer to (`Action.PICK` ...), read from the source."""
    names: set[str] = set()
    for folder in USE_CASE_SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() == skip:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == kind.__name__
                    and node.attr in kind.__members__
                ):
                    names.add(node.attr)
    return names


@cache
def production() -> tuple[frozenset[tuple[OrderStatus, Action]], frozenset[ExceptionType]]:
    """The transitions the product performs: the use cases' actions and the sweep's completion."""
    actions = {Action[name] for name in referenced(Action)}
    performed = {(source, action) for source, action in TRANSITIONS if action in actions}
    raised = {ExceptionType[name] for name in referenced(ExceptionType)}
    return frozenset({*performed, CANCELLED_COMPLETION}), frozenset(raised)


@cache
def production_walk(*, wake_dormant: bool = False) -> Walk:
    """Walks the transitions the product performs (with the dormant stages awake, if asked)."""
    performed, raised = production()
    return walk(awake(POLICY) if wake_dormant else POLICY, set(performed), raised)


def awake(policy: SlaPolicy) -> SlaPolicy:
    """The policy with no dormant stage, to see what a dormant clock would do if it opened."""
    return SlaPolicy(
        MappingProxyType({key: replace(stage, dormant=False) for key, stage in policy.stages.items()})
    )


POLICY = shipped_policy()
FULL_WALK = walk(POLICY)


def test_every_stage_has_a_row_and_every_row_is_walked() -> None:
    assert set(WALK) | set(DORMANT) == set(Stage) and not set(WALK) & set(DORMANT)


@pytest.mark.parametrize("stage", [stage for stage in Stage if stage not in DORMANT])
def test_what_opens_and_closes_each_stage(stage: Stage) -> None:
    opens, closes = WALK[stage]
    if stage in OUTSIDE_CHANGES:
        # No status change touches these clocks; the intake (entry) or the notices (told) emit their events.
        assert (POLICY.stage(stage).starts_on, POLICY.stage(stage).ends_on) == OUTSIDE_CHANGES[stage]
        assert FULL_WALK.actions(stage) == (set(), set())
        return
    assert FULL_WALK.actions(stage) == (opens, closes)


def test_no_stage_is_dormant_now_that_every_flow_that_closes_one_exists() -> None:
    # Issues 13 and 14 built the refund, compensation, delay-notice, claim-contact and exception-record
    # flows; a stage added to DORMANT again must never open (and gets back a test of its own).
    assert dict(DORMANT) == {}
    assert all(not POLICY.stage(stage).dormant for stage in Stage)


def test_every_clock_that_can_open_has_a_closing_path() -> None:
    assert dead_ends(FULL_WALK) == {}


def test_every_clock_the_product_can_open_the_product_can_close() -> None:
    seen = production_walk()

    assert dead_ends(seen) == {}
    # The product opens these clocks today, and each has its way to close.
    assert set(seen.opened) >= {
        Stage.FIRST_REVIEW,
        Stage.SECOND_REVIEW,
        Stage.PICKING,
        Stage.PICKING_OVERSEAS,
        Stage.OUTBOUND,
        Stage.BOOKING,
        Stage.CLEARANCE,
        Stage.LAST_MILE,
        Stage.COMPLETION,
    }


def test_without_the_sweep_a_cancelled_orders_completion_clock_could_never_close() -> None:
    performed, raised = production()

    seen = walk(POLICY, set(performed - {CANCELLED_COMPLETION}), raised)

    stuck = dead_ends(seen)
    assert set(stuck) == {Stage.COMPLETION}
    assert {key[0] for key in stuck[Stage.COMPLETION]} == {OrderStatus.CANCELLED}


def test_the_three_clocks_that_used_to_stay_open_are_closed_or_never_opened() -> None:
    performed, raised = production()
    by_hand = {(OrderStatus.EXCEPTION, Action.COMPLETE)}
    stuck = dead_ends(walk(awake(POLICY), set(performed - by_hand), raised))

    # The archive now closes (issue 15); the delay notice after a customs hold closes when customer
    # service tells the customer or the case ends, release included (issue 14).
    assert Stage.ARCHIVE not in stuck
    assert Stage.DELAY_NOTICE not in stuck
    # The shipped policy keeps them closed, and the sweep completes cancelled orders.
    assert dead_ends(production_walk()) == {}


def expected_clocks(order: Order, policy: SlaPolicy) -> tuple[set[str], set[str]]:
    """The running and the paused clocks today's rules give an order in its state."""

    def live(stage: Stage | None) -> set[str]:
        return {stage.value} if stage is not None and not policy.stage(stage).dormant else set()

    running, paused = _status_clocks(order, policy)
    left_exception = any(
        line.from_status is OrderStatus.EXCEPTION and line.to_status is not OrderStatus.EXCEPTION
        for line in order.audit
    )
    # Leaving an exception starts the desk's record, closed by a named event the walk never emits.
    return (running | live(Stage.EXCEPTION_RECORD) if left_exception else running), paused


def _status_clocks(order: Order, policy: SlaPolicy) -> tuple[set[str], set[str]]:
    """The running and the paused clocks of the order's status alone."""

    def live(stage: Stage | None) -> set[str]:
        return {stage.value} if stage is not None and not policy.stage(stage).dormant else set()

    status, service = order.status, order.service
    if status in (OrderStatus.COMPLETED, OrderStatus.ARCHIVED):
        # The survey runs beside the archive until the survey sweep sends it (issue 15).
        return live(stage_for(status, service, policy=policy)) | live(Stage.SURVEY), set()
    if status not in INTERRUPTIONS:
        return live(stage_for(status, service, policy=policy)), set()
    paused = live(stage_for(order.resume_status, service, policy=policy)) if order.resume_status else set()
    if status is OrderStatus.EXCEPTION:
        running = live(stage_for(status, service, order.exception_type, policy))
        if order.exception_type in (ExceptionType.DELAY, ExceptionType.CUSTOMS_HOLD):
            # Customer service tells the customer beside logistics' cause (R-6.3, issue 14).
            running |= live(Stage.DELAY_NOTICE)
        return running, paused
    running = {Stage.CANCEL_CHECK.value}
    if order.resume_status in (OrderStatus.CONFIRMED, OrderStatus.PICKED):
        running.add(Stage.CANCEL_DONE.value)
    return running, paused


def test_after_every_change_the_clocks_follow_the_status_as_before() -> None:
    for order in FULL_WALK.states.values():
        running = [clock.stage for clock in order.clocks if clock.running and clock.paused_at is None]
        paused = [clock.stage for clock in order.clocks if clock.running and clock.paused_at is not None]

        assert len(running) + len(paused) == len(set(running) | set(paused)), order.clocks
        assert (set(running), set(paused)) == expected_clocks(order, POLICY), state_key(order)


def test_a_customs_hold_only_pauses_the_clearance_clock() -> None:
    (held,) = [
        order
        for order in FULL_WALK.states.values()
        if state_key(order)[:3] == (OrderStatus.EXCEPTION, OrderStatus.ARRIVED, ExceptionType.CUSTOMS_HOLD)
        and order.service is Service.AIR_FREIGHT
        and not any(clock.stage == Stage.EXCEPTION_RECORD for clock in order.clocks)
    ]

    # Customer service's hour to tell the customer runs meanwhile (delay_notice, issue 14).
    assert [(clock.stage, clock.paused_at is not None) for clock in held.clocks if clock.running] == [
        ("clearance", True),
        ("delay_notice", False),
    ]
    # No cause clock was recorded: the cause came with the hold.
    assert "delay_cause" not in {clock.stage for clock in held.clocks}


def test_the_survey_clock_is_closed_by_an_event_a_use_case_emits() -> None:
    emitted_by_use_cases = {ClockEvent[name] for name in referenced(ClockEvent)}

    for stage in CLOSED_BY_NAMED_EVENT:
        assert set(POLICY.stage(stage).ends_on) & emitted_by_use_cases, stage
