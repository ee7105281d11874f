"""Order repository: round trips, queries and the version compare-and-set (R-P accuracy, traceability)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ConcurrentModification, IllegalTransition, OrderNotFound
from domain.orders.model import Order
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from storage.database import create_engine, create_session_factory
from storage.models import OrderAuditRow, OrderClockRow, OrderRow
from storage.uow import SqlUnitOfWork
from tests.fixtures import statements_starting
from tests.storage.factories import T0, make_order, reviewed_order

DESK = frozenset({Role.ORDER_DESK})
NewUow = Callable[[], SqlUnitOfWork]


def _persistent_state(order: Order) -> Order:
    """Returns the order without what is never stored (pending events)."""
    order.events = []
    return order


async def _store(new_uow: NewUow, order: Order) -> None:
    """Adds the order in its own committed transaction."""
    async with new_uow() as uow:
        await uow.orders.add(order)
        await uow.commit()


async def test_order_round_trips_with_items_audit_and_clocks(new_uow: NewUow) -> None:
    order = reviewed_order()
    order.note("customer called", actor_id=42, role=Role.ORDER_DESK, now=T0 + timedelta(minutes=5))
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)

    assert loaded == _persistent_state(order)
    assert loaded.version == 1
    assert [line.action for line in loaded.audit] == ["pass_validation", "note"]
    assert loaded.items[0].weight_kg.as_tuple() == order.items[0].weight_kg.as_tuple()
    assert loaded.clocks[0].running


async def test_saved_changes_are_read_back(new_uow: NewUow) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)
        loaded.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0 + timedelta(hours=3), note="ok")
        loaded.close_clock("review", now=T0 + timedelta(hours=3))
        loaded.open_clock("confirmation", started_at=T0 + timedelta(hours=3), due_at=T0 + timedelta(hours=4))
        loaded.paid = True
        await uow.commit()

    async with new_uow() as uow:
        again = await uow.orders.get(order.id)

    assert again == _persistent_state(loaded)
    assert again.status is OrderStatus.AWAITING_CONFIRMATION
    assert again.version == 2
    assert [(clock.stage, clock.met) for clock in again.clocks] == [("review", False), ("confirmation", None)]
    assert again.audit[-1].actor_id == 7


async def test_interruption_fields_round_trip(new_uow: NewUow) -> None:
    order = make_order(status=OrderStatus.PICKED)
    order.apply(
        Action.RAISE_EXCEPTION,
        actor_id=9,
        roles=frozenset({Role.WAREHOUSE}),
        now=T0,
        exception_type=ExceptionType.DAMAGED,
    )
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)

    assert (loaded.status, loaded.resume_status, loaded.exception_type) == (
        OrderStatus.EXCEPTION,
        OrderStatus.PICKED,
        ExceptionType.DAMAGED,
    )


async def test_unchanged_order_keeps_its_version(new_uow: NewUow) -> None:
    order = make_order()
    await _store(new_uow, order)

    async with new_uow() as uow:
        await uow.orders.get(order.id)
        await uow.commit()
    async with new_uow() as uow:
        assert (await uow.orders.get(order.id)).version == 1


async def test_changes_without_commit_are_discarded(new_uow: NewUow) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)
        loaded.apply(Action.REJECT, actor_id=7, roles=DESK, now=T0)
        await uow.orders.add(make_order())

    async with new_uow() as uow:
        again = await uow.orders.get(order.id)
        everything = await uow.orders.list_by_status(list(OrderStatus))
    assert again.status is OrderStatus.PENDING_REVIEW
    assert [o.id for o in everything] == [order.id]


async def test_get_unknown_order_raises(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        with pytest.raises(OrderNotFound):
            await uow.orders.get("00000000-0000-0000-0000-000000000000")


async def test_get_twice_returns_the_same_aggregate(new_uow: NewUow) -> None:
    order = make_order()
    await _store(new_uow, order)
    async with new_uow() as uow:
        first = await uow.orders.get(order.id)
        assert await uow.orders.find(order.reference) is first


async def test_find_by_reference_or_number(new_uow: NewUow) -> None:
    numbered, other = make_order(), make_order()
    numbered.assign_number("20260315001", now=T0)
    await _store(new_uow, numbered)
    await _store(new_uow, other)

    async with new_uow() as uow:
        by_number = await uow.orders.find("20260315001")
        by_reference = await uow.orders.find(f" {other.reference.lower()} ")
        missing = await uow.orders.find("20260315002")

    assert by_number is not None and by_number.id == numbered.id
    assert by_reference is not None and by_reference.id == other.id
    assert missing is None


async def test_lists_by_status_and_customer(new_uow: NewUow) -> None:
    old = make_order(status=OrderStatus.PENDING_REVIEW, created_at=T0)
    new = make_order(status=OrderStatus.PENDING_REVIEW, created_at=T0 + timedelta(hours=1))
    confirmed = make_order(status=OrderStatus.CONFIRMED, created_at=T0 + timedelta(hours=2))
    stranger = make_order(status=OrderStatus.PENDING_REVIEW, telegram_user_id=1, created_at=T0)
    for order in (new, confirmed, old, stranger):
        await _store(new_uow, order)

    async with new_uow() as uow:
        pending = await uow.orders.list_by_status([OrderStatus.PENDING_REVIEW])
        first_only = await uow.orders.list_by_status([OrderStatus.PENDING_REVIEW], limit=1)
        mine = await uow.orders.list_for_customer(old.customer.telegram_user_id or 0)

    assert {o.id for o in pending} == {old.id, new.id, stranger.id}
    assert pending[-1].id == new.id
    assert first_only[0].created_at == T0
    assert [o.id for o in mine] == [confirmed.id, new.id, old.id]


async def test_listed_orders_come_each_with_its_own_trail(new_uow: NewUow) -> None:
    first, second = reviewed_order(), reviewed_order()
    first.note("customer called", actor_id=42, role=Role.ORDER_DESK, now=T0 + timedelta(minutes=5))
    second.open_clock("confirmation", started_at=T0, due_at=T0 + timedelta(hours=4))
    for order in (first, second):
        await _store(new_uow, order)

    async with new_uow() as uow:
        listed = await uow.orders.list_by_status([OrderStatus.PENDING_REVIEW])

    assert {order.id: order for order in listed} == {
        first.id: _persistent_state(first),
        second.id: _persistent_state(second),
    }


async def test_an_order_loads_in_two_statements_and_a_decision_saves_in_three(
    new_uow: NewUow, engine: AsyncEngine
) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    with statements_starting(engine, "") as statements:
        async with new_uow() as uow:
            loaded = await uow.orders.get(order.id)
            loaded.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0 + timedelta(hours=1))
            loaded.close_clock("review", now=T0 + timedelta(hours=1))
            await uow.commit()

    made = [statement.split() for statement in statements if not statement.startswith("BEGIN")]
    # The order's row, then its clocks and audit lines in one statement (issue 17).
    assert [words[0] for words in made[:2]] == ["SELECT", "SELECT"]
    assert [" ".join(words[:2]) for words in made[2:]] == [
        "UPDATE orders",
        "INSERT INTO",
        "UPDATE order_clocks",
    ]
    assert made[3][2] == "order_audit"


async def test_a_unit_of_work_saves_again_after_a_commit(new_uow: NewUow) -> None:
    """The clocks one save inserted are updated, not inserted again, by the next save."""
    other = reviewed_order()
    await _store(new_uow, other)
    order = reviewed_order()

    async with new_uow() as uow:
        await uow.orders.add(order)
        order.close_clock("review", now=T0 + timedelta(hours=1))
        order.open_clock("confirmation", started_at=T0 + timedelta(hours=1), due_at=T0 + timedelta(hours=2))
        await uow.commit()
        order.close_clock("confirmation", now=T0 + timedelta(hours=1, minutes=30))
        order.note("confirmed by phone", actor_id=7, role=Role.ORDER_DESK, now=T0 + timedelta(hours=1))
        await uow.commit()

    async with new_uow() as uow:
        again = await uow.orders.get(order.id)
        untouched = await uow.orders.get(other.id)
        clock_rows = await uow.session.scalar(
            select(func.count()).select_from(OrderClockRow).where(OrderClockRow.order_id == order.id)
        )
    assert order.version == again.version == 3
    assert again == _persistent_state(order)
    assert [(clock.stage, clock.met) for clock in again.clocks] == [("review", True), ("confirmation", True)]
    assert clock_rows == 2
    assert untouched == _persistent_state(other)


async def test_a_removed_clock_is_deleted_and_the_kept_one_keeps_its_row(new_uow: NewUow) -> None:
    order = reviewed_order()
    order.open_clock("confirmation", started_at=T0, due_at=T0 + timedelta(hours=4))
    await _store(new_uow, order)
    clock_ids = select(OrderClockRow.stage, OrderClockRow.id).where(OrderClockRow.order_id == order.id)

    async with new_uow() as uow:
        before = dict((await uow.session.execute(clock_ids)).all())
        loaded = await uow.orders.get(order.id)
        loaded.clocks[:] = loaded.clocks[1:]
        loaded.clocks[0].paused_at = T0 + timedelta(minutes=10)
        await uow.commit()

    async with new_uow() as uow:
        again = await uow.orders.get(order.id)
        after = dict((await uow.session.execute(clock_ids)).all())
    assert again == _persistent_state(loaded)
    assert after == {"confirmation": before["confirmation"]}


async def test_saving_a_clock_leaves_its_alert_marks_alone(new_uow: NewUow) -> None:
    """A sweep marks a clock alerted with a plain statement; closing the clock later keeps the mark."""
    order = reviewed_order()
    await _store(new_uow, order)
    warned_at = T0 + timedelta(hours=1)
    of_order = OrderClockRow.order_id == order.id

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)
        await uow.session.execute(update(OrderClockRow).where(of_order).values(warning_alerted_at=warned_at))
        loaded.close_clock("review", now=T0 + timedelta(hours=3))
        await uow.commit()

    async with new_uow() as uow:
        marks = (
            await uow.session.execute(
                select(OrderClockRow.warning_alerted_at, OrderClockRow.met).where(of_order)
            )
        ).all()
    assert marks == [(warned_at, False)]


async def test_a_lost_race_on_one_of_two_changed_orders_writes_neither(new_uow: NewUow) -> None:
    first, second = reviewed_order(), reviewed_order()
    for order in (first, second):
        await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = [await uow.orders.get(first.id), await uow.orders.get(second.id)]
        # Another writer's commit of the second order, as seen from here.
        await uow.session.execute(text("UPDATE orders SET version = 2 WHERE id = :id"), {"id": second.id})
        for order in loaded:
            order.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0 + timedelta(hours=1))
        with pytest.raises(ConcurrentModification):
            await uow.commit()
        # Read in the same transaction: the first order's save was undone with the second's.
        statuses = set((await uow.session.scalars(select(OrderRow.status))).all())
        lines = await uow.session.scalar(select(func.count()).select_from(OrderAuditRow))
    assert statuses == {OrderStatus.PENDING_REVIEW.value}
    assert lines == 2


async def test_racing_saves_of_one_order_let_exactly_one_win(new_uow: NewUow) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    async def decide(action: Action) -> None:
        async with new_uow() as uow:
            loaded = await uow.orders.get(order.id)
            await asyncio.sleep(0.01)
            loaded.apply(action, actor_id=7, roles=DESK, now=T0 + timedelta(hours=1))
            await uow.commit()

    results = await asyncio.gather(decide(Action.APPROVE), decide(Action.REJECT), return_exceptions=True)

    failures = [result for result in results if isinstance(result, BaseException)]
    # PostgreSQL lets both read version 1 (the loser's UPDATE finds no row); SQLite's BEGIN IMMEDIATE
    # queues the second transaction, which then sees the new status and is refused by the table.
    assert len(failures) == 1
    assert isinstance(failures[0], ConcurrentModification | IllegalTransition)
    async with new_uow() as uow:
        final = await uow.orders.get(order.id)
    assert final.version == 2
    winner = Action.APPROVE if results[0] is None else Action.REJECT
    assert [line.action for line in final.audit] == ["pass_validation", winner.value]


@pytest.fixture
async def pg_uow(pg_url: str) -> AsyncIterator[NewUow]:
    """Units of work on PostgreSQL only: there transactions overlap, while SQLite writers queue up."""
    engine = create_engine(pg_url)
    factory = create_session_factory(engine)
    yield lambda: SqlUnitOfWork(factory)
    await engine.dispose()


async def test_overlapping_transactions_compare_and_set_the_version(pg_uow: NewUow) -> None:
    new_uow = pg_uow
    order = reviewed_order()
    await _store(new_uow, order)

    async with new_uow() as first, new_uow() as second:
        mine = await first.orders.get(order.id)
        theirs = await second.orders.get(order.id)
        mine.apply(Action.APPROVE, actor_id=1, roles=DESK, now=T0 + timedelta(hours=1))
        theirs.apply(Action.REJECT, actor_id=2, roles=DESK, now=T0 + timedelta(hours=1))
        await first.commit()
        with pytest.raises(ConcurrentModification):
            await second.commit()

    async with new_uow() as uow:
        final = await uow.orders.get(order.id)
    assert final.status is OrderStatus.AWAITING_CONFIRMATION
    assert [(line.action, line.actor_id) for line in final.audit] == [
        ("pass_validation", None),
        ("approve", 1),
    ]


async def test_saving_over_a_newer_version_raises_and_writes_nothing(new_uow: NewUow) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)
        # Another writer's commit, as seen from here: the row moved on to version 2.
        await uow.session.execute(text("UPDATE orders SET version = 2 WHERE id = :id"), {"id": order.id})
        loaded.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0)
        with pytest.raises(ConcurrentModification):
            await uow.commit()

    async with new_uow() as uow:
        lines = (
            await uow.session.scalars(select(OrderAuditRow).where(OrderAuditRow.order_id == order.id))
        ).all()
        status = await uow.session.scalar(select(OrderRow.status).where(OrderRow.id == order.id))
    assert len(lines) == 1
    assert status == OrderStatus.PENDING_REVIEW.value


async def test_datetimes_come_back_aware_utc(new_uow: NewUow) -> None:
    beijing = timezone(timedelta(hours=8))
    order = reviewed_order()
    order.received_at = T0.astimezone(beijing)
    order.created_at = T0.astimezone(beijing)
    await _store(new_uow, order)

    async with new_uow() as uow:
        loaded = await uow.orders.get(order.id)
        updated_at = await uow.session.scalar(select(OrderRow.updated_at).where(OrderRow.id == order.id))

    clock = loaded.clocks[0]
    read_back = [
        loaded.created_at,
        loaded.received_at,
        loaded.audit[0].at,
        clock.started_at,
        clock.due_at,
        updated_at,
    ]
    assert all(value is not None and value.tzinfo is UTC for value in read_back)
    assert loaded.received_at == T0
    assert loaded.created_at == T0


async def test_naive_datetimes_are_refused(new_uow: NewUow) -> None:
    order = make_order(created_at=T0.replace(tzinfo=None))
    async with new_uow() as uow:
        with pytest.raises(Exception, match="naive datetime"):
            await uow.orders.add(order)


async def test_entering_an_open_unit_of_work_joins_its_transaction(new_uow: NewUow) -> None:
    order = reviewed_order()
    await _store(new_uow, order)

    async with new_uow() as outer:
        assert await outer.updates.mark(1)
        async with outer as inner:
            loaded = await inner.orders.get(order.id)
            loaded.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0)
        assert outer.session is inner.session
        await outer.rollback()

    async with new_uow() as uow:
        assert (await uow.orders.get(order.id)).status is OrderStatus.PENDING_REVIEW
        assert await uow.updates.mark(1)


async def test_an_id_or_reference_with_a_control_character_is_simply_not_found(new_uow: NewUow) -> None:
    """Issue 11: a forged button's order id with a NUL is not found, on PostgreSQL too."""
    async with new_uow() as uow:
        with pytest.raises(OrderNotFound):
            await uow.orders.get("\x00")
        assert await uow.orders.find("R-\x00") is None
