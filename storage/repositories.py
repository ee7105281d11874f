"""SQL implementations of the repository ports of domain/ports.py, and what the repositories share.

The order repository is in storage/order_repository.py. Counters, processed updates, outbox
de-duplication and staff grants are single upsert statements (INSERT ... ON CONFLICT) so that
racing transactions never abort each other.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    CompoundSelect,
    Label,
    Table,
    bindparam,
    delete,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from application.ports import FailedMessage, OutboxMessage
from domain.orders.status import Role
from storage.models import (
    OrderNumberCounterRow,
    OrderRow,
    OutboxRow,
    ProcessedUpdateRow,
    StaffAuditRow,
    StaffRoleRow,
    UserRow,
    utcnow,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Upsert = sqlite.Insert | postgresql.Insert
Record = TypeVar("Record", bound="DataclassInstance")


# session.info key: what to do once the session's transaction has committed (SqlUnitOfWork.commit).
AFTER_COMMIT = "after_commit"
# Key of session.info: the dialogs (state, data) read with the update's opening statement
# (storage.inbox), by flat FSM key, which the FSM storage (storage.fsm) uses instead of reading
# them again until it writes one; code that deletes dialog rows in the session drops them.
PREFETCHED_STATES = "prefetched_fsm_states"


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Runs `action` once the session's current transaction commits; a rollback discards it."""
    session.info.setdefault(AFTER_COMMIT, []).append(action)


def upsert(session: AsyncSession, table: Table) -> Upsert:
    """Starts an INSERT that supports ON CONFLICT in the session's SQL dialect."""
    return upsert_in(session.get_bind().dialect.name, table)


def upsert_in(dialect: str, table: Table) -> Upsert:
    """Starts an INSERT that supports ON CONFLICT in the named SQL dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for SQL dialect {dialect!r}")


def table_of(entity: type[Any]) -> Table:
    """Returns the Core table of a mapped class."""
    table: Table = entity.__table__
    return table


def order_ref() -> Label[str]:
    """The order's number, or its reference before it has one, as a query column named order_ref."""
    return func.coalesce(OrderRow.number, OrderRow.reference).label("order_ref")


def record_from(record: type[Record], row: object, prefix: str = "", **given: Any) -> Record:
    """Builds a record from a row whose columns are named like its fields (after `prefix`).

    `given` holds the fields that need converting or come from elsewhere (a join); a field the row
    has no column for keeps its default.
    """
    columns = (prefix + f.name for f in fields(record) if f.init and f.name not in given)
    copied = {column.removeprefix(prefix): getattr(row, column) for column in columns if hasattr(row, column)}
    return record(**copied, **given)


def columns_of(record: DataclassInstance, prefix: str = "", **given: Any) -> dict[str, Any]:
    """The column values of a record's row: each field under its name after `prefix`, `given` overriding."""
    return {prefix + f.name: getattr(record, f.name) for f in fields(record) if f.name not in given} | given


# Statements every update runs, built once (issue 17): building a statement costs more than
# SQLAlchemy's compiled-SQL cache saves when it is built anew per call.
_ROLES_OF = select(StaffRoleRow.role).where(StaffRoleRow.user_id == bindparam("user_id"))
_LANGUAGE_OF = select(UserRow.language).where(UserRow.id == bindparam("user_id"))
# One round trip for both (issue 17): the user's roles, one row each, then their language.
_ROLES_AND_LANGUAGE_OF: CompoundSelect[Any] = union_all(
    select(StaffRoleRow.role, null().label("language")).where(StaffRoleRow.user_id == bindparam("user_id")),
    select(null(), UserRow.language).where(UserRow.id == bindparam("user_id")),
)


class SqlStaffRepository:
    """Staff roles by Telegram user id; every grant and revoke is audited."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def roles_of(self, user_id: int) -> frozenset[Role]:
        """Returns the roles a user holds."""
        result = await self._session.scalars(_ROLES_OF, {"user_id": user_id})
        return frozenset(Role(role) for role in result)

    async def roles_and_language(self, user_id: int) -> tuple[frozenset[Role], str | None]:
        """The user's roles and saved language, in one statement."""
        rows = (await self._session.execute(_ROLES_AND_LANGUAGE_OF, {"user_id": user_id})).all()
        roles = frozenset(Role(role) for role, _ in rows if role is not None)
        return roles, next((language for role, language in rows if role is None), None)

    async def grant(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Gives a user a role; returns False if they already held it."""
        table = table_of(StaffRoleRow)
        stmt = (
            upsert(self._session, table)
            .values(user_id=user_id, role=role.value, granted_by=by, granted_at=at)
            .on_conflict_do_nothing(index_elements=[table.c.user_id, table.c.role])
            .returning(table.c.user_id)
        )
        if (await self._session.execute(stmt)).scalar_one_or_none() is None:
            return False
        await self._audit(user_id, role, "grant", by, at)
        return True

    async def revoke(self, user_id: int, role: Role, *, by: int | None, at: datetime) -> bool:
        """Takes a role away; returns False if the user did not hold it."""
        table = table_of(StaffRoleRow)
        stmt = (
            delete(table)
            .where(table.c.user_id == user_id, table.c.role == role.value)
            .returning(table.c.user_id)
        )
        if (await self._session.execute(stmt)).scalar_one_or_none() is None:
            return False
        await self._audit(user_id, role, "revoke", by, at)
        return True

    async def list_all(self) -> dict[int, frozenset[Role]]:
        """Returns every staff member with their roles."""
        roles: dict[int, set[Role]] = defaultdict(set)
        for user_id, role in await self._session.execute(select(StaffRoleRow.user_id, StaffRoleRow.role)):
            roles[user_id].add(Role(role))
        return {user_id: frozenset(held) for user_id, held in roles.items()}

    async def _audit(self, user_id: int, role: Role, action: str, by: int | None, at: datetime) -> None:
        """Records who changed which role of whom, and when."""
        self._session.add(StaffAuditRow(at=at, actor_id=by, user_id=user_id, role=role.value, action=action))
        await self._session.flush()


class SqlUserRepository:
    """Language and blocked flag of each Telegram user."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def language_of(self, user_id: int) -> str | None:
        """Returns the user's chosen language, if any."""
        return await self._session.scalar(_LANGUAGE_OF, {"user_id": user_id})

    async def set_language(self, user_id: int, language: str) -> None:
        """Remembers the user's language."""
        await self._upsert(user_id, language=language)

    async def mark_blocked(self, user_id: int, blocked: bool = True) -> None:
        """Remembers whether the user blocked the bot."""
        await self._upsert(user_id, blocked=blocked)

    async def _upsert(self, user_id: int, **values: Any) -> None:
        """Creates the user row or updates the given columns."""
        table = table_of(UserRow)
        stmt = upsert(self._session, table).values(id=user_id, first_seen=utcnow(), **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id], set_={name: stmt.excluded[name] for name in values}
        )
        await self._session.execute(stmt)


@functools.cache
def _enqueue(dialect: str, deduplicated: bool) -> ReturningInsert[Any]:
    """The outbox insert, built once per dialect (its values come as parameters, issue 17)."""
    table = table_of(OutboxRow)
    stmt = upsert_in(dialect, table)
    if deduplicated:
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.dedup_key])
    return stmt.returning(table.c.id)


class SqlOutboxRepository:
    """Writes outbox messages in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Queues a message; returns False, writing nothing, if its dedup_key was queued before."""
        values = {
            "chat_id": message.chat_id,
            "method": message.method,
            "params": message.params,
            "order_id": message.order_id,
            "dedup_key": message.dedup_key,
            "created_at": message.created_at,
            "attempts": message.attempts,
            "next_attempt_at": message.created_at,
            "sent_at": message.sent_at,
            "telegram_message_id": message.telegram_message_id,
            "state": "pending" if message.sent_at is None else "sent",
        }
        stmt = _enqueue(self._session.get_bind().dialect.name, message.dedup_key is not None)
        new_id = (await self._session.execute(stmt, values)).scalar_one_or_none()
        if new_id is None:
            return False
        message.id = new_id
        return True

    async def failed(self, limit: int = 20) -> list[FailedMessage]:
        """Lists the latest messages given up for good (Telegram refused them, or no attempt was left)."""
        stmt = select(OutboxRow).where(OutboxRow.state == "failed").order_by(OutboxRow.id.desc()).limit(limit)
        rows = (await self._session.scalars(stmt)).all()
        return [record_from(FailedMessage, row, error=row.last_error or "") for row in rows]


class SqlOrderNumberAllocator:
    """Daily serials from a counter row that stays locked until the transaction ends."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_serial(self, day: date) -> int:
        """Returns the next serial of the day; a rolled-back transaction gives its serial back."""
        table = table_of(OrderNumberCounterRow)
        insert = upsert(self._session, table).values(day=day, last_serial=1)
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.day], set_={"last_serial": table.c.last_serial + 1}
        ).returning(table.c.last_serial)
        serial: int = (await self._session.execute(stmt)).scalar_one()
        return serial


@functools.cache
def mark_processed(dialect: str) -> ReturningInsert[Any]:
    """The insert that records an update id unless it is there already, returning it if new."""
    table = table_of(ProcessedUpdateRow)
    return (
        upsert_in(dialect, table)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=[table.c.update_id])
        .returning(table.c.update_id)
    )


class SqlProcessedUpdates:
    """Telegram update ids handled so far, recorded in the handling transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def mark(self, update_id: int) -> bool:
        """Records the update; returns False if it had been processed already."""
        stmt = mark_processed(self._session.get_bind().dialect.name)
        params = {"update_id": update_id, "processed_at": utcnow()}
        return (await self._session.execute(stmt, params)).scalar_one_or_none() is not None
