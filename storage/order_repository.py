"""The order repository: order aggregates loaded and written back with a version check.

How an order is saved: the order repository remembers every aggregate it loads or adds in its
unit of work, together with its row and a snapshot of the column values it was read with.
`SqlUnitOfWork.commit()` calls `save_changes()`, which writes back only the aggregates that
changed: changed columns, the audit lines appended since loading (the trail is append-only),
new or changed clocks; and it raises the row's `version` by one. The version column is the
mapper's `version_id_col` (set by us, not by a generator), so the UPDATE carries
`WHERE version = <version read>`: if another transaction saved the order in between, no row
matches and the save fails with ConcurrentModification instead of overwriting that change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import ConcurrentModification, OrderNotFound
from domain.orders.model import Address, AuditEvent, Customer, Item, Order, Shipment, StageClock
from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Channel, ExceptionType, OrderStatus, Role, Service
from domain.text import has_control
from storage.change_json import changes_from_json, changes_to_json
from storage.models import OrderAuditRow, OrderClockRow, OrderRow, utcnow
from storage.repositories import columns_of, record_from

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
