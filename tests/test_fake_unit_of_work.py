"""The fake unit of work keeps the contract of the SQL one: the same scenarios on both (R-P accuracy)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select

from application.cancellation import CancellationRepository, CancellationUnitOfWork
from application.finance import FinanceRepository, FinanceUnitOfWork
from application.ports import ApiOrderLink, OutboxMessage, PlatformUnitOfWork
from domain.cancellation import Cancellation, CancellationPath, CancellationState
from domain.errors import ConcurrentModification, OrderNotFound
from domain.finance import MoneyKind, MoneyOwed, OwedReason, OwedStatus
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.alerts import AlertKind, EscalationLevel, NewAlert
from storage.database import create_session_factory
from storage.models import OutboxRow
from storage.uow import SqlUnitOfWork
from tests.fakes import FakeDatabase
from tests.storage.conftest import EVERY_BACKEND, backend_url, empty_database, pg_url
from tests.storage.factories import T0, make_order, reviewed_order

__all__ = ["pg_url"]

DESK = frozenset({Role.ORDER_DESK})


@dataclass
class Backend:
    """A database under test: how to open a unit of work on it and read back its outbox."""

    name: str
    uow: Callable[[], PlatformUnitOfWork]
    queued: Callable[[], Awaitable[list[OutboxMessage]]]


async def _sql_backend(url: str) -> AsyncIterator[Backend]:
    """A migrated, empty SQL database."""
    engine = await empty_database(url)
    sessions = create_session_factory(engine)

    async def queued() -> list[OutboxMessage]:
        async with sessions() as session:
            rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        return [
            OutboxMessage(
                row.chat_id, row.method, dict(row.params), row.created_at, row.order_id, row.dedup_key
            )
            for row in rows
        ]

    yield Backend(engine.dialect.name, lambda: SqlUnitOfWork(sessions), queued)
    await engine.dispose()


def _fake_backend() -> Backend:
    """An empty fake database."""
    database = FakeDatabase()

    async def queued() -> list[OutboxMessage]:
        return [
            OutboxMessage(m.chat_id, m.method, m.params, m.created_at, m.order_id, m.dedup_key)
            for m in database.state.outbox
        ]

    return Backend("fake", database.unit_of_work, queued)


@pytest.fixture(params=EVERY_BACKEND)
def every_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The fake, a migrated SQLite file and a PostgreSQL database."""
    return backend_url(request, tmp_path)


@pytest.fixture(params=["fake", pytest.param("postgresql", marks=pytest.mark.postgres)])
def racing_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The backends whose transactions interleave (SQLite lets one writer in at a time)."""
    return backend_url(request, tmp_path)


async def _open(url: str) -> AsyncIterator[Backend]:
    """The backend at the URL."""
    if url == "fake":
        yield _fake_backend()
    else:
        async for sql in _sql_backend(url):
            yield sql


@pytest.fixture
async def backend(every_url: str) -> AsyncIterator[Backend]:
    """An empty database of every kind."""
    async for opened in _open(every_url):
        yield opened


@pytest.fixture
async def racing(racing_url: str) -> AsyncIterator[Backend]:
    """An empty database whose transactions interleave."""
    async for opened in _open(racing_url):
        yield opened


async def store(backend: Backend, *orders: Order) -> None:
    """Adds orders in one committed unit of work."""
    async with backend.uow() as uow:
        for order in orders:
            await uow.orders.add(order)
        await uow.commit()


async def stored_in_review(backend: Backend) -> Order:
    """Stores an order waiting for its first review, committed, and returns it."""
    order = reviewed_order()
    await store(backend, order)
    return order


async def approve_in(uow: PlatformUnitOfWork, order_id: str) -> Order:
    """Loads the order in the unit of work and approves it there, without committing."""
    loaded = await uow.orders.get(order_id)
    loaded.apply(Action.APPROVE, actor_id=7, roles=DESK, now=T0)
    return loaded


async def load(backend: Backend, order_id: str) -> Order:
    """Reads an order in a unit of work of its own."""
    async with backend.uow() as uow:
        return await uow.orders.get(order_id)


async def test_an_added_order_reads_back_equal_at_version_one(backend: Backend) -> None:
    order = await stored_in_review(backend)

    loaded = await load(backend, order.id)

    order.events = []
    assert loaded == order
    assert loaded is not order
    assert loaded.version == 1


async def test_what_is_not_committed_is_gone(backend: Backend) -> None:
    order = make_order()
    async with backend.uow() as uow:
        await uow.orders.add(order)
        await uow.staff.grant(7, Role.ORDER_DESK, by=None, at=T0)
        assert await uow.outbox.enqueue(OutboxMessage(7, "sendMessage", {"text": "hi"}, T0))

    async with backend.uow() as uow:
        with pytest.raises(OrderNotFound):
            await uow.orders.get(order.id)
        assert await uow.staff.roles_of(7) == frozenset()
    assert await backend.queued() == []


async def test_rollback_discards_changes_and_the_next_read_reloads(backend: Backend) -> None:
    order = await stored_in_review(backend)

    async with backend.uow() as uow:
        await approve_in(uow, order.id)
        await uow.users.set_language(7, "zh")
        await uow.rollback()
        reloaded = await uow.orders.get(order.id)
        assert reloaded.status is OrderStatus.PENDING_REVIEW
        assert await uow.users.language_of(7) is None

    assert (await load(backend, order.id)).status is OrderStatus.PENDING_REVIEW


async def test_a_change_after_commit_or_without_one_is_not_stored(backend: Backend) -> None:
    order = await stored_in_review(backend)
    order.remarks = "changed on the object after its commit"

    async with backend.uow() as uow:
        await approve_in(uow, order.id)

    stored = await load(backend, order.id)
    assert (stored.remarks, stored.status, stored.version) == ("ring twice", OrderStatus.PENDING_REVIEW, 1)


async def test_one_unit_of_work_hands_out_one_object_per_order(backend: Backend) -> None:
    order = make_order()
    await store(backend, order)

    async with backend.uow() as uow:
        first = await uow.orders.get(order.id)
        found = await uow.orders.find(order.reference)
        [listed] = await uow.orders.list_by_status([OrderStatus.SUBMITTED])

    assert first is found is listed


async def test_versions_rise_by_one_per_saving_commit(backend: Backend) -> None:
    order = await stored_in_review(backend)

    async with backend.uow() as uow:
        loaded = await approve_in(uow, order.id)
        await uow.commit()
        assert loaded.version == 2
        await uow.commit()
        assert loaded.version == 2
        loaded.note("called the customer", actor_id=7, role=Role.ORDER_DESK, now=T0)
        await uow.commit()
        assert loaded.version == 3

    stored = await load(backend, order.id)
    assert stored.version == 3
    assert [line.action for line in stored.audit] == ["pass_validation", "approve", "note"]


async def test_an_order_changed_after_its_insert_is_stored_at_version_two(backend: Backend) -> None:
    order = reviewed_order()
    async with backend.uow() as uow:
        await uow.orders.add(order)
        order.note("entered by phone", actor_id=7, role=Role.ORDER_DESK, now=T0)
        await uow.commit()

    stored = await load(backend, order.id)
    assert (stored.version, len(stored.audit)) == (2, 2)


async def test_removing_audit_lines_is_refused(backend: Backend) -> None:
    order = await stored_in_review(backend)

    async with backend.uow() as uow:
        loaded = await uow.orders.get(order.id)
        loaded.audit.clear()
        with pytest.raises(ValueError, match="append-only"):
            await uow.commit()


async def test_a_lost_update_raises_concurrent_modification(racing: Backend) -> None:
    order = await stored_in_review(racing)

    async with racing.uow() as slow, racing.uow() as fast:
        mine = await slow.orders.get(order.id)
        theirs = await fast.orders.get(order.id)
        theirs.apply(Action.APPROVE, actor_id=8, roles=DESK, now=T0)
        await fast.commit()
        mine.apply(Action.REJECT, actor_id=7, roles=DESK, now=T0, note="wrong address")
        with pytest.raises(ConcurrentModification):
            await slow.commit()

    stored = await load(racing, order.id)
    assert (stored.status, stored.version) == (OrderStatus.AWAITING_CONFIRMATION, 2)


async def test_find_takes_reference_or_number_in_any_case(backend: Backend) -> None:
    order = make_order()
    order.number = "20260315001"
    await store(backend, order)

    async with backend.uow() as uow:
        by_reference = await uow.orders.find(f"  {order.reference.lower()} ")
        by_number = await uow.orders.find("20260315001")
        missing = await uow.orders.find("R-00000000")

    assert by_reference is not None and by_number is not None
    assert by_reference.id == by_number.id == order.id
    assert missing is None


async def test_lists_by_status_oldest_first_and_by_customer_newest_first(backend: Backend) -> None:
    old = make_order(created_at=T0)
    new = make_order(created_at=T0 + timedelta(hours=1))
    other = make_order(created_at=T0 + timedelta(hours=2), telegram_user_id=999)
    done = make_order(status=OrderStatus.CANCELLED, created_at=T0 + timedelta(hours=3))
    await store(backend, new, other, done, old)

    async with backend.uow() as uow:
        submitted = await uow.orders.list_by_status([OrderStatus.SUBMITTED])
        first = await uow.orders.list_by_status([OrderStatus.SUBMITTED], limit=1)
        mine = await uow.orders.list_for_customer(old.customer.telegram_user_id or 0)

    assert [o.id for o in submitted] == [old.id, new.id, other.id]
    assert [o.id for o in first] == [old.id]
    assert [o.id for o in mine] == [done.id, new.id, old.id]


async def test_staff_grants_and_revokes_once(backend: Backend) -> None:
    async with backend.uow() as uow:
        assert await uow.staff.grant(7, Role.ORDER_DESK, by=1, at=T0)
        assert not await uow.staff.grant(7, Role.ORDER_DESK, by=1, at=T0)
        assert await uow.staff.grant(7, Role.WAREHOUSE, by=1, at=T0)
        assert await uow.staff.grant(8, Role.FINANCE, by=1, at=T0)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.staff.revoke(8, Role.FINANCE, by=1, at=T0)
        assert not await uow.staff.revoke(8, Role.FINANCE, by=1, at=T0)
        assert await uow.staff.roles_of(7) == {Role.ORDER_DESK, Role.WAREHOUSE}
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.staff.list_all() == {7: frozenset({Role.ORDER_DESK, Role.WAREHOUSE})}


async def test_users_keep_language_and_blocked_flag(backend: Backend) -> None:
    async with backend.uow() as uow:
        assert await uow.users.language_of(7) is None
        await uow.users.mark_blocked(7)
        await uow.users.set_language(7, "zh")
        await uow.users.set_language(7, "en")
        await uow.users.mark_blocked(7, False)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.users.language_of(7) == "en"


async def test_roles_and_language_are_read_together(backend: Backend) -> None:
    """Issue 17: the middleware's one read gives what roles_of and language_of give apart."""
    async with backend.uow() as uow:
        assert await uow.staff.roles_and_language(7) == (frozenset(), None)
        await uow.staff.grant(7, Role.ORDER_DESK, by=1, at=T0)
        await uow.staff.grant(7, Role.FINANCE, by=1, at=T0)
        await uow.users.set_language(8, "zh")
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.staff.roles_and_language(7) == (frozenset({Role.ORDER_DESK, Role.FINANCE}), None)
        assert await uow.staff.roles_and_language(8) == (frozenset(), "zh")
        await uow.users.set_language(7, "en")
        # Within the transaction that wrote it, as SQL reads its own writes.
        assert await uow.staff.roles_and_language(7) == (frozenset({Role.ORDER_DESK, Role.FINANCE}), "en")


async def test_outbox_dedup_keys_queue_a_message_once(backend: Backend) -> None:
    first = OutboxMessage(-100, "sendMessage", {"text": "breach"}, T0, dedup_key="sla:1:breach")
    again = OutboxMessage(-100, "sendMessage", {"text": "breach again"}, T0, dedup_key="sla:1:breach")
    async with backend.uow() as uow:
        assert await uow.outbox.enqueue(first)
        assert not await uow.outbox.enqueue(again)
        assert await uow.outbox.enqueue(OutboxMessage(5, "sendMessage", {"text": "a"}, T0))
        assert await uow.outbox.enqueue(OutboxMessage(5, "sendMessage", {"text": "b"}, T0))
        await uow.commit()
    async with backend.uow() as uow:
        assert not await uow.outbox.enqueue(again)
        await uow.commit()

    assert first.id is not None and again.id is None
    assert [(m.chat_id, m.params["text"], m.dedup_key) for m in await backend.queued()] == [
        (-100, "breach", "sla:1:breach"),
        (5, "a", None),
        (5, "b", None),
    ]


async def test_serials_count_per_day_and_a_rollback_gives_them_back(backend: Backend) -> None:
    day, next_day = date(2026, 3, 15), date(2026, 3, 16)
    async with backend.uow() as uow:
        assert [await uow.numbers.next_serial(day) for _ in range(3)] == [1, 2, 3]
        assert await uow.numbers.next_serial(next_day) == 1
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.numbers.next_serial(day) == 4
    async with backend.uow() as uow:
        assert await uow.numbers.next_serial(day) == 4


async def test_an_update_is_processed_once(backend: Backend) -> None:
    async with backend.uow() as uow:
        assert await uow.updates.mark(41)
    async with backend.uow() as uow:
        assert await uow.updates.mark(41)
        assert not await uow.updates.mark(41)
        await uow.commit()
    async with backend.uow() as uow:
        assert not await uow.updates.mark(41)


async def test_questions_documents_and_names_of_the_review_flow(backend: Backend) -> None:
    order = make_order()
    await store(backend, order)
    async with backend.uow() as uow:
        first = await uow.reviews.add_question(
            order.id, 7, "Which floor?", T0, card_chat_id=-1, card_message_id=2
        )
        second = await uow.reviews.add_question(
            order.id, 7, "Phone?", T0, card_chat_id=None, card_message_id=None
        )
        document = await uow.reviews.save_document(order.id, "confirmation", "c.pdf", b"%PDF-1", T0)
        await uow.reviews.remember_name(7, "Dora " + "x" * 300, T0)
        await uow.commit()

    async with backend.uow() as uow:
        open_question = await uow.reviews.open_question(order.id)
        assert open_question is not None and open_question.id == second
        assert await uow.reviews.answer_question(second, "+86 138", T0 + timedelta(minutes=1))
        assert not await uow.reviews.answer_question(second, "again", T0 + timedelta(minutes=2))
        reopened = await uow.reviews.open_question(order.id)
        assert reopened is not None and reopened.id == first
        assert (reopened.question, reopened.card_chat_id, reopened.card_message_id) == ("Which floor?", -1, 2)
        stored = await uow.reviews.get_document(document)
        assert stored is not None
        assert (stored.order_id, stored.kind, stored.filename, stored.content) == (
            order.id,
            "confirmation",
            "c.pdf",
            b"%PDF-1",
        )
        assert await uow.reviews.get_document(document + 1000) is None
        assert await uow.reviews.name_of(7) == "Dora " + "x" * 195
        await uow.reviews.remember_name(7, "Dora Desk", T0)
        assert await uow.reviews.name_of(7) == "Dora Desk"
        assert await uow.reviews.name_of(8) is None


async def test_api_links_are_unique_per_key_and_idempotency_key(backend: Backend) -> None:
    orders = [make_order() for _ in range(4)]
    await store(backend, *orders)
    async with backend.uow() as uow:
        assert await uow.api.add(ApiOrderLink("shop-a", orders[0].id, T0, "k1", "f1", "ext-1"))
        assert not await uow.api.add(ApiOrderLink("shop-a", orders[1].id, T0, "k1", "f2"))
        assert await uow.api.add(ApiOrderLink("shop-b", orders[1].id, T0, "k1", "f2"))
        assert await uow.api.add(ApiOrderLink("shop-a", orders[2].id, T0))
        assert await uow.api.add(ApiOrderLink("shop-a", orders[3].id, T0))
        await uow.commit()

    async with backend.uow() as uow:
        link = await uow.api.by_idempotency_key("shop-a", "k1")
        assert link == ApiOrderLink("shop-a", orders[0].id, T0, "k1", "f1", "ext-1")
        by_order = await uow.api.by_order(orders[1].id)
        assert by_order is not None and by_order.key_name == "shop-b"
        assert await uow.api.by_idempotency_key("shop-c", "k1") is None


async def test_sla_clocks_alerts_and_digests(backend: Backend) -> None:
    order = reviewed_order()
    order.number = "20260315007"
    await store(backend, order)
    review_due = T0 + timedelta(hours=2)
    async with backend.uow() as uow:
        await uow.reviews.remember_name(7, "Dora Desk", T0)
        loaded = await uow.orders.get(order.id)
        loaded.note("called", actor_id=7, role=Role.ORDER_DESK, now=T0 + timedelta(minutes=1))
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.sla.try_lock_sweep()
        assert await uow.sla.due_for_breach(review_due, 10) == []
        [clock] = await uow.sla.due_for_breach(review_due + timedelta(seconds=1), 10)
        assert (clock.order_id, clock.order_ref, clock.stage, clock.due_at) == (
            order.id,
            "20260315007",
            "review",
            review_due,
        )
        assert clock.last_action is not None
        assert (clock.last_action.action, clock.last_action.actor_name) == ("note", "Dora Desk")
        thresholds = {"review": review_due}
        [warning] = await uow.sla.due_for_warning(thresholds, T0, 10)
        assert warning.clock_id == clock.clock_id
        assert await uow.sla.due_for_warning({"review": review_due - timedelta(seconds=1)}, T0, 10) == []
        [at_risk] = await uow.sla.at_risk_or_breached(thresholds, 10)
        assert at_risk.clock_id == clock.clock_id

        breach = NewAlert(order.id, clock.clock_id, "review", AlertKind.BREACH, Role.ORDER_DESK, T0, "b1")
        alert_id = await uow.sla.record_alert(breach)
        assert alert_id is not None
        assert await uow.sla.record_alert(breach) is None
        assert await uow.sla.due_for_breach(review_due + timedelta(seconds=1), 10) == []
        assert await uow.sla.record_digest("2026-03-15T09:00+08:00", T0, {"orders": 1})
        assert not await uow.sla.record_digest("2026-03-15T09:00+08:00", T0, {"orders": 2})
        await uow.commit()

    async with backend.uow() as uow:
        alert = await uow.sla.get_alert(alert_id)
        assert alert is not None
        assert (alert.order_ref, alert.due_at, alert.kind, alert.department, alert.batch) == (
            "20260315007",
            review_due,
            AlertKind.BREACH,
            Role.ORDER_DESK,
            "b1",
        )
        assert [a.id for a in await uow.sla.alerts_in_batch("b1")] == [alert_id]
        assert [a.id for a in await uow.sla.unacknowledged(0, T0, 10)] == [alert_id]
        assert await uow.sla.unacknowledged(0, T0 - timedelta(seconds=1), 10) == []
        assert await uow.sla.escalate(alert_id, 1, T0 + timedelta(hours=1))
        assert not await uow.sla.escalate(alert_id, 1, T0 + timedelta(hours=1))
        assert [a.id for a in await uow.sla.unacknowledged(1, T0 + timedelta(hours=1), 10)] == [alert_id]
        assert await uow.sla.acknowledge([alert_id], 7, "Dora Desk", T0 + timedelta(hours=2)) == 1
        assert await uow.sla.acknowledge([alert_id], 8, "Hana Head", T0 + timedelta(hours=2)) == 0
        await uow.commit()

    async with backend.uow() as uow:
        alert = await uow.sla.get_alert(alert_id)
        assert alert is not None
        assert (alert.acknowledged_by, alert.acknowledged_by_name, alert.escalation_level) == (
            7,
            "Dora Desk",
            EscalationLevel.ORDER_DESK_HEAD,
        )
        assert await uow.sla.unacknowledged(1, T0 + timedelta(hours=3), 10) == []
        assert await uow.sla.get_alert(alert_id + 1000) is None


async def test_clock_ids_stay_with_their_clocks(backend: Backend) -> None:
    order = await stored_in_review(backend)
    late = T0 + timedelta(days=1)
    async with backend.uow() as uow:
        [review] = await uow.sla.due_for_breach(late, 10)
        loaded = await uow.orders.get(order.id)
        loaded.open_clock("confirmation", started_at=T0, due_at=T0 + timedelta(hours=1))
        await uow.commit()

    async with backend.uow() as uow:
        clocks = await uow.sla.due_for_breach(late, 10)
    assert [(c.stage, c.clock_id == review.clock_id) for c in clocks] == [
        ("confirmation", False),
        ("review", True),
    ]


async def test_entering_an_open_unit_of_work_joins_its_transaction(backend: Backend) -> None:
    order = make_order()
    uow = backend.uow()
    async with uow:
        async with uow:
            await uow.orders.add(order)
        await uow.commit()

    assert (await load(backend, order.id)).id == order.id


async def test_a_second_allocator_of_the_day_waits_for_the_first_to_commit(racing: Backend) -> None:
    day = date(2026, 3, 15)
    started = asyncio.Event()

    async def second() -> int:
        async with racing.uow() as uow:
            started.set()
            serial = await uow.numbers.next_serial(day)
            await uow.commit()
            return serial

    async with racing.uow() as first:
        assert await first.numbers.next_serial(day) == 1
        waiting = asyncio.create_task(second())
        await started.wait()
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await first.commit()
    assert await asyncio.wait_for(waiting, timeout=5) == 2


async def test_the_fake_refuses_a_lock_its_own_task_already_holds_in_another_unit_of_work() -> None:
    database = FakeDatabase()
    async with database.unit_of_work() as first, database.unit_of_work() as second:
        await first.numbers.next_serial(date(2026, 3, 15))
        with pytest.raises(RuntimeError, match="locked by another open unit of work"):
            await second.numbers.next_serial(date(2026, 3, 15))


def _finance(uow: PlatformUnitOfWork) -> FinanceRepository:
    """The refund and payout repository of a unit of work (every backend's has one)."""
    return cast(FinanceUnitOfWork, uow).finance


def _owed(order_id: str, *, due_in: int, amount: str = "10.00") -> MoneyOwed:
    """A refund owed on an order, due in due_in hours."""
    return MoneyOwed(
        order_id=order_id,
        kind=MoneyKind.REFUND,
        reason=OwedReason.CANCELLATION,
        amount=Decimal(amount),
        currency="CNY",
        method="alipay",
        created_at=T0,
        due_at=T0 + timedelta(hours=due_in),
        note="cancelled",
    )


async def test_money_owed_is_stored_listed_by_due_and_paid_once(backend: Backend) -> None:
    order = await stored_in_review(backend)
    async with backend.uow() as uow:
        late = await _finance(uow).add(_owed(order.id, due_in=48, amount="12.34"))
        early = await _finance(uow).add(_owed(order.id, due_in=24))
        await uow.commit()
    async with backend.uow() as uow:
        assert [record.id for record in await _finance(uow).open_records(offset=0, limit=5)] == [early, late]
        assert [record.id for record in await _finance(uow).open_records(offset=1, limit=5)] == [late]
        assert await _finance(uow).count_open() == 2
        stored = await _finance(uow).get(late)
        assert (
            stored is not None
            and stored.amount == Decimal("12.34")
            and stored.due_at == T0 + timedelta(hours=48)
        )
        assert await _finance(uow).paid_with(order.id) is None
        paid_at = T0 + timedelta(hours=2)
        assert await _finance(uow).mark_paid(late, reference="R-1", paid_at=paid_at, by=7, at=paid_at)
        assert not await _finance(uow).mark_paid(late, reference="R-2", paid_at=paid_at, by=8, at=paid_at)
        await uow.commit()
    async with backend.uow() as uow:
        paid = await _finance(uow).get(late)
        assert paid is not None and (paid.status, paid.paid_reference, paid.paid_by) == (
            OwedStatus.PAID,
            "R-1",
            7,
        )
        assert [record.id for record in await _finance(uow).for_order(order.id)] == [late, early]
        assert await _finance(uow).count_open() == 1


async def test_money_owed_is_dropped_without_commit_and_needs_its_order(backend: Backend) -> None:
    order = await stored_in_review(backend)
    async with backend.uow() as uow:
        await _finance(uow).add(_owed(order.id, due_in=24))
    async with backend.uow() as uow:
        assert await _finance(uow).count_open() == 0
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await _finance(uow).add(_owed("no-such-order", due_in=24))
            await uow.commit()


async def test_a_second_press_on_paid_waits_for_the_first_and_loses(racing: Backend) -> None:
    order = await stored_in_review(racing)
    async with racing.uow() as uow:
        record_id = await _finance(uow).add(_owed(order.id, due_in=24))
        await uow.commit()
    started = asyncio.Event()

    async def second() -> bool:
        async with racing.uow() as uow:
            started.set()
            won = await _finance(uow).mark_paid(record_id, reference="B", paid_at=T0, by=2, at=T0)
            await uow.commit()
            return won

    async with racing.uow() as first:
        assert await _finance(first).mark_paid(record_id, reference="A", paid_at=T0, by=1, at=T0)
        waiting = asyncio.create_task(second())
        await started.wait()
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await first.commit()
    assert await asyncio.wait_for(waiting, timeout=5) is False


def _cancellations(uow: PlatformUnitOfWork) -> CancellationRepository:
    """The cancellation repository of a unit of work (every backend's has one)."""
    return cast(CancellationUnitOfWork, uow).cancellations


async def test_a_cancellation_is_stored_read_back_and_stepped_from_its_state_only(backend: Backend) -> None:
    order = await stored_in_review(backend)
    filed = Cancellation(
        order.id,
        CancellationPath.RECALL,
        CancellationState.REQUESTED,
        T0,
        100,
        consent="by phone",
        currency="EUR",
    )
    async with backend.uow() as uow:
        filed.id = await _cancellations(uow).add(filed)
        await uow.commit()
    async with backend.uow() as uow:
        stored = await _cancellations(uow).latest_for(order.id)
        assert stored == filed
        assert stored is not None
        stored.state, stored.share_percent, stored.charge = (
            CancellationState.TERMS_PROPOSED,
            Decimal(30),
            Decimal("73.74"),
        )
        assert await _cancellations(uow).save(stored, was=CancellationState.REQUESTED)
        # A stale step (taken from the state it was in before) writes nothing.
        assert not await _cancellations(uow).save(stored, was=CancellationState.REQUESTED)
        await uow.commit()
    async with backend.uow() as uow:
        again = await _cancellations(uow).latest_for(order.id)
        assert again is not None and (again.state, again.charge) == (
            CancellationState.TERMS_PROPOSED,
            Decimal("73.74"),
        )
        assert await _cancellations(uow).latest_for("no-such-order") is None
