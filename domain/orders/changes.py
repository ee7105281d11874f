"""Changes to a placed order (R-6.2): the rules of the change matrix applied to one order.

Which change each status offers is data (domain/data/order_requests.toml, domain/orders/requests.py).
An address or contact change is checked with the intake rules when it is asked for and waits for
the order desk, which applies it with one press within the hour (the `modification` clock); a
service change is re-quoted and applied at once with the customer's consent to the new price, and
the order goes back through first review (Action.REQUOTE). An address change that moves the order
to another tariff zone is re-quoted and goes back through first review the same way. Every change
is kept on the order (Order.changes: old and new values, who, when, the customer's consent) and
written on its trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.errors import DomainError
from domain.intake.pricing import load_tariff, quote, to_cents
from domain.orders.change_record import ChangeRecord, ChangeStatus, Consent
from domain.orders.events import Event
from domain.orders.model import Address, AuditEvent, Order
from domain.orders.requests import ChangeRefusal, OrderRequestKind, change_refusal
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, OrderStatus, Role, Service

K = OrderRequestKind
ADDRESS_FIELDS = ("country", "city", "street", "postcode", "area")
CONTACT_FIELDS = ("phone", "email")


@dataclass(frozen=True)
class ChangeRequested(Event):
    """A change waits for the order desk (address or contact)."""

    number: int


@dataclass(frozen=True)
class ChangeApplied(Event):
    """A change was applied; requoted says the order went back through first review with a new price."""

    number: int
    requoted: bool
    # The status the order was in before the change (the warehouse is told when it had the order).
    from_status: OrderStatus


@dataclass(frozen=True)
class ChangeRefusedLate(Event):
    """A waiting change could not be applied any more: the order moved on before the desk pressed."""

    number: int


class ChangeRefused(DomainError):
    """The change is not possible now; `since` is the trail line that made it so (who and when)."""

    def __init__(self, order: Order, reason: ChangeRefusal, since: AuditEvent | None) -> None:
        self.order = order
        self.reason = reason
        self.since = since
        super().__init__(f"order {order.display_id} cannot be changed: {reason.value}")


class ChangeAlreadyDecided(DomainError):
    """The change was applied or refused already (a second press, a stale button)."""

    def __init__(self, record: ChangeRecord) -> None:
        self.record = record
        super().__init__(f"change {record.number} is {record.status.value} already")


class NothingChanged(DomainError):
    """The new values are the ones the order has."""


class QuoteChanged(DomainError):
    """The price the customer agreed to is not the price now; they are shown the new one."""


@dataclass(frozen=True)
class PriceChange:
    """A re-quote: the amount before and after, and what the customer pays now or gets back."""

    before: Decimal
    after: Decimal
    to_pay: Decimal
    to_refund: Decimal


def address_values(address: Address) -> dict[str, str]:
    """The address as the change keeps it (empty text for a missing part)."""
    return {name: getattr(address, name) or "" for name in ADDRESS_FIELDS}


def contact_values(order: Order) -> dict[str, str]:
    """The customer's phone and email as the change keeps them."""
    return {"phone": order.customer.phone or "", "email": order.customer.email or ""}


def current_values(order: Order, kind: OrderRequestKind) -> dict[str, str]:
    """What the order holds now for the field a change is about."""
    if kind is K.ADDRESS:
        return address_values(order.address)
    if kind is K.CONTACT:
        return contact_values(order)
    return {"service": order.service.value}


def reached_at(order: Order) -> AuditEvent | None:
    """The trail line that brought the order into its current status (who and when)."""
    return next(
        (
            line
            for line in reversed(order.audit)
            if line.to_status is order.status and line.from_status is not order.status
        ),
        None,
    )


def refusal_for(order: Order, kind: OrderRequestKind) -> ChangeRefusal | None:
    """Why the order cannot take this change now, or None if it can (the matrix, then a waiting one)."""
    reason = change_refusal(kind, order.status)
    if reason is not None:
        return reason
    if any(record.kind == kind.value and record.status is ChangeStatus.PENDING for record in order.changes):
        return ChangeRefusal.ALREADY_WAITING
    return None


def check_allowed(order: Order, kind: OrderRequestKind) -> None:
    """Raises ChangeRefused (with who moved the order on, and when) unless the change is possible now."""
    reason = refusal_for(order, kind)
    if reason is not None:
        raise ChangeRefused(order, reason, reached_at(order))


def requoted_amount(order: Order, service: Service, country: str) -> Decimal | None:
    """The order's amount for another service or destination: its amount moved by the tariff's difference.

    Extras priced outside the tariff (special services) stay as they were. None when the tariff
    does not price in the order's currency (customer service quotes it then).
    """
    tariff = load_tariff()
    if tariff.currency != order.currency.upper():
        return None
    try:
        old = quote(order.service, order.address.country, order.items, urgent=order.urgent).amount
        new = quote(service, country, order.items, urgent=order.urgent).amount
    except (KeyError, ValueError):
        return None
    return max(to_cents(order.amount - old + new), Decimal(0))


def paid_so_far(order: Order) -> Decimal:
    """What the customer has paid of the order's amount."""
    if order.outstanding is not None:
        return order.amount - order.outstanding
    return order.amount if order.paid else Decimal(0)


def price_change(order: Order, after: Decimal) -> PriceChange:
    """What a new amount means for the customer: a difference to pay, or one to get back."""
    paid = paid_so_far(order)
    if paid == 0:
        # Nothing paid yet: the new amount is simply what the invoice asks.
        return PriceChange(order.amount, after, Decimal(0), Decimal(0))
    due = after - paid
    return PriceChange(order.amount, after, max(due, Decimal(0)), max(-due, Decimal(0)))


def set_price(order: Order, price: PriceChange) -> None:
    """Gives the order its new amount; a rise on a paid order leaves the difference to pay."""
    paid = paid_so_far(order)
    order.amount = price.after
    if paid == 0:
        order.outstanding = None
        return
    due = price.after - paid
    order.paid = due <= 0
    order.outstanding = due if due > 0 else None


def zone_changes(order: Order, country: str) -> bool:
    """Whether a new destination country falls in another tariff zone."""
    tariff = load_tariff()
    return tariff.zone_for(order.address.country) != tariff.zone_for(country)


def address_price(order: Order, country: str) -> PriceChange | None:
    """The re-quote an address change needs (another zone), None when it needs none.

    Raises ChangeRefused(NO_QUOTE) when the zone changes and the tariff cannot price it.
    """
    if not zone_changes(order, country):
        return None
    amount = requoted_amount(order, order.service, country)
    if amount is None:
        raise ChangeRefused(order, ChangeRefusal.NO_QUOTE, None)
    return price_change(order, amount)


def service_price(order: Order, service: Service) -> PriceChange:
    """The re-quote of a service change; raises ChangeRefused or NothingChanged when there is none."""
    check_allowed(order, K.SERVICE)
    if service is order.service:
        raise NothingChanged(f"order {order.display_id} already ships by {service.value}")
    amount = requoted_amount(order, service, order.address.country)
    if amount is None:
        raise ChangeRefused(order, ChangeRefusal.NO_QUOTE, None)
    return price_change(order, amount)


def summary(values: Mapping[str, str]) -> str:
    """The values on one trail line: the parts that are given, in order."""
    return ", ".join(value for value in values.values() if value)


def _trail(
    order: Order, record: ChangeRecord, action: str, actor_id: int | None, role: Role, now: datetime
) -> None:
    """Writes the change on the order's trail with its old and new values."""
    order.note(
        f"{summary(record.old)} → {summary(record.new)}", actor_id=actor_id, role=role, now=now, action=action
    )


def request_change(
    order: Order,
    kind: OrderRequestKind,
    new: Mapping[str, str],
    *,
    actor_id: int | None,
    role: Role,
    consent: Consent,
    consent_note: str,
    now: datetime,
) -> ChangeRecord:
    """Records an address or contact change for the order desk to apply (the values are checked already)."""
    if kind not in (K.ADDRESS, K.CONTACT):
        raise DomainError(f"a {kind.value} change is applied at once, not requested")
    check_allowed(order, kind)
    old = current_values(order, kind)
    values = {name: new.get(name, "") or "" for name in old}
    if values == old:
        raise NothingChanged(f"order {order.display_id} has these {kind.value} details already")
    if kind is K.ADDRESS and zone_changes(order, values["country"]):
        # Refuses now, not when the desk presses, if the new zone cannot be priced.
        address_price(order, values["country"])
    record = ChangeRecord(
        number=len(order.changes) + 1,
        kind=kind.value,
        old=old,
        new=values,
        requested_by=actor_id,
        requested_role=role,
        requested_at=now,
        consent=consent,
        consent_note=consent_note,
    )
    order.changes.append(record)
    _trail(order, record, f"change_{kind.value}_requested", actor_id, role, now)
    order.record(ChangeRequested(order.event_id(), order.id, now, record.number))
    return record


def change_of(order: Order, number: int) -> ChangeRecord:
    """The order's change with this number; raises DomainError for one it does not have."""
    for record in order.changes:
        if record.number == number:
            return record
    raise DomainError(f"order {order.display_id} has no change {number}")


def _decide(record: ChangeRecord, status: ChangeStatus, actor_id: int | None, now: datetime) -> None:
    """Marks the change applied or refused, by whom and when."""
    record.status = status
    record.decided_by = actor_id
    record.decided_at = now


def refuse_late(
    order: Order,
    record: ChangeRecord,
    reason: ChangeRefusal,
    *,
    actor_id: int | None,
    role: Role,
    now: datetime,
) -> None:
    """Closes a waiting change the order moved past (the customer is told the alternative)."""
    _decide(record, ChangeStatus.REFUSED, actor_id, now)
    record.refusal = reason.value
    order.note(reason.value, actor_id=actor_id, role=role, now=now, action=f"change_{record.kind}_refused")
    order.record(ChangeRefusedLate(order.event_id(), order.id, now, record.number))


def apply_change(
    order: Order,
    number: int,
    *,
    actor_id: int,
    roles: frozenset[Role],
    price: PriceChange | None,
    now: datetime,
) -> ChangeRecord:
    """The order desk applies a waiting address or contact change; a new zone sends it back to review.

    A change the order has moved past (outbound scan, cancellation) is refused instead, and the
    ChangeRefused raised after recording it says who moved it on and when. `price` is the re-quote
    of address_price (the caller records a refund before the amount changes).
    """
    role = require(roles, Duty.APPLY_CHANGE)
    record = change_of(order, number)
    if record.status is not ChangeStatus.PENDING:
        raise ChangeAlreadyDecided(record)
    kind = OrderRequestKind(record.kind)
    reason = change_refusal(kind, order.status)
    if reason is not None:
        refuse_late(order, record, reason, actor_id=actor_id, role=role, now=now)
        raise ChangeRefused(order, reason, reached_at(order))
    previous = order.status
    if kind is K.ADDRESS:
        new = record.new
        order.address = Address(
            country=new["country"],
            city=new["city"],
            street=new["street"],
            postcode=new["postcode"] or None,
            area=new["area"] or None,
        )
    else:
        order.customer.phone = record.new["phone"] or None
        order.customer.email = record.new["email"] or None
    _decide(record, ChangeStatus.APPLIED, actor_id, now)
    _trail(order, record, f"change_{kind.value}_applied", actor_id, role, now)
    if price is not None:
        record.amount_before, record.amount_after = price.before, price.after
        set_price(order, price)
        order.apply(Action.REQUOTE, actor_id=actor_id, roles=roles, now=now, note=kind.value)
    order.record(ChangeApplied(order.event_id(), order.id, now, record.number, price is not None, previous))
    return record


def change_service(
    order: Order,
    service: Service,
    price: PriceChange,
    *,
    actor_id: int | None,
    roles: frozenset[Role],
    consent: Consent,
    consent_note: str,
    now: datetime,
) -> ChangeRecord:
    """Applies a service change at its new quote; the order goes back through first review (R-6.2)."""
    check_allowed(order, K.SERVICE)
    if service is order.service:
        raise NothingChanged(f"order {order.display_id} already ships by {service.value}")
    previous = order.status
    record = ChangeRecord(
        number=len(order.changes) + 1,
        kind=K.SERVICE.value,
        old={"service": order.service.value},
        new={"service": service.value},
        requested_by=actor_id,
        requested_role=Role.CUSTOMER if Role.CUSTOMER in roles else require(roles, Action.REQUOTE),
        requested_at=now,
        consent=consent,
        consent_note=consent_note,
        amount_before=price.before,
        amount_after=price.after,
    )
    _decide(record, ChangeStatus.APPLIED, actor_id, now)
    order.changes.append(record)
    order.service = service
    set_price(order, price)
    _trail(order, record, "change_service_applied", actor_id, record.requested_role, now)
    order.apply(Action.REQUOTE, actor_id=actor_id, roles=roles, now=now, note=K.SERVICE.value)
    order.record(ChangeApplied(order.event_id(), order.id, now, record.number, True, previous))
    return record


def last_requote(order: Order) -> ChangeRecord | None:
    """The change that sent the order back to first review, if its latest return to review was one."""
    back = next(
        (line for line in reversed(order.audit) if line.to_status is OrderStatus.PENDING_REVIEW), None
    )
    if back is None or back.action != Action.REQUOTE.value:
        return None
    applied = [record for record in order.changes if record.status is ChangeStatus.APPLIED]
    return applied[-1] if applied else None
