"""SQL implementations of the repository ports of domain/ports.py.

How an order is saved: the order repository remembers every aggregate it loads or adds in its
unit of work, together with its row and a snapshot of the column values it was read with.
`SqlUnitOfWork.commit()` calls `save_changes()`, which writes back only the aggregates that
changed: changed columns, the audit lines appended since loading (the trail is append-only),
new or changed clocks; and it raises the row's `version` by one. The version column is the
mapper's `version_id_col` (set by us, not by a generator), so the UPDATE carries
`WHERE version = <version read>`: if another transaction saved the order in between, no row
matches and the save fails with ConcurrentModification instead of overwriting that change.

Counters, processed updates, outbox de-duplication and staff grants are single upsert
statements (INSERT ... ON CONFLICT) so that racing transactions never abort each other.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    CompoundSelect,
    Label,
    Select,
    Table,
    bindparam,
    delete,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import ReturningInsert

from application.ports import FailedMessage, OutboxMessage
from domain.errors import ConcurrentModification, OrderNotFound
from domain.orders.model import Address, AuditEvent, Customer, Item, Order, Shipment, StageClock
from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Channel, ExceptionType, OrderStatus, Role, Service
from domain.text import has_control
from storage.change_json import changes_from_json, changes_to_json
from storage.models import (
    OrderAuditRow,
    OrderClockRow,
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


# An item's size in cm, stored only when known.
_SIZES = ("length_cm", "width_cm", "height_cm")


def _item_to_json(item: Item) -> dict[str, Any]:
    """Turns an item into JSON, decimals as strings so no precision is lost."""
    return {
        "name": item.name,
        "quantity": item.quantity,
        "weight_kg": str(item.weight_kg),
        "declared_value": str(item.declared_value),
        "sku": item.sku,
        "fragile": item.fragile,
        "hs_code": item.hs_code,
        **{name: str(getattr(item, name)) for name in _SIZES if getattr(item, name) is not None},
    }


def _item_from_json(data: dict[str, Any]) -> Item:
    """Reads an item back from its JSON form."""
    return Item(
        name=data["name"],
        quantity=int(data["quantity"]),
        weight_kg=Decimal(data["weight_kg"]),
        declared_value=Decimal(data["declared_value"]),
        sku=data.get("sku"),
        fragile=bool(data.get("fragile", False)),
        hs_code=data.get("hs_code"),
        **{name: Decimal(data[name]) for name in _SIZES if data.get(name) is not None},
    )


def _requests_to_json(requirements: Requirements) -> list[dict[str, str]]:
    """Turns the special requests into JSON."""
    return [{"kind": request.kind.value, "note": request.note} for request in requirements.special_requests]


def _requirements(row: OrderRow) -> Requirements:
    """Reads the order's special requests, delivery date and chosen special services back."""
    return Requirements(
        special_requests=tuple(
            SpecialRequest(RequestKind(entry["kind"]), entry["note"]) for entry in row.special_requests or []
        ),
        delivery_by=row.delivery_by,
        special_services=frozenset(SpecialService(name) for name in row.special_services or []),
    )


# Shipment fields holding moments, stored as ISO 8601 strings in the JSON document.
_SHIPMENT_TIMES = frozenset(f.name for f in fields(Shipment) if "datetime" in str(f.type))


def _shipment_to_json(shipment: Shipment) -> dict[str, Any] | None:
    """Turns the execution record into JSON (None while nothing is recorded), times as ISO strings."""
    if shipment.empty:
        return None
    data: dict[str, Any] = {}
    for name in (f.name for f in fields(Shipment)):
        value = getattr(shipment, name)
        if name in _SHIPMENT_TIMES and value is not None:
            value = value.isoformat()
        elif isinstance(value, dict | list):
            value = value.copy()
        data[name] = value
    return data


def _shipment_from_json(data: dict[str, Any] | None) -> Shipment:
    """Reads the execution record back; keys it does not know (newer writers) are ignored."""
    if not data:
        return Shipment()
    known = {f.name for f in fields(Shipment)}
    values = {name: value for name, value in data.items() if name in known}
    for name in _SHIPMENT_TIMES & values.keys():
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    return Shipment(**values)


def _order_columns(order: Order) -> dict[str, Any]:
    """Lists the orders-row column values of an aggregate (id and version excluded)."""
    return {
        **columns_of(order.customer, "customer_"),
        **columns_of(order.address, "address_"),
        "reference": order.reference,
        "number": order.number,
        "status": order.status.value,
        "resume_status": order.resume_status.value if order.resume_status else None,
        "exception_type": order.exception_type.value if order.exception_type else None,
        "service": order.service.value,
        "channel": order.channel.value,
        "items": [_item_to_json(item) for item in order.items],
        "shipment": _shipment_to_json(order.shipment),
        "payment_method": order.payment_method,
        "amount": order.amount,
        "currency": order.currency,
        "paid": order.paid,
        "outstanding": order.outstanding,
        "changes": changes_to_json(order.changes),
        "remarks": order.remarks,
        "special_requests": _requests_to_json(order.requirements),
        "delivery_by": order.requirements.delivery_by,
        "special_services": sorted(service.value for service in order.requirements.special_services),
        "urgent": order.urgent,
        "entered_by": order.entered_by,
        "received_at": order.received_at,
        "created_at": order.created_at,
    }


def _audit_row(event: AuditEvent) -> OrderAuditRow:
    """Makes the row of one audit line."""
    return OrderAuditRow(
        **columns_of(
            event,
            actor_role=event.actor_role.value,
            from_status=event.from_status.value if event.from_status else None,
            to_status=event.to_status.value if event.to_status else None,
        )
    )


def _audit_event(row: OrderAuditRow) -> AuditEvent:
    """Reads one audit line back."""
    return record_from(
        AuditEvent,
        row,
        actor_role=Role(row.actor_role),
        from_status=OrderStatus(row.from_status) if row.from_status else None,
        to_status=OrderStatus(row.to_status) if row.to_status else None,
    )


def _to_order(row: OrderRow) -> Order:
    """Builds the aggregate from its row, audit lines and clocks."""
    return Order(
        id=row.id,
        reference=row.reference,
        number=row.number,
        status=OrderStatus(row.status),
        resume_status=OrderStatus(row.resume_status) if row.resume_status else None,
        exception_type=ExceptionType(row.exception_type) if row.exception_type else None,
        service=Service(row.service),
        channel=Channel(row.channel),
        customer=record_from(Customer, row, "customer_"),
        address=record_from(Address, row, "address_"),
        items=[_item_from_json(item) for item in row.items],
        payment_method=row.payment_method,
        amount=row.amount,
        currency=row.currency,
        paid=row.paid,
        outstanding=row.outstanding,
        changes=changes_from_json(row.changes),
        remarks=row.remarks,
        requirements=_requirements(row),
        urgent=row.urgent,
        entered_by=row.entered_by,
        received_at=row.received_at,
        created_at=row.created_at,
        version=row.version,
        audit=[_audit_event(line) for line in row.audit],
        clocks=[record_from(StageClock, clock) for clock in row.clocks],
        shipment=_shipment_from_json(row.shipment),
    )


@dataclass
class _Tracked:
    """An aggregate of this unit of work, its row, and what the row held when last read or written."""

    order: Order
    row: OrderRow
    columns: dict[str, Any]
    audit_count: int
    # Clocks are matched to rows by identity: the aggregate mutates its clock objects in place.
    clock_rows: list[tuple[StageClock, OrderClockRow]] = field(default_factory=list)


# Order rows with their audit lines and clocks. Built once: a Select is immutable, and building
# this one with its two loader options took about 3 % of a /track (issue 17). The clocks (a few an
# order) come joined to their order's row, the audit trail (dozens) in a second query: one round
# trip fewer than two selectin loads, and a card press a quarter cheaper.
_ORDERS_WITH_TRAIL = select(OrderRow).options(selectinload(OrderRow.audit), joinedload(OrderRow.clocks))
# The loads of one order that every card press and /track run, built once: building the where
# clause anew cost a /track about 3 % of its CPU.
_ORDER_BY_ID = _ORDERS_WITH_TRAIL.where(OrderRow.id == bindparam("order_id"))
_ORDER_BY_KEY = _ORDERS_WITH_TRAIL.where(
    or_(OrderRow.reference == bindparam("key"), OrderRow.number == bindparam("key"))
)


class SqlOrderRepository:
    """Loads order aggregates and writes their changes back with a version check."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._tracked: dict[str, _Tracked] = {}

    async def add(self, order: Order) -> None:
        """Inserts a new order with its audit lines and clocks."""
        row = OrderRow(
            id=order.id,
            **_order_columns(order),
            updated_at=utcnow(),
            version=1,
            audit=[_audit_row(event) for event in order.audit],
            clocks=[OrderClockRow(**columns_of(clock)) for clock in order.clocks],
        )
        self._session.add(row)
        # Flushed now so rows written by plain statements later in the transaction can refer to it.
        await self._session.flush()
        order.version = row.version
        self._tracked[order.id] = _Tracked(
            order,
            row,
            _order_columns(order),
            len(order.audit),
            list(zip(order.clocks, row.clocks, strict=True)),
        )

    async def get(self, order_id: str) -> Order:
        """Loads an order by id or raises OrderNotFound."""
        if order_id in self._tracked:
            return self._tracked[order_id].order
        if has_control(order_id):
            # No stored id holds one, and PostgreSQL refuses a NUL in a query: a forged button's id.
            raise OrderNotFound(order_id)
        orders = await self._load(_ORDER_BY_ID, {"order_id": order_id})
        if not orders:
            raise OrderNotFound(order_id)
        return orders[0]

    async def find(self, reference_or_number: str) -> Order | None:
        """Loads an order by internal reference or formal number, if there is one."""
        key = reference_or_number.strip().upper()
        if has_control(key):
            return None
        orders = await self._load(_ORDER_BY_KEY, {"key": key})
        return orders[0] if orders else None

    async def list_by_status(self, statuses: Iterable[OrderStatus], limit: int = 100) -> list[Order]:
        """Lists orders in any of the statuses, oldest first."""
        values = [OrderStatus(status).value for status in statuses]
        stmt = _ORDERS_WITH_TRAIL.where(OrderRow.status.in_(values))
        return await self._load(stmt.order_by(OrderRow.created_at, OrderRow.id).limit(limit))

    async def list_for_customer(self, telegram_user_id: int, limit: int = 20) -> list[Order]:
        """Lists a customer's orders, newest first."""
        stmt = _ORDERS_WITH_TRAIL.where(OrderRow.customer_telegram_user_id == telegram_user_id).order_by(
            OrderRow.created_at.desc(), OrderRow.id
        )
        return await self._load(stmt.limit(limit))

    async def save_changes(self) -> None:
        """Writes changed aggregates back; raises ConcurrentModification if one was saved meanwhile."""
        changed = [tracked for tracked in self._tracked.values() if self._stage(tracked)]
        if not changed:
            return
        try:
            await self._session.flush()
        except StaleDataError as error:
            raise ConcurrentModification("the order was changed by someone else; reload and retry") from error
        for tracked in changed:
            tracked.order.version = tracked.row.version
            tracked.columns = _order_columns(tracked.order)
            tracked.audit_count = len(tracked.order.audit)

    def forget(self) -> None:
        """Drops every tracked aggregate (after a rollback their rows no longer hold)."""
        self._tracked.clear()

    async def _load(self, stmt: Select[OrderRow], params: Mapping[str, Any] | None = None) -> list[Order]:
        """Runs the select and returns tracked aggregates, one object per order in this unit of work."""
        # unique(): the joined clocks repeat their order's row once per clock.
        rows = (await self._session.scalars(stmt, params)).unique().all()
        orders = []
        for row in rows:
            tracked = self._tracked.get(row.id)
            if tracked is None:
                order = _to_order(row)
                tracked = _Tracked(
                    order,
                    row,
                    _order_columns(order),
                    len(order.audit),
                    list(zip(order.clocks, row.clocks, strict=True)),
                )
                self._tracked[row.id] = tracked
            orders.append(tracked.order)
        return orders

    def _stage(self, tracked: _Tracked) -> bool:
        """Puts an aggregate's changes on its rows; returns whether there were any."""
        order, row = tracked.order, tracked.row
        changed = False
        columns = _order_columns(order)
        for name, value in columns.items():
            if tracked.columns[name] != value:
                setattr(row, name, value)
                changed = True
        if len(order.audit) < tracked.audit_count:
            raise ValueError(f"audit lines of order {order.id} were removed; the trail is append-only")
        for event in order.audit[tracked.audit_count :]:
            row.audit.append(_audit_row(event))
            changed = True
        changed = self._stage_clocks(tracked) or changed
        if changed:
            row.updated_at = utcnow()
            row.version = row.version + 1
        return changed

    @staticmethod
    def _stage_clocks(tracked: _Tracked) -> bool:
        """Puts new, changed and removed clocks on the rows; returns whether there were any."""
        known = {id(clock): clock_row for clock, clock_row in tracked.clock_rows}
        current = {id(clock) for clock in tracked.order.clocks}
        changed = False
        for clock, clock_row in tracked.clock_rows:
            if id(clock) not in current:
                tracked.row.clocks.remove(clock_row)
                changed = True
        pairs = []
        for clock in tracked.order.clocks:
            values = columns_of(clock)
            stored = known.get(id(clock))
            if stored is None:
                stored = OrderClockRow(**values)
                tracked.row.clocks.append(stored)
                changed = True
            else:
                for name, value in values.items():
                    if getattr(stored, name) != value:
                        setattr(stored, name, value)
                        changed = True
            pairs.append((clock, stored))
        tracked.clock_rows = pairs
        return changed


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
