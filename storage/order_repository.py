"""The order repository: order aggregates read and written with plain Core statements.

How an order is saved: the order repository remembers every aggregate it loads or adds in its
unit of work, together with a snapshot of the column values its rows were read with (and the row
id of each clock). `SqlUnitOfWork.commit()` calls `save_changes()`, which writes back only the
aggregates that changed: changed columns, the audit lines appended since loading (the trail is
append-only), new, changed or removed clocks; and it raises the row's `version` by one. The
UPDATE of the orders row carries `WHERE version = <version read>`: if another transaction saved
the order in between, no row matches and the save fails with ConcurrentModification, having
written nothing, instead of overwriting that change.

The statements run on the session's connection without the ORM (issue 17): loading OrderRow
through the ORM (identity map, loader strategies, row processing) cost about 2 ms of CPU per
order on PostgreSQL. The table columns carry the same types, so values are stored and read alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Executable,
    Row,
    Select,
    bindparam,
    delete,
    insert,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConcurrentModification, OrderNotFound
from domain.orders.model import Address, AuditEvent, Customer, Item, Order, Shipment, StageClock
from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Channel, ExceptionType, OrderStatus, Role, Service
from domain.text import has_control
from storage.change_json import changes_from_json, changes_to_json
from storage.direct import DirectStatement, run_direct
from storage.models import OrderAuditRow, OrderClockRow, OrderRow, utcnow
from storage.repositories import columns_of, table_of

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


def _requirements(row: Row[Any]) -> Requirements:
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


# The statements, built once (issue 17): building a statement costs more than SQLAlchemy's
# compiled-SQL cache saves when it is built anew per call.
_ORDERS, _CLOCKS, _AUDIT = table_of(OrderRow), table_of(OrderClockRow), table_of(OrderAuditRow)
# The records of an order's row and trail are built from slices of the rows read (issue 17: reading
# each field by name took a quarter of building an order), so the selects below list their columns
# in the order of the records' fields.
_CUSTOMER_COLUMNS = tuple(_ORDERS.c["customer_" + f.name] for f in fields(Customer) if f.init)
_ADDRESS_COLUMNS = tuple(_ORDERS.c["address_" + f.name] for f in fields(Address) if f.init)
_CUSTOMER_VALUES = slice(0, len(_CUSTOMER_COLUMNS))
_ADDRESS_VALUES = slice(_CUSTOMER_VALUES.stop, _CUSTOMER_VALUES.stop + len(_ADDRESS_COLUMNS))
_CLOCK_FIELDS = tuple(f.name for f in fields(StageClock) if f.init)
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.init)
# A row of the trail: order_id, kind, id, then the clock's fields, then the audit line's.
_CLOCK_VALUES = slice(3, 3 + len(_CLOCK_FIELDS))
_AUDIT_VALUES = slice(_CLOCK_VALUES.stop, _CLOCK_VALUES.stop + len(_AUDIT_FIELDS))
# The columns an aggregate is built from, the customer's and the address's first; updated_at is the
# row's own bookkeeping.
_LEADING = {column.name for column in _CUSTOMER_COLUMNS + _ADDRESS_COLUMNS}
_ORDER = select(
    *_CUSTOMER_COLUMNS,
    *_ADDRESS_COLUMNS,
    *(column for column in _ORDERS.c if column.name not in _LEADING and column.name != "updated_at"),
)
_ORDER_BY_ID = _ORDER.where(_ORDERS.c.id == bindparam("order_id"))
_ORDER_BY_KEY = _ORDER.where(
    or_(_ORDERS.c.reference == bindparam("key"), _ORDERS.c.number == bindparam("key"))
)
_ORDERS_BY_STATUS = (
    _ORDER.where(_ORDERS.c.status.in_(bindparam("statuses", expanding=True)))
    .order_by(_ORDERS.c.created_at, _ORDERS.c.id)
    .limit(bindparam("limit"))
)
_ORDERS_OF_CUSTOMER = (
    _ORDER.where(_ORDERS.c.customer_telegram_user_id == bindparam("customer"))
    .order_by(_ORDERS.c.created_at.desc(), _ORDERS.c.id)
    .limit(bindparam("limit"))
)
# The kind of a row of the trail.
_CLOCK, _AUDIT_LINE = 0, 1


def _trail_of(orders: Callable[[Column[str]], ColumnElement[bool]]) -> CompoundSelect[Any]:
    """The clocks, then the audit lines, of the orders picked by the condition on an order_id column, by id.

    One statement for both (one round trip): each row has the columns of both tables, NULL for
    the other's, typed as the other table's columns so that their values are read alike.
    """
    clocks = [_CLOCKS.c[name] for name in _CLOCK_FIELDS]
    audit = [_AUDIT.c[name] for name in _AUDIT_FIELDS]
    trail = union_all(
        select(
            _CLOCKS.c.order_id,
            literal_column(str(_CLOCK)).label("kind"),
            _CLOCKS.c.id,
            *clocks,
            *(type_coerce(null(), column.type).label(column.name) for column in audit),
        ).where(orders(_CLOCKS.c.order_id)),
        select(
            _AUDIT.c.order_id,
            literal_column(str(_AUDIT_LINE)),
            _AUDIT.c.id,
            *(type_coerce(null(), column.type) for column in clocks),
            *audit,
        ).where(orders(_AUDIT.c.order_id)),
    )
    return trail.order_by(trail.selected_columns.kind, trail.selected_columns.id)


_TRAIL_OF_ORDER = _trail_of(lambda order_id: order_id == bindparam("order_id"))
_TRAIL_OF_ORDERS = _trail_of(lambda order_id: order_id.in_(bindparam("order_ids", expanding=True)))
# The loads of one order, which most updates make: straight on the SQLite connection (storage.direct).
_DIRECT: dict[Executable, DirectStatement] = {
    statement: DirectStatement(statement) for statement in (_ORDER_BY_ID, _ORDER_BY_KEY, _TRAIL_OF_ORDER)
}
_INSERT_ORDER = insert(_ORDERS)
_INSERT_AUDIT = insert(_AUDIT)
# The ids come back in the order of the rows given: the aggregate's clocks are matched to them.
_INSERT_CLOCKS = insert(_CLOCKS).returning(_CLOCKS.c.id, sort_by_parameter_order=True)
# The SET clause holds the columns given with the statement: the changed ones, version, updated_at.
_UPDATE_ORDER = update(_ORDERS).where(
    _ORDERS.c.id == bindparam("order_id"), _ORDERS.c.version == bindparam("read_version")
)
_UPDATE_CLOCK = update(_CLOCKS).where(_CLOCKS.c.id == bindparam("clock_id"))
_DELETE_CLOCKS = delete(_CLOCKS).where(_CLOCKS.c.id.in_(bindparam("clock_ids", expanding=True)))


def _audit_values(order_id: str, event: AuditEvent) -> dict[str, Any]:
    """The order_audit row of one audit line."""
    return columns_of(
        event,
        order_id=order_id,
        actor_role=event.actor_role.value,
        from_status=event.from_status.value if event.from_status else None,
        to_status=event.to_status.value if event.to_status else None,
    )


def _audit_event(line: Row[Any]) -> AuditEvent:
    """Reads one audit line back from a row of the trail."""
    values = dict(zip(_AUDIT_FIELDS, line[_AUDIT_VALUES], strict=True))
    return AuditEvent(
        **values
        | {
            "actor_role": Role(values["actor_role"]),
            "from_status": OrderStatus(values["from_status"]) if values["from_status"] else None,
            "to_status": OrderStatus(values["to_status"]) if values["to_status"] else None,
        }
    )


def _to_order(row: Row[Any], audit: Iterable[Row[Any]], clocks: Iterable[Row[Any]]) -> Order:
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
        customer=Customer(*row[_CUSTOMER_VALUES]),
        address=Address(*row[_ADDRESS_VALUES]),
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
        audit=[_audit_event(line) for line in audit],
        clocks=[StageClock(*line[_CLOCK_VALUES]) for line in clocks],
        shipment=_shipment_from_json(row.shipment),
    )


@dataclass
class _StoredClock:
    """A clock of a tracked aggregate, the id of its row, and the values that row holds."""

    clock: StageClock
    id: int
    values: dict[str, Any]


@dataclass
class _Tracked:
    """An aggregate of this unit of work, and what its rows held when last read or written."""

    order: Order
    version: int
    columns: dict[str, Any]
    audit_count: int
    # Clocks are matched to rows by identity: the aggregate mutates its clock objects in place.
    clocks: list[_StoredClock]


@dataclass
class _Changes:
    """What saving one tracked aggregate writes."""

    tracked: _Tracked
    # Every column's value now, and those of them that differ from the row.
    current: dict[str, Any]
    columns: dict[str, Any]
    audit: list[dict[str, Any]]
    # Every clock with its values now, in the aggregate's order.
    clocks: list[tuple[StageClock, dict[str, Any]]]
    removed_clocks: list[int]
    # Changed column values by clock row id, and the clocks that have no row yet.
    changed_clocks: list[tuple[int, dict[str, Any]]]
    added_clocks: list[StageClock]
    added_clock_ids: list[int] = field(default_factory=list)


class SqlOrderRepository:
    """Loads order aggregates and writes their changes back with a version check."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._tracked: dict[str, _Tracked] = {}

    async def add(self, order: Order) -> None:
        """Inserts a new order with its audit lines and clocks."""
        columns = _order_columns(order)
        # Written now, not at commit, so rows written by plain statements later in the transaction
        # can refer to it.
        await self._session.execute(
            _INSERT_ORDER, {"id": order.id, **columns, "updated_at": utcnow(), "version": 1}
        )
        if order.audit:
            await self._session.execute(
                _INSERT_AUDIT, [_audit_values(order.id, event) for event in order.audit]
            )
        clock_ids = await self._insert_clocks(order.id, order.clocks)
        order.version = 1
        self._tracked[order.id] = _Tracked(
            order,
            1,
            columns,
            len(order.audit),
            [
                _StoredClock(clock, clock_id, columns_of(clock))
                for clock, clock_id in zip(order.clocks, clock_ids, strict=True)
            ],
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
        return await self._load(_ORDERS_BY_STATUS, {"statuses": values, "limit": limit})

    async def list_for_customer(self, telegram_user_id: int, limit: int = 20) -> list[Order]:
        """Lists a customer's orders, newest first."""
        return await self._load(_ORDERS_OF_CUSTOMER, {"customer": telegram_user_id, "limit": limit})

    async def save_changes(self) -> None:
        """Writes changed aggregates back; raises ConcurrentModification if one was saved meanwhile."""
        changed = [changes for tracked in self._tracked.values() if (changes := _changes_of(tracked))]
        if not changed:
            return
        if len(changed) == 1:
            await self._write(changed[0])
        else:
            # A lost race on a later aggregate must not leave the earlier ones written.
            async with self._session.begin_nested():
                for changes in changed:
                    await self._write(changes)
        for changes in changed:
            _saved(changes)

    def forget(self) -> None:
        """Drops every tracked aggregate (after a rollback their rows no longer hold)."""
        self._tracked.clear()

    async def _load(self, stmt: Select[Any], params: Mapping[str, Any]) -> list[Order]:
        """Runs a select of order rows; returns their aggregates, one object per order in the unit of work."""
        rows = await self._select(stmt, params)
        new = [row for row in rows if row.id not in self._tracked]
        if new:
            await self._track(new)
        return [self._tracked[row.id].order for row in rows]

    async def _track(self, rows: list[Row[Any]]) -> None:
        """Reads the clocks and audit lines of new order rows and tracks the aggregates built from them."""
        if len(rows) == 1:
            trail = await self._select(_TRAIL_OF_ORDER, {"order_id": rows[0].id})
        else:
            trail = await self._select(_TRAIL_OF_ORDERS, {"order_ids": [row.id for row in rows]})
        clocks: dict[str, list[Row[Any]]] = defaultdict(list)
        audit: dict[str, list[Row[Any]]] = defaultdict(list)
        for line in trail:
            (clocks if line.kind == _CLOCK else audit)[line.order_id].append(line)
        for row in rows:
            order = _to_order(row, audit[row.id], clocks[row.id])
            stored = [
                _StoredClock(clock, line.id, columns_of(clock))
                for clock, line in zip(order.clocks, clocks[row.id], strict=True)
            ]
            self._tracked[row.id] = _Tracked(
                order, row.version, _order_columns(order), len(order.audit), stored
            )

    async def _select(self, stmt: Executable, params: Mapping[str, Any]) -> Sequence[Any]:
        """Runs a select, directly on the SQLite connection when it is one of the single-order loads."""
        direct = _DIRECT.get(stmt)
        if direct is not None:
            return await run_direct(self._session, direct, params)
        return (await self._session.execute(stmt, params)).all()

    async def _insert_clocks(self, order_id: str, clocks: list[StageClock]) -> list[int]:
        """Inserts clocks of an order; returns their row ids, in the same order."""
        if not clocks:
            return []
        result = await self._session.execute(
            _INSERT_CLOCKS, [columns_of(clock, order_id=order_id) for clock in clocks]
        )
        return list(result.scalars())

    async def _write(self, changes: _Changes) -> None:
        """Writes one aggregate's changes, the orders row first and only if it still has the version read."""
        tracked = changes.tracked
        order_id = tracked.order.id
        params = {
            "order_id": order_id,
            "read_version": tracked.version,
            **changes.columns,
            "version": tracked.version + 1,
            "updated_at": utcnow(),
        }
        result = await self._session.execute(_UPDATE_ORDER, params)
        if getattr(result, "rowcount", 0) != 1:
            raise ConcurrentModification("the order was changed by someone else; reload and retry")
        if changes.audit:
            await self._session.execute(_INSERT_AUDIT, changes.audit)
        if changes.removed_clocks:
            await self._session.execute(_DELETE_CLOCKS, {"clock_ids": changes.removed_clocks})
        for clock_id, values in changes.changed_clocks:
            await self._session.execute(_UPDATE_CLOCK, {"clock_id": clock_id, **values})
        changes.added_clock_ids = await self._insert_clocks(order_id, changes.added_clocks)


def _changes_of(tracked: _Tracked) -> _Changes | None:
    """What the aggregate changed since its rows were read or written; None if nothing."""
    order = tracked.order
    current = _order_columns(order)
    columns = {name: value for name, value in current.items() if tracked.columns[name] != value}
    if len(order.audit) < tracked.audit_count:
        raise ValueError(f"audit lines of order {order.id} were removed; the trail is append-only")
    audit = [_audit_values(order.id, event) for event in order.audit[tracked.audit_count :]]
    stored = {id(known.clock): known for known in tracked.clocks}
    kept = {id(clock) for clock in order.clocks}
    removed = [known.id for known in tracked.clocks if id(known.clock) not in kept]
    clocks = [(clock, columns_of(clock)) for clock in order.clocks]
    changed_clocks, added = [], []
    for clock, now in clocks:
        known = stored.get(id(clock))
        if known is None:
            added.append(clock)
            continue
        values = {name: value for name, value in now.items() if known.values[name] != value}
        if values:
            changed_clocks.append((known.id, values))
    if not (columns or audit or removed or changed_clocks or added):
        return None
    return _Changes(tracked, current, columns, audit, clocks, removed, changed_clocks, added)


def _saved(changes: _Changes) -> None:
    """Makes the tracked aggregate's snapshot what its rows hold now that its changes are written."""
    tracked = changes.tracked
    tracked.version += 1
    tracked.order.version = tracked.version
    tracked.columns = changes.current
    tracked.audit_count += len(changes.audit)
    ids = {id(known.clock): known.id for known in tracked.clocks}
    ids.update(zip(map(id, changes.added_clocks), changes.added_clock_ids, strict=True))
    tracked.clocks = [_StoredClock(clock, ids[id(clock)], values) for clock, values in changes.clocks]
