"""Marking, holding and closing exception cases on the fake unit of work (issue 14, R-6, R-6.5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from application.cancellation import CancellationSetup, cancel_by_company
from application.customs_holds import hold_at_customs
from application.exceptions import (
    CaseOpenAlready,
    ExceptionSetup,
    close_case,
    complete_record,
    raise_exception,
)
from application.services import Actor
from domain.errors import IllegalTransition, NotPermitted
from domain.exceptions.case import CaseResult, ExceptionCase, StepKind
from domain.exceptions.causes import UnknownCause
from domain.orders.model import Order
from domain.orders.status import ExceptionType, OrderStatus, Role
from domain.sla.clocks import running_clock
from domain.sla.policy import Stage
from tests.exceptions.conftest import (
    DESK_ID,
    LOGISTICS_ID,
    SERVICE_ID,
    WAREHOUSE_ID,
    order_at,
    seed,
)
from tests.fakes import FakeDatabase, FakeUnitOfWork

Uows = Callable[[], FakeUnitOfWork]


@dataclass(frozen=True)
class Marker:
    """Marks exceptions on orders it stores in the fake database, through the exception use case."""

    database: FakeDatabase
    uows: Uows
    setup: ExceptionSetup

    async def __call__(
        self,
        status: OrderStatus,
        *,
        actor_id: int,
        kind: ExceptionType,
        cause: str | None = None,
        note: str = "",
    ) -> tuple[Order, ExceptionCase]:
        """Stores an order at the status and marks the exception on it: the order and its open case."""
        order = seed(self.database, order_at(status))
        case = await raise_exception(
            self.uows(), order.id, actor_id=actor_id, kind=kind, cause=cause, note=note, setup=self.setup
        )
        return order, case

    async def weather_delay(self, note: str) -> tuple[Order, ExceptionCase]:
        """Logistics marks an order in transit delayed by the weather."""
        return await self(
            OrderStatus.IN_TRANSIT,
            actor_id=LOGISTICS_ID,
            kind=ExceptionType.DELAY,
            cause="weather",
            note=note,
        )

    async def packing_damage(self) -> tuple[Order, ExceptionCase]:
        """The warehouse marks a delivered order damaged by its packing."""
        return await self(
            OrderStatus.DELIVERED, actor_id=WAREHOUSE_ID, kind=ExceptionType.DAMAGED, cause="packing"
        )


@pytest.fixture
def mark(database: FakeDatabase, uows: Uows, setup: ExceptionSetup) -> Marker:
    """Marks exceptions on stored orders with the tests' database and setup."""
    return Marker(database, uows, setup)


async def test_a_delay_marked_with_its_cause_opens_a_case_and_only_the_notice_clock(
    database: FakeDatabase, mark: Marker
) -> None:
    """R-6.3: the order goes to exception; delay_cause ends as it starts, delay_notice runs for 1 h."""
    order, case = await mark.weather_delay("Typhoon at the hub")
    stored = database.state.orders[order.id]
    assert stored.status is OrderStatus.EXCEPTION
    assert stored.exception_type is ExceptionType.DELAY
    assert stored.resume_status is OrderStatus.IN_TRANSIT
    assert case.id is not None
    kept = database.state.exception_cases[case.id]
    assert (kept.type, kept.cause, kept.note, kept.department) == (
        ExceptionType.DELAY,
        "weather",
        "Typhoon at the hub",
        Role.LOGISTICS,
    )
    assert kept.opened_by == LOGISTICS_ID and kept.open
    assert [step.kind for step in kept.steps] == [StepKind.OPENED]
    assert running_clock(stored, Stage.DELAY_CAUSE) is None
    assert any(c.stage == Stage.DELAY_CAUSE and c.met for c in stored.clocks)


async def test_a_delay_without_a_cause_leaves_logistics_its_two_hours(
    database: FakeDatabase, setup: ExceptionSetup, mark: Marker
) -> None:
    """R-6.3: customer service marks the delay; logistics has 2 h to find the cause."""
    order, _ = await mark(OrderStatus.IN_TRANSIT, actor_id=SERVICE_ID, kind=ExceptionType.DELAY)
    cause_clock = running_clock(database.state.orders[order.id], Stage.DELAY_CAUSE)
    assert cause_clock is not None
    assert cause_clock.started_at == setup.clock.now()
    assert cause_clock.due_at - cause_clock.started_at == timedelta(hours=2)


async def test_roles_come_from_the_database_and_causes_from_the_list(
    database: FakeDatabase, uows: Uows, setup: ExceptionSetup
) -> None:
    """R-6: a stranger may not mark; a cause not on the type's list is refused."""
    order = seed(database, order_at(OrderStatus.IN_TRANSIT))
    with pytest.raises(NotPermitted):
        await raise_exception(
            uows(), order.id, actor_id=999, kind=ExceptionType.LOST, cause=None, note="", setup=setup
        )
    with pytest.raises(UnknownCause):
        await raise_exception(
            uows(),
            order.id,
            actor_id=WAREHOUSE_ID,
            kind=ExceptionType.LOST,
            cause="weather",
            note="",
            setup=setup,
        )
    assert database.state.orders[order.id].status is OrderStatus.IN_TRANSIT
    assert database.state.exception_cases == {}


async def test_one_open_case_per_order(uows: Uows, setup: ExceptionSetup, mark: Marker) -> None:
    """A second exception waits until the open case closes."""
    order, _ = await mark.packing_damage()
    with pytest.raises(CaseOpenAlready):
        await raise_exception(
            uows(), order.id, actor_id=DESK_ID, kind=ExceptionType.OTHER, cause=None, note="", setup=setup
        )


async def test_a_customs_hold_is_released_back_to_clearance(
    database: FakeDatabase, uows: Uows, setup: ExceptionSetup
) -> None:
    """The dead end is gone: logistics releases a held order; clearance resumes; the record clock opens."""
    order = seed(database, order_at(OrderStatus.ARRIVED))
    case = await hold_at_customs(
        uows(), order.id, actor_id=LOGISTICS_ID, reason="Invoice missing", setup=setup
    )
    held = database.state.orders[order.id]
    assert held.status is OrderStatus.EXCEPTION and held.exception_type is ExceptionType.CUSTOMS_HOLD
    clearance = running_clock(held, Stage.CLEARANCE)
    assert clearance is not None and clearance.paused_at is not None
    assert case.id is not None
    await close_case(
        uows(), case.id, actor_id=LOGISTICS_ID, result=CaseResult.RELEASED, note="Released", setup=setup
    )
    released = database.state.orders[order.id]
    assert released.status is OrderStatus.ARRIVED
    assert released.shipment.hold_reason is None
    clearance = running_clock(released, Stage.CLEARANCE)
    assert clearance is not None and clearance.paused_at is None
    assert running_clock(released, Stage.EXCEPTION_RECORD) is not None
    closed = database.state.exception_cases[case.id]
    assert closed.result is CaseResult.RELEASED and closed.closed_by == LOGISTICS_ID
    with pytest.raises(IllegalTransition):
        await close_case(uows(), case.id, actor_id=LOGISTICS_ID, result=CaseResult.RELEASED, setup=setup)


async def test_closing_asks_for_roles_that_may_resolve(
    database: FakeDatabase, uows: Uows, setup: ExceptionSetup, mark: Marker
) -> None:
    """The warehouse marks a damage but does not close the case: customer service or the desk does."""
    order, case = await mark.packing_damage()
    assert case.id is not None
    with pytest.raises(NotPermitted):
        await close_case(uows(), case.id, actor_id=WAREHOUSE_ID, result=CaseResult.RESUMED, setup=setup)
    await close_case(uows(), case.id, actor_id=SERVICE_ID, result=CaseResult.RESUMED, setup=setup)
    assert database.state.orders[order.id].status is OrderStatus.DELIVERED


async def test_the_desk_completes_the_record_prefilled_from_the_trail(
    database: FakeDatabase, uows: Uows, setup: ExceptionSetup, mark: Marker
) -> None:
    """R-6.5: closing opens the 24-hour record clock; the desk's record closes it, prefilled."""
    order, case = await mark.weather_delay("Typhoon")
    assert case.id is not None
    await close_case(uows(), case.id, actor_id=SERVICE_ID, result=CaseResult.RESUMED, setup=setup)
    record_clock = running_clock(database.state.orders[order.id], Stage.EXCEPTION_RECORD)
    assert record_clock is not None
    assert record_clock.due_at - record_clock.started_at == timedelta(hours=24)
    with pytest.raises(NotPermitted):
        await complete_record(uows(), case.id, actor_id=SERVICE_ID, text=None, setup=setup)
    await complete_record(uows(), case.id, actor_id=DESK_ID, text=None, setup=setup)
    recorded = database.state.exception_cases[case.id]
    assert recorded.record is not None
    assert "cause: weather" in recorded.record and "result: resumed" in recorded.record
    assert recorded.recorded_by == DESK_ID
    stored = database.state.orders[order.id]
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is None
    assert any(c.stage == Stage.EXCEPTION_RECORD and c.met for c in stored.clocks)


async def test_goods_customs_returns_take_the_company_cancellation_path(
    database: FakeDatabase, uows: Uows, setup: ExceptionSetup
) -> None:
    """The other end of the dead end: logistics records the return; the desk cancels as the company."""
    order = seed(database, order_at(OrderStatus.ARRIVED))
    case = await hold_at_customs(
        uows(), order.id, actor_id=LOGISTICS_ID, reason="Restricted goods", setup=setup
    )
    assert case.id is not None
    await close_case(uows(), case.id, actor_id=LOGISTICS_ID, result=CaseResult.RETURNED, setup=setup)
    assert database.state.exception_cases[case.id].result is CaseResult.RETURNED
    assert database.state.orders[order.id].status is OrderStatus.EXCEPTION
    with pytest.raises(IllegalTransition):
        await complete_record(uows(), case.id, actor_id=DESK_ID, text=None, setup=setup)
    desk = Actor(DESK_ID, frozenset({Role.ORDER_DESK}))
    await cancel_by_company(
        uows(),
        order.id,
        desk,
        "customs returns the goods",
        CancellationSetup(setup.clock, sla=setup.sla),
        other_service=True,
    )
    stored = database.state.orders[order.id]
    assert stored.status is OrderStatus.CANCELLATION_REQUESTED
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is not None
    await complete_record(uows(), case.id, actor_id=DESK_ID, text=None, setup=setup)
    assert running_clock(database.state.orders[order.id], Stage.EXCEPTION_RECORD) is None
