"""The order aggregate: data, status changes through the transition table, and its audit trail."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from domain.errors import DomainError, NotPermitted
from domain.orders.change_record import ChangeRecord
from domain.orders.events import Event, OrderStatusChanged
from domain.orders.responsibilities import require
from domain.orders.special import Requirements
from domain.orders.status import (
    INTERRUPTIONS,
    Action,
    Channel,
    ExceptionType,
    OrderStatus,
    Role,
    Service,
    next_status,
    rule_for,
)

# Crockford-style alphabet: no I, L, O, U so references read back unambiguously over the phone.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """Makes an internal reference (e.g. R-7K3F9P2Q) quotable before the order has a number."""
    return "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


@dataclass
class Customer:
    """Who ordered, and how to reach them (R-1.2)."""

    name: str
    phone: str | None = None
    email: str | None = None
    telegram_user_id: int | None = None
    language: str = "en"
    # A business (seller, brand) rather than an individual: some destinations want HS codes then.
    business: bool = False


@dataclass
class Address:
    """Delivery address (R-1.2, R-2.1)."""

    country: str
    city: str
    street: str
    postcode: str | None = None
    area: str | None = None


@dataclass
class Item:
    """One line of goods: what pricing and screening need (R-1.2, R-2.2)."""

    name: str
    quantity: int
    weight_kg: Decimal
    declared_value: Decimal
    sku: str | None = None
    fragile: bool = False
    # For the customs declaration, digits only.
    hs_code: str | None = None
    # One piece's size, for volumetric pricing and the oversize rule (all three or none).
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One line of the order's trail: who did what, when, and the result (R-P traceability)."""

    at: datetime
    actor_id: int | None
    actor_role: Role
    action: str
    from_status: OrderStatus | None
    to_status: OrderStatus | None
    note: str = ""


@dataclass
class StageClock:
    """One SLA clock: a stage entered, its due time, and whether it was met."""

    stage: str
    started_at: datetime
    due_at: datetime
    finished_at: datetime | None = None
    met: bool | None = None
    paused_at: datetime | None = None

    @property
    def running(self) -> bool:
        """Whether the stage is still open."""
        return self.finished_at is None


@dataclass
class Shipment:
    """What the warehouse and logistics recorded while executing the order (R-4), step by step."""

    # Picking: counted quantity per item key (SKU, else the item's name); fragile items labelled.
    picked: dict[str, int] = field(default_factory=dict)
    fragile_labelled: list[str] = field(default_factory=list)
    picked_at: datetime | None = None
    picked_by: int | None = None
    # Outbound scan: who scanned, when, and the outbound note document.
    outbound_operator: str | None = None
    outbound_operator_id: int | None = None
    outbound_at: datetime | None = None
    outbound_note_id: int | None = None
    # Booking.
    carrier: str | None = None
    waybill: str | None = None
    etd: datetime | None = None
    customs_declaration: str | None = None
    booked_at: datetime | None = None
    departed_at: datetime | None = None
    # Arrival and clearance.
    destination: str | None = None
    arrived_at: datetime | None = None
    clearance_result: str | None = None
    cleared_at: datetime | None = None
    hold_reason: str | None = None
    held_at: datetime | None = None
    # Last mile.
    courier_name: str | None = None
    courier_phone: str | None = None
    eta: datetime | None = None
    out_for_delivery_at: datetime | None = None
    signed_by: str | None = None
    proof_photo: str | None = None
    delivered_at: datetime | None = None
    receipt_confirmed_at: datetime | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing has been recorded yet."""
        return self == Shipment()


@dataclass
class Order:
    """The order aggregate; status changes only through apply()."""

    id: str
    reference: str
    customer: Customer
    address: Address
    items: list[Item]
    service: Service
    payment_method: str
    amount: Decimal
    currency: str
    channel: Channel
    created_at: datetime
    status: OrderStatus = OrderStatus.SUBMITTED
    number: str | None = None
    paid: bool = False
    remarks: str = ""
    urgent: bool = False
    entered_by: int | None = None
    received_at: datetime | None = None
    resume_status: OrderStatus | None = None
    exception_type: ExceptionType | None = None
    requirements: Requirements = field(default_factory=Requirements)
    # What is still to pay after a price rise of a paid order; None: the whole amount while unpaid.
    outstanding: Decimal | None = None
    # The changes asked of the placed order and their outcome (R-6.2, domain/orders/changes.py).
    changes: list[ChangeRecord] = field(default_factory=list)
    version: int = 0
    audit: list[AuditEvent] = field(default_factory=list)
    clocks: list[StageClock] = field(default_factory=list)
    shipment: Shipment = field(default_factory=Shipment)
    events: list[Event] = field(default_factory=list)

    def apply(
        self,
        action: Action,
        *,
        actor_id: int | None,
        roles: frozenset[Role],
        now: datetime,
        note: str = "",
        exception_type: ExceptionType | None = None,
    ) -> OrderStatus:
        """Performs an action through the transition table and records it; raises if not allowed."""
        role = require(roles, action)
        rule = rule_for(self.status, action, self.service)
        target = next_status(self.status, action, self.service, self.resume_status)
        exception_type = exception_type or rule.exception
        if target is OrderStatus.EXCEPTION and exception_type is None:
            raise DomainError("an exception needs its type")
        previous = self.status
        if target in INTERRUPTIONS and previous not in INTERRUPTIONS:
            self.resume_status = previous
        elif target not in INTERRUPTIONS:
            self.resume_status = None
        if exception_type is not None:
            self.exception_type = exception_type
        elif target not in INTERRUPTIONS and target is not OrderStatus.CANCELLED:
            self.exception_type = None
        self.status = target
        self.audit.append(AuditEvent(now, actor_id, role, action.value, previous, target, note))
        self.record(OrderStatusChanged(self.event_id(), self.id, now, action, previous, target, actor_id))
        return target

    def revise(
        self,
        *,
        customer: Customer,
        address: Address,
        items: list[Item],
        service: Service,
        payment_method: str,
        amount: Decimal,
        currency: str,
        remarks: str,
        requirements: Requirements | None = None,
    ) -> list[str]:
        """Replaces the details the customer may correct before validation; returns the names that changed."""
        if self.status not in (OrderStatus.SUBMITTED, OrderStatus.VALIDATION_FAILED):
            raise DomainError(f"order {self.display_id} cannot be changed in status {self.status.value}")
        details = {
            "customer": customer,
            "address": address,
            "items": items,
            "service": service,
            "payment_method": payment_method,
            "amount": amount,
            "currency": currency,
            "remarks": remarks,
            "requirements": self.requirements if requirements is None else requirements,
        }
        changed = [name for name, value in details.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, details[name])
        return changed

    def assign_number(self, number: str, *, now: datetime) -> None:
        """Gives a confirmed order its formal number (R-3.3); a number is never replaced."""
        if self.number is not None:
            raise DomainError(f"order already has number {self.number}")
        self.number = number
        self.audit.append(
            AuditEvent(now, None, Role.SYSTEM, "assign_number", self.status, self.status, number)
        )

    def note(
        self, text: str, *, actor_id: int | None, role: Role, now: datetime, action: str = "note"
    ) -> None:
        """Records something that happened without a status change (e.g. a question to the customer)."""
        self.audit.append(AuditEvent(now, actor_id, role, action, self.status, self.status, text))

    def require_customer(self, user_id: int, action: str) -> None:
        """Refuses the action unless the user is the order's customer (a customer acts on their own only)."""
        if self.customer.telegram_user_id != user_id:
            raise NotPermitted(action, frozenset({Role.CUSTOMER}))

    def open_clock(self, stage: str, *, started_at: datetime, due_at: datetime) -> StageClock:
        """Starts the SLA clock of a stage."""
        clock = StageClock(stage, started_at, due_at)
        self.clocks.append(clock)
        return clock

    def close_clock(
        self, stage: str, *, now: datetime, started_at: datetime | None = None
    ) -> StageClock | None:
        """Stops the running clock of a stage (the one started at started_at, if given) and judges it."""
        for clock in self.clocks:
            if clock.stage == stage and clock.running and started_at in (None, clock.started_at):
                clock.finished_at = now
                # Time spent paused (waiting for the customer) does not count against the stage.
                judged_at = clock.paused_at or now
                clock.met = judged_at <= clock.due_at
                return clock
        return None

    @property
    def display_id(self) -> str:
        """The number once confirmed, the internal reference before."""
        return self.number or self.reference

    @property
    def total_weight_kg(self) -> Decimal:
        """Sum of item weights times quantities."""
        return sum((item.weight_kg * item.quantity for item in self.items), Decimal(0))

    def event_id(self) -> str:
        """The id of an event about the latest audit line: stable for one change, unique per order."""
        return f"{self.id}:{len(self.audit) - 1}"

    def record(self, event: Event) -> None:
        """Keeps a domain event for the use case to hand on when it commits."""
        self.events.append(event)

    def pull_events(self) -> list[Event]:
        """Hands the recorded events to the service layer and forgets them."""
        events, self.events = self.events, []
        return events
