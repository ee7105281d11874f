"""Order intake on every channel (R-1, R-2): check a draft, price it, and store it as a new order.

`place_order` is the one way an order comes in, from the customer's chat, staff entry of offline
orders and the platform API alike. A draft is checked as a whole (every FieldError at once); an
invalid draft raises InvalidInput and stores nothing. A valid one becomes an Order that is
submitted and passes validation (SUBMITTED -> PENDING_REVIEW) in one transaction, with:

- the submission in the audit trail (who, which channel, and for offline orders when the order was
  received and that the customer confirmed it, R-1.3);
- for offline orders the entry clock (R-1.4: 1 hour after receipt, 30 minutes when urgent, from the
  SLA policy), opened at the time received and closed at entry, and a `late_entry` audit line when
  the limit was missed;
- goods that screening allows only after a second review (R-2.2, R-3.2) as a `needs_second_review`
  audit line; `second_review_flags(order)` reads them back for the review step.

`resubmit_order` lets the customer correct a rejected order and send the same order (same
reference) for review again (R-3.1); the audit trail says what changed.

`place_platform_order` adds what the platform API needs: the order remembers the API key that
created it, and an Idempotency-Key makes a retried request return the same order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.errors import DomainError
from domain.intake.clearance import hs_code_required
from domain.intake.entry import LATE_ENTRY_ACTION
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.goods import (
    DIMENSIONS,
    HS_CODE_DIGITS,
    SKU_MAX,
    Number,
    hs_code_digits,
    identifier_errors,
    read_dimension,
    trimmed,
)
from domain.intake.history import SECOND_REVIEW_ACTION, flag_note, needs_second_review, second_review_notes
from domain.intake.messages import describe
from domain.intake.pricing import Quote, quote
from domain.intake.requirements import SpecialRequestDraft, check_requirements, requirements_of
from domain.intake.validation import (
    check_items,
    check_total,
    normalize_area,
    normalize_city,
    normalize_customer_name,
    normalize_email,
    normalize_item_name,
    normalize_payment_method,
    normalize_phone,
    normalize_postcode,
    normalize_remarks,
    normalize_street,
    parse_country,
    parse_declared_value,
    parse_quantity,
    parse_service,
    parse_weight_kg,
    review_flags,
    validate_order,
)
from domain.orders.model import Address, Customer, Item, Order, new_reference
from domain.orders.status import Action, Channel, Role
from domain.sla.clocks import SlaContext, sync_clocks

# Read by the review step and the API's callers from here, beside the drafts they come from.
__all__ = ["LATE_ENTRY_ACTION", "describe", "needs_second_review", "second_review_notes"]

T = TypeVar("T")

SUBMIT_ACTION = "submit"
SYSTEM = frozenset({Role.SYSTEM})
CUSTOMER = frozenset({Role.CUSTOMER})

EXTERNAL_REF_MAX = 100
LANGUAGE_MAX = 8
# Telegram user ids have at most 52 significant bits (Bot API, User.id).
TELEGRAM_USER_ID_MAX = 2**52 - 1


@dataclass
class CustomerDraft:
    """The customer as entered, not yet checked."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    telegram_user_id: int | None = None
    language: str = "en"
    business: bool = False


@dataclass
class AddressDraft:
    """The delivery address as entered; country is an ISO code or a name (English or Chinese)."""

    country: str | None = None
    city: str | None = None
    street: str | None = None
    postcode: str | None = None
    area: str | None = None


@dataclass
class ItemDraft:
    """One goods line as entered; declared_value is the value of the whole line."""

    name: str | None = None
    quantity: Number = None
    weight_kg: Number = None
    declared_value: Number = None
    sku: str | None = None
    fragile: bool = False
    hs_code: str | None = None
    length_cm: Number = None
    width_cm: Number = None
    height_cm: Number = None


@dataclass
class OrderDraft:
    """Everything an order is made from, on any channel (R-1.2), before it is checked.

    amount None means the customer pays the quote (the chat wizard shows it in the preview);
    an amount given must equal the quote to the cent (R-2.3). entered_by, received_at and
    customer_confirmed are for offline orders (R-1.3, R-1.4); source names who sent a platform
    order (the API key's name).
    """

    customer: CustomerDraft = field(default_factory=CustomerDraft)
    address: AddressDraft = field(default_factory=AddressDraft)
    items: list[ItemDraft] = field(default_factory=list)
    service: str | None = None
    payment_method: str | None = None
    amount: Number = None
    currency: str | None = None
    paid: bool = False
    remarks: str | None = None
    urgent: bool = False
    channel: Channel = Channel.TELEGRAM
    external_ref: str | None = None
    entered_by: int | None = None
    received_at: datetime | None = None
    customer_confirmed: bool = False
    source: str | None = None
    special_requests: list[SpecialRequestDraft] = field(default_factory=list)
    # The date the goods must arrive by (a date or text such as 2026-12-20), None if none.
    delivery_by: object = None
    special_services: list[str] = field(default_factory=list)


class IdempotencyConflict(DomainError):
    """An Idempotency-Key was used before for a different request."""

    def __init__(self, idempotency_key: str, reference: str) -> None:
        self.idempotency_key = idempotency_key
        self.reference = reference
        super().__init__(
            f"Idempotency-Key {idempotency_key!r} was used for a different request (order {reference})"
        )


def _parsed(parse: Callable[[Any], T], value: object) -> T | None:
    """Returns what a single-field parser makes of the value, or None if it refuses it."""
    try:
        return parse(value)
    except InvalidInput:
        return None


def _priced_line(item: ItemDraft, index: int, errors: list[FieldError]) -> ItemDraft:
    """Returns the line with its numbers parsed where possible; notes errors the validator misses."""
    prefix = f"items[{index}]"
    quantity = _parsed(parse_quantity, item.quantity)
    weight = _parsed(parse_weight_kg, item.weight_kg)
    value = _parsed(parse_declared_value, item.declared_value)
    given = [name for name in DIMENSIONS if getattr(item, name) is not None]
    dimensions: dict[str, Decimal | None] = dict.fromkeys(DIMENSIONS)
    if given and len(given) < len(DIMENSIONS):
        errors.append(FieldError(f"{prefix}.{DIMENSIONS[0]}", "item.dimensions_incomplete"))
    elif given:
        parsed = {
            name: read_dimension(getattr(item, name), f"{prefix}.{name}", errors) for name in DIMENSIONS
        }
        if all(number is not None for number in parsed.values()):
            dimensions = parsed
    if item.sku is not None:
        errors.extend(identifier_errors(item.sku, f"{prefix}.sku", "item.sku_too_long", SKU_MAX))
    if item.hs_code is not None and hs_code_digits(item.hs_code) is None:
        low, high = HS_CODE_DIGITS
        params = {"text": trimmed(item.hs_code), "min": str(low), "max": str(high)}
        errors.append(FieldError(f"{prefix}.hs_code", "item.hs_code_invalid", params))
    # Parsed values where parsing worked, so pricing never sees '2 kg' or '3.0'; the validator
    # reports the raw values that did not parse.
    return replace(
        item,
        quantity=item.quantity if quantity is None else quantity,
        weight_kg=item.weight_kg if weight is None else weight,
        declared_value=item.declared_value if value is None else value,
        length_cm=dimensions["length_cm"],
        width_cm=dimensions["width_cm"],
        height_cm=dimensions["height_cm"],
    )


def _priced_draft(draft: OrderDraft) -> tuple[OrderDraft, list[FieldError]]:
    """Returns the draft with its lines' numbers parsed, and the line errors the validator does not check."""
    errors: list[FieldError] = []
    lines = [_priced_line(item, index, errors) for index, item in enumerate(draft.items or [])]
    return replace(draft, items=lines), errors


def _channel(value: object) -> Channel | None:
    """Returns the channel, or None if the value names none."""
    try:
        return Channel(str(value))
    except ValueError:
        return None


def check_draft(draft: OrderDraft, now: datetime) -> list[FieldError]:
    """Lists every problem of a draft at once: R-2 validation plus the intake rules of each channel."""
    priced, errors = _priced_draft(draft)
    errors = [*validate_order(priced), *errors]
    customer = draft.customer or CustomerDraft()
    user_id = customer.telegram_user_id
    if user_id is not None and not _telegram_user_id(user_id):
        errors.append(
            FieldError(
                "customer.telegram_user_id", "telegram_user_id.invalid", {"max": str(TELEGRAM_USER_ID_MAX)}
            )
        )
    language = trimmed(customer.language)
    if not (language.replace("-", "").isalpha() and language.isascii() and len(language) <= LANGUAGE_MAX):
        errors.append(FieldError("customer.language", "language.invalid"))
    if draft.external_ref is not None:
        errors.extend(
            identifier_errors(draft.external_ref, "external_ref", "external_ref.too_long", EXTERNAL_REF_MAX)
        )
    channel = _channel(draft.channel)
    if channel is None:
        choices = ", ".join(c.value for c in Channel)
        errors.append(
            FieldError("channel", "channel.unknown", {"text": trimmed(draft.channel), "choices": choices})
        )
    elif channel.offline:
        errors.extend(_check_offline(draft, now))
    elif channel is Channel.TELEGRAM and user_id is None:
        errors.append(FieldError("customer.telegram_user_id", "telegram_user_id.required"))
    service = _parsed(parse_service, draft.service)
    errors += check_requirements(
        draft.special_requests, draft.delivery_by, draft.special_services, service, now.date()
    )
    return errors + _hs_codes_missing(draft)


def _hs_codes_missing(draft: OrderDraft) -> list[FieldError]:
    """The lines without an HS code when a business ships where customs want one on every line (R-4.3)."""
    country = _parsed(parse_country, (draft.address or AddressDraft()).country)
    if country is None or not hs_code_required(country.code, bool(draft.customer.business)):
        return []
    return [
        FieldError(f"items[{index}].hs_code", "item.hs_code_required", {"country": country.name_en})
        for index, item in enumerate(draft.items or [])
        if not trimmed(item.hs_code)
    ]


def _telegram_user_id(value: object) -> bool:
    """Whether a value is a Telegram user id: a whole number from 1 to TELEGRAM_USER_ID_MAX."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= TELEGRAM_USER_ID_MAX


def _check_offline(draft: OrderDraft, now: datetime) -> list[FieldError]:
    """Lists what an offline order lacks: who entered it, when it was received, the customer's consent."""
    errors = []
    if draft.entered_by is None:
        errors.append(FieldError("entered_by", "offline.entered_by_required"))
    received = draft.received_at
    if received is None:
        errors.append(FieldError("received_at", "offline.received_at_required"))
    elif received.tzinfo is None:
        errors.append(FieldError("received_at", "offline.received_at_naive"))
    elif received > now:
        errors.append(
            FieldError(
                "received_at",
                "offline.received_at_future",
                {
                    "received_at": received.isoformat(timespec="minutes"),
                    "now": now.isoformat(timespec="minutes"),
                },
            )
        )
    if not draft.customer_confirmed:
        errors.append(FieldError("customer_confirmed", "offline.unconfirmed"))
    return errors


def quote_for(draft: OrderDraft) -> Quote:
    """Prices a draft from what the price depends on (destination, goods, service, urgency).

    Raises InvalidInput listing every problem with those fields; goods that may not be shipped
    have no price.
    """
    priced, line_errors = _priced_draft(draft)
    errors: list[FieldError] = []
    country = service = None
    try:
        country = parse_country((draft.address or AddressDraft()).country)
    except InvalidInput as failure:
        errors.extend(failure.errors)
    errors.extend(check_items(priced.items))
    errors.extend(line_errors)
    try:
        service = parse_service(draft.service)
    except InvalidInput as failure:
        errors.extend(failure.errors)
    if errors or country is None or service is None:
        raise InvalidInput(errors)
    priced_quote = quote(service, country.code, priced.items, urgent=bool(draft.urgent))
    too_large = check_total(priced_quote)
    if too_large:
        raise InvalidInput(too_large)
    return priced_quote


def _build_order(draft: OrderDraft, channel: Channel, order_quote: Quote, now: datetime) -> Order:
    """Makes the order aggregate from a checked draft, every value in its normalized form."""
    priced, _ = _priced_draft(draft)
    country = parse_country(draft.address.country).code
    customer = draft.customer
    phone = normalize_phone(customer.phone, country) if trimmed(customer.phone) else None
    email = normalize_email(customer.email) if trimmed(customer.email) else None
    items = [
        Item(
            name=normalize_item_name(line.name, field=f"items[{index}].name"),
            quantity=parse_quantity(line.quantity),
            weight_kg=parse_weight_kg(line.weight_kg),
            declared_value=parse_declared_value(line.declared_value),
            sku=trimmed(line.sku) or None,
            fragile=bool(line.fragile),
            hs_code=hs_code_digits(line.hs_code) if trimmed(line.hs_code) else None,
            length_cm=_decimal(line.length_cm),
            width_cm=_decimal(line.width_cm),
            height_cm=_decimal(line.height_cm),
        )
        for index, line in enumerate(priced.items)
    ]
    return Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        customer=Customer(
            name=normalize_customer_name(customer.name),
            phone=phone,
            email=email,
            telegram_user_id=customer.telegram_user_id,
            language=trimmed(customer.language).lower(),
            business=bool(customer.business),
        ),
        address=Address(
            country=country,
            city=normalize_city(draft.address.city),
            street=normalize_street(draft.address.street),
            postcode=normalize_postcode(country, draft.address.postcode, draft.address.area),
            area=normalize_area(draft.address.area),
        ),
        items=items,
        service=parse_service(draft.service),
        payment_method=normalize_payment_method(draft.payment_method),
        amount=order_quote.amount,
        currency=order_quote.currency,
        channel=channel,
        created_at=now,
        paid=bool(draft.paid),
        remarks=normalize_remarks(draft.remarks),
        urgent=bool(draft.urgent),
        entered_by=draft.entered_by if channel.offline else None,
        received_at=draft.received_at if channel.offline else now,
        requirements=requirements_of(draft.special_requests, draft.delivery_by, draft.special_services),
    )


def _decimal(value: Number) -> Decimal | None:
    """A parsed dimension (the priced draft holds Decimals or None)."""
    return value if isinstance(value, Decimal) else None


def _submission_note(draft: OrderDraft, channel: Channel) -> str:
    """Words the submission audit line: channel, source, and the offline facts of R-1.3."""
    parts = [f"submitted via {channel.value}"]
    if draft.source:
        parts.append(f"by {draft.source}")
    if trimmed(draft.external_ref):
        parts.append(f"external ref {trimmed(draft.external_ref)}")
    if channel.offline and draft.received_at is not None:
        parts.append(f"received {draft.received_at.isoformat(timespec='minutes')}")
        parts.append("customer confirmed")
    return "; ".join(parts)


def _pass_validation(
    order: Order, draft: OrderDraft, now: datetime, sla: SlaContext | None
) -> tuple[FieldError, ...]:
    """Moves a checked order on to review, starts its clock and notes goods that need a second review."""
    flags = tuple(review_flags(draft.items))
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=SYSTEM, now=now, note="checks passed (R-2)")
    if sla is not None:
        sync_clocks(order, now, sla)
    if flags:
        order.note(
            "second review needed (R-3.2): " + "; ".join(flag_note(flag) for flag in flags),
            actor_id=None,
            role=Role.SYSTEM,
            now=now,
            action=SECOND_REVIEW_ACTION,
        )
    return flags
