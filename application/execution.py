"""Execution use cases (R-4): each warehouse and logistics step: load the order, ask it, commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.ports import Document, UnitOfWork
from application.services import Actor, EventHandlers, commit_change
from domain.clock import Clock
from domain.execution import (
    ExecutionError,
    carrier_name,
    check_fragile_confirmed,
    check_future,
    check_picked,
    check_step,
    clean_text,
    lengthen_special_clearance,
    normalize_carrier,
    normalize_courier_phone,
    normalize_declaration,
    normalize_waybill,
)
from domain.kpi import ErrorKind
from domain.orders.model import Order, Shipment
from domain.orders.responsibilities import require
from domain.orders.status import Action, ExceptionType, Role
from domain.sla.clocks import SlaContext, apply_clock_events, sync_clocks
from domain.sla.policy import ClockEvent


class OutboundNotes(Protocol):
    """Produces the outbound note with the goods list (R-4.2)."""

    def outbound_note(self, order: Order) -> Document: ...


@dataclass(frozen=True)
class ExecutionSetup:
    """What the execution use cases need besides the unit of work."""

    clock: Clock
    timezone: str
    notes: OutboundNotes
    handlers: EventHandlers = field(default_factory=dict)
    sla: SlaContext | None = None


Record = Callable[[Order, datetime], Awaitable[None]]


async def _nothing(order: Order, now: datetime) -> None:
    """Records no values (a step that is only a press)."""


async def _step(
    uow: UnitOfWork,
    order_id: str,
    action: Action,
    actor: Actor,
    setup: ExecutionSetup,
    record: Record = _nothing,
    *,
    note: str = "",
    exception_type: ExceptionType | None = None,
    owner: int | None = None,
) -> Order:
    """Checks, records, applies one step and commits it with its side effects (owner: the customer's own)."""
    async with uow:
        order = await uow.orders.get(order_id)
        if owner is not None:
            order.require_customer(owner, action)
        check_step(order, action, actor.roles)
        now = setup.clock.now()
        await record(order, now)
        order.apply(
            action,
            actor_id=actor.user_id,
            roles=actor.roles,
            now=now,
            note=note,
            exception_type=exception_type,
        )
        if setup.sla is not None:
            sync_clocks(order, now, setup.sla)
            # Special goods clear on the policy's longer limit.
            lengthen_special_clearance(order, now, setup.sla.policy, setup.sla.calendar)
        await commit_change(order, uow, now, setup.handlers, None)
    return order


async def pick(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    counted: Mapping[str, int],
    setup: ExecutionSetup,
    *,
    fragile_confirmed: bool = False,
) -> Order:
    """Records the picked goods, checked against the order by SKU (by name where none is known), and
    the fragile items the warehouse confirmed as packed separately and labelled (R-4.1)."""

    async def record(order: Order, now: datetime) -> None:
        shipment = order.shipment
        shipment.picked = check_picked(order, counted)
        shipment.fragile_labelled = check_fragile_confirmed(order, fragile_confirmed)
        shipment.picked_at, shipment.picked_by = now, actor.user_id

    note = ", ".join(f"{key} × {quantity}" for key, quantity in counted.items())
    if fragile_confirmed:
        note += "; fragile packed separately and labelled"
    return await _step(uow, order_id, Action.PICK, actor, setup, record, note=note)


# Counts that did not match the order: a picking error against accuracy.
PICK_MISMATCHES = frozenset({"pick.unknown", "pick.missing", "pick.quantity"})


async def record_pick_mismatch(
    uow: UnitOfWork, order_id: str, actor: Actor, error: ExecutionError, setup: ExecutionSetup
) -> None:
    """Records in the trail that the warehouse's count did not match the order; the step stays open."""
    async with uow:
        order = await uow.orders.get(order_id)
        check_step(order, Action.PICK, actor.roles)
        role = require(actor.roles, Action.PICK)
        found = ", ".join(f"{key} {value}" for key, value in sorted(error.params.items()))
        now = setup.clock.now()
        action = ErrorKind.PICK_MISMATCH.value
        order.note(f"{error.code}: {found}", actor_id=actor.user_id, role=role, now=now, action=action)
        await uow.commit()


async def outbound_scan(
    uow: UnitOfWork, order_id: str, actor: Actor, operator: str, setup: ExecutionSetup
) -> Order:
    """Records the outbound scan (operator and time) and produces the outbound note (R-4.2)."""
    name = clean_text(operator, "operator.invalid")

    async def record(order: Order, now: datetime) -> None:
        shipment = order.shipment
        shipment.outbound_operator, shipment.outbound_operator_id, shipment.outbound_at = (
            name,
            actor.user_id,
            now,
        )
        note = setup.notes.outbound_note(order)
        shipment.outbound_note_id = await uow.reviews.save_document(
            order.id, "outbound_note", note.filename, note.content, now
        )

    return await _step(uow, order_id, Action.OUTBOUND_SCAN, actor, setup, record, note=name)


async def book(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    *,
    carrier: str,
    waybill: str,
    etd: datetime,
    declaration: str,
    setup: ExecutionSetup,
) -> Order:
    """Records the booking: carrier, waybill, estimated departure, filed customs declaration (R-4.3)."""
    code = normalize_carrier(carrier)
    number = normalize_waybill(code, waybill)
    filed = normalize_declaration(declaration)

    async def record(order: Order, now: datetime) -> None:
        shipment = order.shipment
        shipment.etd = check_future(etd, setup.timezone, now)
        shipment.carrier, shipment.waybill, shipment.customs_declaration = code, number, filed
        shipment.booked_at = now

    note = f"{carrier_name(code)} {number}, declaration {filed}"
    return await _step(uow, order_id, Action.BOOK, actor, setup, record, note=note)


async def depart(uow: UnitOfWork, order_id: str, actor: Actor, setup: ExecutionSetup) -> Order:
    """Records that the goods left with the carrier."""

    async def record(order: Order, now: datetime) -> None:
        order.shipment.departed_at = now

    return await _step(uow, order_id, Action.DEPART, actor, setup, record)


def _arrived(shipment: Shipment, place: str, now: datetime) -> None:
    """Keeps the destination reached and when."""
    shipment.destination, shipment.arrived_at = place, now


def _cleared(shipment: Shipment, result: str, now: datetime) -> None:
    """Keeps the clearance result and when; a customs hold is over."""
    shipment.clearance_result, shipment.cleared_at = result, now
    shipment.hold_reason = None


def _held(shipment: Shipment, reason: str, now: datetime) -> None:
    """Keeps why customs holds the goods and since when."""
    shipment.hold_reason, shipment.held_at = reason, now


@dataclass(frozen=True)
class TextStep:
    """A step that records one checked free text, which is also its history note, and its time."""

    action: Action
    invalid: str
    keep: Callable[[Shipment, str, datetime], None]

    async def __call__(
        self, uow: UnitOfWork, order_id: str, actor: Actor, text: str, setup: ExecutionSetup
    ) -> Order:
        """Checks the text, records it and applies the step."""
        value = clean_text(text, self.invalid)

        async def record(order: Order, now: datetime) -> None:
            self.keep(order.shipment, value, now)

        return await _step(uow, order_id, self.action, actor, setup, record, note=value)


# The arrival in the destination (the clearance clock starts, R-4.4).
arrive = TextStep(Action.ARRIVE, "destination.invalid", _arrived)
# The clearance result.
clear_customs = TextStep(Action.CLEAR_CUSTOMS, "clearance.invalid", _cleared)
# Customs holds the goods, which opens a customs-hold exception.
hold_by_customs = TextStep(Action.HOLD_AT_CUSTOMS, "hold.invalid", _held)


async def start_last_mile(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    *,
    courier_name: str,
    courier_phone: str,
    eta: datetime,
    setup: ExecutionSetup,
) -> Order:
    """Records the courier's name and phone and the estimated delivery time (R-4.5)."""
    name = clean_text(courier_name, "courier.invalid")

    async def record(order: Order, now: datetime) -> None:
        shipment = order.shipment
        shipment.courier_phone = normalize_courier_phone(courier_phone, order.address.country)
        shipment.eta = check_future(eta, setup.timezone, now)
        shipment.courier_name, shipment.out_for_delivery_at = name, now

    return await _step(uow, order_id, Action.START_LAST_MILE, actor, setup, record, note=name)


async def deliver(
    uow: UnitOfWork,
    order_id: str,
    actor: Actor,
    *,
    signed_by: str,
    proof_photo: str | None,
    setup: ExecutionSetup,
) -> Order:
    """Records the delivery: who signed and, optionally, the proof photo (a Telegram file id)."""
    name = clean_text(signed_by, "signed_by.invalid")

    async def record(order: Order, now: datetime) -> None:
        shipment = order.shipment
        shipment.signed_by, shipment.proof_photo, shipment.delivered_at = name, proof_photo, now

    return await _step(uow, order_id, Action.DELIVER, actor, setup, record, note=name)


async def confirm_receipt(uow: UnitOfWork, order_id: str, customer_id: int, setup: ExecutionSetup) -> Order:
    """The customer confirms receipt of their own delivered order (R-7.1 starts here)."""
    customer = Actor(customer_id, frozenset({Role.CUSTOMER}))

    async def record(order: Order, now: datetime) -> None:
        order.shipment.receipt_confirmed_at = now
        if setup.sla is not None:
            # The receipt starts the completion clock; the completion right after closes it.
            apply_clock_events(order, [ClockEvent.READY_TO_COMPLETE], now, setup.sla)

    return await _step(uow, order_id, Action.CONFIRM_RECEIPT, customer, setup, record, owner=customer_id)
