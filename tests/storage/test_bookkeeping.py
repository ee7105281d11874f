"""Processed updates, outbox de-duplication, staff roles and users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

from sqlalchemy import func, select

from application.ports import OutboxMessage
from domain.orders.status import Role
from storage.models import OutboxRow, StaffAuditRow, UserRow
from storage.uow import SqlUnitOfWork
from tests.storage.factories import T0

NewUow = Callable[[], SqlUnitOfWork]
ADMIN_ID = 100
CLERK_ID = 200


async def test_an_update_is_processed_once(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        first = await uow.updates.mark(901)
        await uow.commit()
    async with new_uow() as uow:
        second = await uow.updates.mark(901)
        other = await uow.updates.mark(902)

    assert (first, second, other) == (True, False, True)


async def test_a_rolled_back_update_is_not_remembered(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        assert await uow.updates.mark(7)
        await uow.rollback()
        # The redelivered update must be handled, since its handling was undone.
        assert await uow.updates.mark(7)
    async with new_uow() as uow:
        assert await uow.updates.mark(7)


def _message(dedup_key: str | None, text: str = "Your order is confirmed") -> OutboxMessage:
    """Makes a sendMessage for the customer."""
    return OutboxMessage(
        chat_id=555_000_111,
        method="sendMessage",
        params={"text": text, "reply_markup": {"inline_keyboard": []}},
        created_at=T0,
        order_id="order-1",
        dedup_key=dedup_key,
    )


async def test_outbox_ignores_a_repeated_dedup_key_without_breaking_the_transaction(new_uow: NewUow) -> None:
    first, repeat, other = (
        _message("sla:order-1:review:breach"),
        _message("sla:order-1:review:breach"),
        _message(None),
    )
    async with new_uow() as uow:
        assert await uow.outbox.enqueue(first)
        assert not await uow.outbox.enqueue(repeat)
        assert await uow.outbox.enqueue(other)
        await uow.commit()
    async with new_uow() as uow:
        assert not await uow.outbox.enqueue(_message("sla:order-1:review:breach", text="again"))
        assert await uow.outbox.enqueue(_message(None))
        await uow.commit()

    async with new_uow() as uow:
        rows = (await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    assert [row.dedup_key for row in rows] == ["sla:order-1:review:breach", None, None]
    assert rows[0].params == first.params
    assert rows[0].state == "pending"
    assert rows[0].created_at == T0 and rows[0].created_at.tzinfo is UTC
    assert first.id == rows[0].id and repeat.id is None


async def test_staff_roles_are_granted_revoked_and_audited(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        assert await uow.staff.grant(CLERK_ID, Role.ORDER_DESK, by=ADMIN_ID, at=T0)
        assert await uow.staff.grant(CLERK_ID, Role.WAREHOUSE, by=ADMIN_ID, at=T0)
        assert not await uow.staff.grant(CLERK_ID, Role.ORDER_DESK, by=ADMIN_ID, at=T0)
        assert await uow.staff.grant(ADMIN_ID, Role.ADMIN, by=None, at=T0)
        await uow.commit()
    async with new_uow() as uow:
        assert await uow.staff.revoke(CLERK_ID, Role.WAREHOUSE, by=ADMIN_ID, at=T0 + timedelta(days=1))
        assert not await uow.staff.revoke(CLERK_ID, Role.FINANCE, by=ADMIN_ID, at=T0 + timedelta(days=1))
        await uow.commit()

    async with new_uow() as uow:
        clerk_roles = await uow.staff.roles_of(CLERK_ID)
        stranger_roles = await uow.staff.roles_of(999)
        everyone = await uow.staff.list_all()
        audit = (await uow.session.scalars(select(StaffAuditRow).order_by(StaffAuditRow.id))).all()

    assert clerk_roles == frozenset({Role.ORDER_DESK})
    assert stranger_roles == frozenset()
    assert everyone == {CLERK_ID: frozenset({Role.ORDER_DESK}), ADMIN_ID: frozenset({Role.ADMIN})}
    assert [(a.actor_id, a.user_id, a.role, a.action) for a in audit] == [
        (ADMIN_ID, CLERK_ID, "order_desk", "grant"),
        (ADMIN_ID, CLERK_ID, "warehouse", "grant"),
        (None, ADMIN_ID, "admin", "grant"),
        (ADMIN_ID, CLERK_ID, "warehouse", "revoke"),
    ]
    assert audit[-1].at == T0 + timedelta(days=1)


async def test_users_language_and_blocked_flag(new_uow: NewUow) -> None:
    async with new_uow() as uow:
        assert await uow.users.language_of(1) is None
        await uow.users.set_language(1, "zh")
        await uow.users.mark_blocked(2)
        await uow.commit()
    async with new_uow() as uow:
        await uow.users.set_language(1, "en")
        await uow.users.mark_blocked(1)
        await uow.users.mark_blocked(2, blocked=False)
        await uow.commit()

    async with new_uow() as uow:
        rows = {row.id: row for row in (await uow.session.scalars(select(UserRow))).all()}
        count = await uow.session.scalar(select(func.count()).select_from(UserRow))
    assert count == 2
    assert (rows[1].language, rows[1].blocked) == ("en", True)
    assert (rows[2].language, rows[2].blocked) == (None, False)
    assert rows[1].first_seen.tzinfo is UTC
