"""Clocks follow the order through its statuses (issue 6, time-limit table), and the SLA button data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from application.services import Actor, confirm_order, pause_stage, perform_action
from domain.clock import FixedClock
from domain.errors import NotPermitted
from domain.orders.model import Order
from domain.orders.status import Action, ExceptionType, OrderStatus, Role, Service
from domain.review import time_left
from domain.sla.alerts import chat_for, departments_of_chat
from domain.sla.clocks import apply_clock_events, sync_clocks
from domain.sla.policy import ClockEvent
from domain.sla.policy_file import load_policy
from presentation.labels import format_span
from presentation.sla_callbacks import (
    MAX_CALLBACK_BYTES,
    pack_sla_ack,
    pack_sla_ack_batch,
    pack_sla_open,
    parse_sla,
)
from tests.fakes import FakeDatabase
from tests.sla.conftest import SLA, TEAM_CHATS, UowFactory
from tests.storage.factories import make_order

T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai
SYSTEM = frozenset({Role.SYSTEM})
DESK = frozenset({Role.ORDER_DESK})


@pytest.fixture
def new_uow() -> UowFactory:
    """Units of work on a fake database: these use cases need no real one."""
    return FakeDatabase().unit_of_work


def step(
    order: Order,
    action: Action,
    at: datetime,
    roles: frozenset[Role] = DESK,
    exception_type: ExceptionType | None = None,
) -> None:
    """Applies an action and lets the clocks follow."""
    order.apply(action, actor_id=1, roles=roles, now=at, exception_type=exception_type)
    sync_clocks(order, at, SLA)


def running(order: Order) -> dict[str, datetime]:
    """Returns the running clocks by stage with their due times."""
    return {clock.stage: clock.due_at for clock in order.clocks if clock.running}


def test_each_status_change_closes_the_stage_left_and_opens_the_next() -> None:
    order = make_order(created_at=T0)
    step(order, Action.PASS_VALIDATION, T0, SYSTEM)
    assert running(order) == {"first_review": T0 + timedelta(hours=2)}

    step(order, Action.APPROVE, T0 + timedelta(hours=3))
    assert running(order) == {"confirmation": T0 + timedelta(hours=4)}
    (review,) = [clock for clock in order.clocks if clock.stage == "first_review"]
    assert (review.finished_at, review.met) == (T0 + timedelta(hours=3), False)

    step(order, Action.CONFIRM, T0 + timedelta(hours=3, minutes=30), SYSTEM)
    assert running(order) == {"picking": T0 + timedelta(hours=27, minutes=30)}
    assert [clock.met for clock in order.clocks if not clock.running] == [False, True]


def test_an_overseas_warehouse_order_picks_in_12_hours_and_goes_to_last_mile_after_outbound() -> None:
    order = make_order(created_at=T0)
    order.service = Service.OVERSEAS_WAREHOUSE
    order.status = OrderStatus.AWAITING_CONFIRMATION
    step(order, Action.CONFIRM, T0, SYSTEM)
    assert running(order) == {"picking_overseas": T0 + timedelta(hours=12)}
    step(order, Action.PICK, T0 + timedelta(hours=1), frozenset({Role.WAREHOUSE}))
    step(order, Action.OUTBOUND_SCAN, T0 + timedelta(hours=2), frozenset({Role.WAREHOUSE}))
    assert running(order) == {"last_mile": T0 + timedelta(hours=26)}


def test_an_exception_pauses_the_interrupted_stage_and_resolving_it_resumes_with_the_time_left() -> None:
    order = make_order(created_at=T0)
    order.status = OrderStatus.AWAITING_CONFIRMATION
    step(order, Action.CONFIRM, T0, SYSTEM)
    step(
        order,
        Action.RAISE_EXCEPTION,
        T0 + timedelta(hours=4),
        frozenset({Role.WAREHOUSE}),
        exception_type=ExceptionType.DAMAGED,
    )
    assert running(order) == {"picking": T0 + timedelta(hours=24), "evidence": T0 + timedelta(hours=6)}
    picking = next(clock for clock in order.clocks if clock.stage == "picking")
    assert picking.paused_at == T0 + timedelta(hours=4)

    step(order, Action.RESOLVE_EXCEPTION, T0 + timedelta(hours=9))
    # 5 hours in the exception do not count; the desk has 24 h for the exception record.
    assert running(order) == {
        "picking": T0 + timedelta(hours=29),
        "exception_record": T0 + timedelta(hours=33),
    }
    assert picking.paused_at is None


def test_a_cancellation_before_outbound_runs_check_and_done_clocks_and_ends_in_completion() -> None:
    order = make_order(created_at=T0)
    order.status = OrderStatus.AWAITING_CONFIRMATION
    step(order, Action.CONFIRM, T0, SYSTEM)
    step(order, Action.REQUEST_CANCELLATION, T0 + timedelta(hours=1), frozenset({Role.CUSTOMER}))
    assert running(order) == {
        "picking": T0 + timedelta(hours=24),
        "cancel_check": T0 + timedelta(hours=2),
        "cancel_done": T0 + timedelta(hours=3),
    }
    step(order, Action.CONFIRM_CANCELLATION, T0 + timedelta(hours=2, minutes=30))
    assert running(order) == {"completion": T0 + timedelta(hours=26, minutes=30)}
    met = {clock.stage: clock.met for clock in order.clocks if not clock.running}
    # The picking clock is judged when it was paused (1h in), the cancellation check was late.
    assert met == {"picking": True, "cancel_check": False, "cancel_done": True}


def test_a_status_without_a_limit_closes_the_clock_and_opens_none() -> None:
    order = make_order(created_at=T0)
    order.status = OrderStatus.OUTBOUND
    step(order, Action.BOOK, T0, frozenset({Role.LOGISTICS}))
    assert running(order) == {}


def test_a_named_event_closes_and_opens_clocks_through_the_policy() -> None:
    order = make_order(created_at=T0)
    order.status = OrderStatus.ARRIVED
    step(
        order,
        Action.RAISE_EXCEPTION,
        T0,
        frozenset({Role.LOGISTICS}),
        exception_type=ExceptionType.DAMAGED,
    )
    assert running(order) == {"evidence": T0 + timedelta(hours=2)}

    # The claim records the evidence and only emits the event: customer service's hour starts (issue 14).
    touched = apply_clock_events(order, [ClockEvent.EVIDENCE_RECORDED], T0 + timedelta(hours=1), SLA)

    assert [(clock.stage, clock.met) for clock in touched] == [("evidence", True), ("claim_contact", None)]
    assert running(order) == {"claim_contact": T0 + timedelta(hours=2)}
    apply_clock_events(order, [ClockEvent.CUSTOMER_CONTACTED], T0 + timedelta(hours=1, minutes=30), SLA)
    assert running(order) == {}
    apply_clock_events(order, [ClockEvent.DELAY_FOUND], T0 + timedelta(hours=2), SLA)
    # Customer service tells the customer within the hour beside logistics' 2 h (R-6.3, issue 14).
    assert running(order) == {"delay_cause": T0 + timedelta(hours=4), "delay_notice": T0 + timedelta(hours=3)}


def test_a_stage_an_event_starts_and_ends_at_once_takes_no_time_and_leaves_no_clock() -> None:
    order = make_order(created_at=T0)

    apply_clock_events(order, [ClockEvent.DELAY_FOUND, ClockEvent.DELAY_CAUSE_FOUND], T0, SLA)

    # The cause clock leaves nothing; customer service's notice clock runs (issue 14).
    assert [clock.stage for clock in order.clocks] == ["delay_notice"]


def test_a_customs_hold_pauses_clearance_and_opens_only_the_notice_clock() -> None:
    order = make_order(created_at=T0)
    order.status = OrderStatus.IN_TRANSIT
    step(order, Action.ARRIVE, T0, frozenset({Role.LOGISTICS}))
    hold = ExceptionType.CUSTOMS_HOLD
    step(
        order,
        Action.RAISE_EXCEPTION,
        T0 + timedelta(hours=3),
        frozenset({Role.LOGISTICS}),
        exception_type=hold,
    )

    # No cause clock (the hold reason is the cause); customer service's hour to tell (issue 14).
    assert [(clock.stage, clock.paused_at) for clock in order.clocks] == [
        ("clearance", T0 + timedelta(hours=3)),
        ("delay_notice", None),
    ]


def test_the_review_queue_reads_the_review_limits_from_the_policy(tmp_path: Path) -> None:
    order = make_order(created_at=T0)
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=SYSTEM, now=T0)
    site = tmp_path / "sla.toml"
    site.write_text('[limits]\nfirst_review = "3h"\n', encoding="utf-8")

    # Without a running clock the stage's limit in the policy decides.
    assert time_left(order, T0 + timedelta(hours=1)) == (timedelta(hours=1), timedelta(hours=1))
    assert time_left(order, T0 + timedelta(hours=1), load_policy(site)) == (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    sync_clocks(order, T0, SLA)
    order.clocks[0].due_at = T0 + timedelta(hours=5)
    assert time_left(order, T0 + timedelta(hours=1)) == (timedelta(hours=1), timedelta(hours=4))


async def test_use_cases_keep_the_clocks_when_given_the_sla_context(new_uow: UowFactory) -> None:
    order = make_order(created_at=T0)
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()
    clock = FixedClock(T0)
    await perform_action(new_uow(), order.id, Action.PASS_VALIDATION, Actor(None, SYSTEM), clock, sla=SLA)
    clock.advance(timedelta(minutes=30))
    await perform_action(new_uow(), order.id, Action.APPROVE, Actor(5, DESK), clock, sla=SLA)
    clock.advance(timedelta(minutes=30))
    await confirm_order(new_uow(), order.id, clock, "Asia/Shanghai", sla=SLA)
    await perform_action(new_uow(), order.id, Action.PICK, Actor(6, frozenset({Role.WAREHOUSE})), clock)

    async with new_uow() as uow:
        stored = await uow.orders.get(order.id)
    # Without the context (the last call) the clocks are left as they were.
    assert [(clock.stage, clock.met) for clock in stored.clocks] == [
        ("first_review", True),
        ("confirmation", True),
        ("picking", None),
    ]


async def test_only_staff_may_pause_a_clock(new_uow: UowFactory) -> None:
    with pytest.raises(NotPermitted):
        await pause_stage(new_uow(), "any", Actor(9, frozenset({Role.CUSTOMER})), FixedClock(T0))


def test_button_data_round_trips_and_fits_telegrams_limit() -> None:
    order_id = "0f8e7a52-7d4c-4b9e-9a57-3c1d2e4f5a6b"
    for data in (pack_sla_ack(2**62), pack_sla_ack_batch("a" * 16), pack_sla_open(order_id)):
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
    acknowledge, open_order = parse_sla(pack_sla_ack(12)), parse_sla(pack_sla_open(order_id))
    assert acknowledge is not None and acknowledge.alert_id == 12
    assert open_order is not None and open_order.value == order_id
    for garbage in (None, "", "sa:ack:", "sa:ack:x1", "sa:nope:1", "lang:zh", "sa:ack"):
        assert parse_sla(garbage) is None


def test_departments_without_a_chat_are_told_in_the_order_desk_chat() -> None:
    chats = {"order_desk": -1, "warehouse": -2}
    assert chat_for(Role.WAREHOUSE, chats) == -2
    assert chat_for(Role.FINANCE, chats) == -1
    assert chat_for(Role.FINANCE, {}) is None
    assert Role.ORDER_DESK_HEAD in departments_of_chat(TEAM_CHATS["order_desk"], TEAM_CHATS)
    assert departments_of_chat(-2, chats) == {Role.WAREHOUSE}


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(0), "0m"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=2), "2h"),
        (timedelta(days=1, minutes=1), "1d 1m"),
        (timedelta(seconds=-5), "0m"),
    ],
)
def test_format_span(span: timedelta, text: str) -> None:
    assert format_span(span) == text
