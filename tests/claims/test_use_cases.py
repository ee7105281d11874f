"""Claim use cases on the fake unit of work (issue 14, R-6.4): clocks, payouts, roles, double presses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from application import claims
from application.claims import Person
from application.completion import NotYourOrder
from application.finance import record_paid
from application.notifications import Notice, NoticeKind, notices_for
from application.services import Actor
from domain.claims.claim import ClaimError, ClaimProblem, ClaimStep, Resolution
from domain.claims.events import ClaimChanged
from domain.clock import FixedClock
from domain.errors import ConcurrentModification, NotPermitted
from domain.finance import MoneyKind, OwedReason, OwedStatus
from domain.orders.model import Order
from domain.orders.status import ExceptionType, Role
from tests.claims.helpers import (
    CUSTOMER,
    LOGISTICS_ID,
    SERVICE_ID,
    SLA,
    T0,
    WAREHOUSE_ID,
    claimed_order,
    setup_at,
)
from tests.fakes import FakeDatabase

LOGISTICS = Person(LOGISTICS_ID, frozenset({Role.LOGISTICS}))
SERVICE = Person(SERVICE_ID, frozenset({Role.CUSTOMER_SERVICE}))
WAREHOUSE = Person(WAREHOUSE_ID, frozenset({Role.WAREHOUSE}))
THE_CUSTOMER = Person(CUSTOMER, frozenset())


async def stored(kind: ExceptionType = ExceptionType.DAMAGED) -> tuple[FakeDatabase, Order]:
    """A fake database holding a claimed order."""
    database = FakeDatabase()
    order = claimed_order(kind)
    async with database.unit_of_work() as uow:
        await uow.orders.add(order)
        await uow.commit()
    return database, order


def clock_of(order: Order, stage: str) -> tuple[bool, bool | None] | None:
    """Whether the stage's last clock runs, and whether it was met."""
    found = [clock for clock in order.clocks if clock.stage == stage]
    return (found[-1].running, found[-1].met) if found else None


async def to_contact(database: FakeDatabase, order: Order, clock: FixedClock, by: Person = LOGISTICS) -> None:
    """Attaches two photos and one tea set, closes the evidence at +30 min, contacts at +50 min."""
    setup = setup_at(clock)
    await claims.add_photo(database.unit_of_work(), order.id, "PHOTO-1", by, setup)
    await claims.add_photo(database.unit_of_work(), order.id, "PHOTO-2", by, setup)
    await claims.set_item(database.unit_of_work(), order.id, 0, 1, by, setup)
    clock.current = T0 + timedelta(minutes=30)
    await claims.record_evidence(database.unit_of_work(), order.id, by, setup)
    clock.current = T0 + timedelta(minutes=50)
    await claims.record_contact(database.unit_of_work(), order.id, SERVICE, setup)


def test_every_claim_event_has_its_notices() -> None:
    order = claimed_order()
    card = Notice(NoticeKind.CLAIM_CARD, Role.CUSTOMER_SERVICE)
    told = Notice(NoticeKind.CLAIM_CUSTOMER)

    def of(step: ClaimStep) -> list[Notice]:
        return notices_for(ClaimChanged("e", order.id, T0, step), order)

    assert of(ClaimStep.EVIDENCE) == of(ClaimStep.CONTACTED) == of(ClaimStep.DECLINED) == [card]
    assert of(ClaimStep.OFFERED) == of(ClaimStep.RESHIPPED) == [told, card]


async def test_damage_claim_runs_the_evidence_contact_and_compensation_clocks_and_owes_finance() -> None:
    database, order = await stored()
    clock = FixedClock(T0)
    setup = setup_at(clock)
    await to_contact(database, order, clock)

    order_now = database.state.orders[order.id]
    # Evidence within 2 h ends the evidence clock, met; the contact within 1 h of it ends claim_contact.
    assert clock_of(order_now, "evidence") == (False, True)
    assert clock_of(order_now, "claim_contact") == (False, True)
    contact = next(clock for clock in order_now.clocks if clock.stage == "claim_contact")
    assert (contact.started_at, contact.due_at) == (T0 + timedelta(minutes=30), T0 + timedelta(minutes=90))

    clock.current = T0 + timedelta(hours=1)
    await claims.offer(database.unit_of_work(), order.id, Resolution.COMPENSATE, SERVICE, setup)
    changed, claim = await claims.answer(database.unit_of_work(), order.id, CUSTOMER, True, setup)

    assert claim.offer is not None and claim.offer.amount == Decimal("39.90")
    async with database.unit_of_work() as uow:
        (record,) = await uow.finance.for_order(order.id)
    assert (record.kind, record.reason, record.amount, record.currency, record.status) == (
        MoneyKind.PAYOUT,
        OwedReason.DAMAGE_COMPENSATION,
        Decimal("39.90"),
        "EUR",
        OwedStatus.OPEN,
    )
    assert clock_of(changed, "compensation") == (True, None)

    # Finance pays within the 3 working days: the compensation clock closes, met.
    clock.current = T0 + timedelta(days=1)
    assert record.id is not None
    await record_paid(
        database.unit_of_work(),
        record.id,
        actor=Actor(77, frozenset({Role.FINANCE})),
        reference="BANK-123",
        paid_at=None,
        clock=clock,
        handlers={},
        sla=SLA,
    )
    assert clock_of(database.state.orders[order.id], "compensation") == (False, True)


async def test_lost_goods_owe_the_orders_declared_value_as_a_loss_compensation() -> None:
    database, order = await stored(ExceptionType.LOST)
    clock = FixedClock(T0)
    setup = setup_at(clock)
    await claims.add_photo(database.unit_of_work(), order.id, "CARRIER-LOSS", LOGISTICS, setup)
    await claims.record_evidence(database.unit_of_work(), order.id, LOGISTICS, setup)
    await claims.record_contact(database.unit_of_work(), order.id, SERVICE, setup)
    await claims.offer(database.unit_of_work(), order.id, Resolution.COMPENSATE, SERVICE, setup)
    await claims.answer(database.unit_of_work(), order.id, CUSTOMER, True, setup)

    async with database.unit_of_work() as uow:
        (record,) = await uow.finance.for_order(order.id)
    assert (record.reason, record.amount) == (OwedReason.LOSS_COMPENSATION, Decimal("142.30"))


async def test_a_reship_is_a_warehouse_task_with_its_own_clock() -> None:
    database, order = await stored(ExceptionType.WRONG_SHIPMENT)
    clock = FixedClock(T0)
    setup = setup_at(clock)
    await to_contact(database, order, clock)
    await claims.offer(database.unit_of_work(), order.id, Resolution.RESHIP, SERVICE, setup)
    accepted, _ = await claims.answer(database.unit_of_work(), order.id, CUSTOMER, True, setup)

    assert clock_of(accepted, "reship") == (True, None)
    assert Notice(NoticeKind.CLAIM_RESHIP, Role.WAREHOUSE) in notices_for(
        ClaimChanged("e", order.id, T0, ClaimStep.ACCEPTED), accepted
    )
    with pytest.raises(NotPermitted):
        await claims.record_reshipped(database.unit_of_work(), order.id, LOGISTICS, setup)
    clock.current = T0 + timedelta(hours=5)
    shipped, _ = await claims.record_reshipped(database.unit_of_work(), order.id, WAREHOUSE, setup)
    assert clock_of(shipped, "reship") == (False, True)
    with pytest.raises(ClaimError) as again:
        await claims.record_reshipped(database.unit_of_work(), order.id, WAREHOUSE, setup)
    assert again.value.problem is ClaimProblem.RESHIPPED_ALREADY
    async with database.unit_of_work() as uow:
        assert await uow.finance.for_order(order.id) == []


async def test_the_customer_attaches_evidence_to_their_own_order_only() -> None:
    database, order = await stored()
    setup = setup_at(FixedClock(T0))
    _, claim = await claims.add_photo(database.unit_of_work(), order.id, "MINE", THE_CUSTOMER, setup)
    assert claim.photos == ("MINE",)
    assert database.state.orders[order.id].audit[-1].actor_role is Role.CUSTOMER

    with pytest.raises(NotPermitted):
        await claims.add_photo(database.unit_of_work(), order.id, "NOT-MINE", Person(999, frozenset()), setup)
    # Customer service's steps are not the customer's, nor the answer another's.
    await claims.set_item(database.unit_of_work(), order.id, 1, 5, THE_CUSTOMER, setup)
    await claims.record_evidence(database.unit_of_work(), order.id, THE_CUSTOMER, setup)
    with pytest.raises(NotPermitted):
        await claims.record_contact(database.unit_of_work(), order.id, THE_CUSTOMER, setup)


async def test_a_declined_offer_owes_nothing_and_another_customer_cannot_answer() -> None:
    database, order = await stored()
    clock = FixedClock(T0)
    setup = setup_at(clock)
    await to_contact(database, order, clock)
    await claims.offer(database.unit_of_work(), order.id, Resolution.DISCOUNT, SERVICE, setup, percent=20)
    with pytest.raises(NotYourOrder):
        await claims.answer(database.unit_of_work(), order.id, 999, True, setup)
    _, claim = await claims.answer(database.unit_of_work(), order.id, CUSTOMER, False, setup)

    assert claim.declined_at is not None and claim.offer is not None and claim.offer.percent == 20
    async with database.unit_of_work() as uow:
        assert await uow.finance.for_order(order.id) == []


async def test_two_presses_of_customer_contacted_at_once_record_one_contact() -> None:
    database, order = await stored()
    clock = FixedClock(T0)
    setup = setup_at(clock)
    await claims.add_photo(database.unit_of_work(), order.id, "P", LOGISTICS, setup)
    await claims.set_item(database.unit_of_work(), order.id, 0, 2, LOGISTICS, setup)
    await claims.record_evidence(database.unit_of_work(), order.id, LOGISTICS, setup)

    results = await asyncio.gather(
        claims.record_contact(database.unit_of_work(), order.id, SERVICE, setup),
        claims.record_contact(database.unit_of_work(), order.id, SERVICE, setup),
        return_exceptions=True,
    )

    failures = [result for result in results if isinstance(result, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], ConcurrentModification | ClaimError)
    contacts = [line for line in database.state.orders[order.id].audit if line.action == "claim_contacted"]
    assert len(contacts) == 1
