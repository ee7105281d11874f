"""What intake writes into an order's audit trail and reads back: corrections and second-review flags."""

from __future__ import annotations

from domain.intake.errors import FieldError
from domain.orders.model import Address, Item, Order
from domain.orders.special import Requirements

SECOND_REVIEW_ACTION = "needs_second_review"


def flag_note(flag: FieldError) -> str:
    """Words one second-review flag: where, what matched, and the category id."""
    return f"{flag.field} '{flag.params.get('matched', '')}' ({flag.params.get('category', '')})"


def changes(before: Order, after: Order) -> list[str]:
    """Words what a correction changes, one part each, e.g. 'service: air_freight → sea_freight'."""
    parts = [
        ("name", before.customer.name, after.customer.name),
        ("phone", before.customer.phone, after.customer.phone),
        ("email", before.customer.email, after.customer.email),
        ("address", address_text(before.address), address_text(after.address)),
        ("goods", goods_text(before.items), goods_text(after.items)),
        ("service", before.service.value, after.service.value),
        ("payment method", before.payment_method, after.payment_method),
        ("remarks", before.remarks, after.remarks),
        ("customer type", _kind(before.customer.business), _kind(after.customer.business)),
        ("requirements", requirements_text(before.requirements), requirements_text(after.requirements)),
        ("amount", f"{before.amount:.2f} {before.currency}", f"{after.amount:.2f} {after.currency}"),
    ]
    return [f"{name}: {old or '-'} → {new or '-'}" for name, old, new in parts if old != new]


def address_text(address: Address) -> str:
    """The address on one line, for the audit trail."""
    parts = (address.street, address.city, address.postcode, address.area, address.country)
    return ", ".join(part for part in parts if part)


def goods_text(items: list[Item]) -> str:
    """The goods lines on one line, for the audit trail (numbers normalized so equal values read equal)."""
    return "; ".join(
        f"{item.name} × {item.quantity}, {item.weight_kg.normalize():f} kg, {item.declared_value:.2f}"
        + (f", SKU {item.sku}" if item.sku else "")
        + (", fragile" if item.fragile else "")
        + (f", HS {item.hs_code}" if item.hs_code else "")
        + (f", {item.length_cm}x{item.width_cm}x{item.height_cm} cm" if item.length_cm else "")
        for item in items
    )


def second_review_notes(order: Order) -> list[str]:
    """Lists the second-review flags intake recorded on the order (R-3.2), for the review step."""
    return [event.note for event in order.audit if event.action == SECOND_REVIEW_ACTION]


def needs_second_review(order: Order) -> bool:
    """Whether intake found goods allowed only after a second review (e.g. lithium batteries)."""
    return bool(second_review_notes(order))


def _kind(business: bool) -> str:
    """Names the customer type, for the audit trail."""
    return "business" if business else "individual"


def requirements_text(requirements: Requirements) -> str:
    """The special requests, delivery date and special services on one line, for the audit trail."""
    parts = [f"{request.kind.value}: {request.note}" for request in requirements.special_requests]
    if requirements.delivery_by is not None:
        parts.append(f"deliver by {requirements.delivery_by.isoformat()}")
    parts += sorted(service.value for service in requirements.special_services)
    return "; ".join(parts)
