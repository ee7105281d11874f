"""Automatic validation of order intake (R-1.2, R-2): every failure is a FieldError.

The checks live by subject (contact.py, address.py, goods.py; reading text and numbers in
text.py); this module checks a whole order and re-exports the single-field checks. Single-field
functions (parse_*, normalize_*) return the clean value or raise InvalidInput, so a wizard can
check one answer the moment it arrives; check_* functions and validate_order collect every
problem at once, for the HTTP API. Messages are not built here: handlers translate the
error codes; describe() gives the English fallback for the API and logs.
"""

from __future__ import annotations

from decimal import Decimal

from domain.intake import pricing
from domain.intake.address import (
    CITY_MAX,
    STREET_MAX,
    Country,
    check_address,
    normalize_area,
    normalize_city,
    normalize_postcode,
    normalize_street,
    parse_country,
    postcode_required,
    postcode_used,
)
from domain.intake.contact import (
    NAME_MAX,
    normalize_customer_name,
    normalize_email,
    normalize_phone,
    phone_example,
)
from domain.intake.errors import FieldError, fail
from domain.intake.goods import (
    ITEM_NAME_MAX,
    ITEMS_MAX,
    MONEY_MAX,
    MONEY_PLACES,
    WEIGHT_MAX_KG,
    check_items,
    normalize_item_name,
    parse_declared_value,
    parse_quantity,
    parse_weight_kg,
    review_flags,
)
from domain.intake.text import (
    clean,
    clean_text,
    collect,
    read_decimal,
    read_field,
    refuse_control,
)
from domain.orders.status import Service

__all__ = [
    "CITY_MAX",
    "ITEMS_MAX",
    "ITEM_NAME_MAX",
    "NAME_MAX",
    "PAYMENT_METHOD_MAX",
    "REMARKS_MAX",
    "STREET_MAX",
    "WEIGHT_MAX_KG",
    "Country",
    "check_address",
    "check_items",
    "check_total",
    "clean_text",
    "normalize_area",
    "normalize_city",
    "normalize_customer_name",
    "normalize_email",
    "normalize_item_name",
    "normalize_payment_method",
    "normalize_phone",
    "normalize_postcode",
    "normalize_remarks",
    "normalize_street",
    "parse_amount",
    "parse_country",
    "parse_declared_value",
    "parse_quantity",
    "parse_service",
    "parse_weight_kg",
    "phone_example",
    "postcode_required",
    "postcode_used",
    "read_decimal",
    "refuse_control",
    "review_flags",
    "validate_order",
]

# The column holds 32 characters; the limit is checked on the normalised text that is stored.
PAYMENT_METHOD_MAX = 32

REMARKS_MAX = 500


def normalize_payment_method(text: str | None, *, field: str = "payment.method") -> str:
    """Returns the payment method as stored, at most PAYMENT_METHOD_MAX characters."""
    method = clean_text(text, field)
    if not method:
        raise fail(field, "payment_method.required")
    if len(method) > PAYMENT_METHOD_MAX:
        raise fail(field, "payment_method.too_long", max=str(PAYMENT_METHOD_MAX))
    return method


def normalize_remarks(text: str | None, *, field: str = "remarks") -> str:
    """Returns the remarks as stored ('' if none), at most REMARKS_MAX characters."""
    remarks = clean_text(text, field)
    if len(remarks) > REMARKS_MAX:
        raise fail(field, "remarks.too_long", max=str(REMARKS_MAX))
    return remarks


def parse_amount(value: object, *, field: str = "payment.amount") -> Decimal:
    """Returns an amount paid: a number of money (its size is judged against the quote)."""
    number = read_decimal(value, field=field, places=MONEY_PLACES)
    if number is None:
        raise fail(field, "amount.invalid")
    return number


def parse_service(value: object, *, field: str = "service") -> Service:
    """Returns the service type the customer chose."""
    text = clean_text(value, field)
    if not text:
        raise fail(field, "service.required", choices=", ".join(s.value for s in Service))
    try:
        return Service(text.lower())
    except ValueError:
        raise fail(field, "service.unknown", choices=", ".join(s.value for s in Service)) from None


def check_total(quote: pricing.Quote) -> list[FieldError]:
    """Refuses a price larger than an order's amount can hold (storage's Numeric(12, 2))."""
    if quote.amount <= MONEY_MAX:
        return []
    params = {"amount": quote.display, "max": f"{MONEY_MAX:,.{MONEY_PLACES}f}"}
    return [FieldError("items", "order.total_too_large", params)]


def validate_order(draft: object) -> list[FieldError]:
    """Checks a whole order draft (mapping or object shaped like domain.model.Order) at once."""
    errors: list[FieldError] = []
    customer = read_field(draft, "customer") or {}
    address = read_field(draft, "address") or {}
    items = read_field(draft, "items") or []

    country = collect(errors, parse_country, read_field(address, "country"))
    country_code = country.code if country else None

    collect(errors, normalize_customer_name, read_field(customer, "name"))
    phone, email = read_field(customer, "phone"), read_field(customer, "email")
    if not clean(phone) and not clean(email):
        errors.append(FieldError("customer.contact", "contact.required"))
    if clean(phone):
        collect(errors, normalize_phone, phone, country_code)
    if clean(email):
        collect(errors, normalize_email, email)

    if country_code:
        errors.extend(
            check_address(
                country_code,
                read_field(address, "city"),
                read_field(address, "street"),
                read_field(address, "postcode"),
                read_field(address, "area"),
            )
        )
    else:
        collect(errors, normalize_city, read_field(address, "city"))
        collect(errors, normalize_street, read_field(address, "street"))
        # Without a country the postcode's format is unknown, but not what no postcode may hold.
        collect(errors, clean_text, read_field(address, "postcode"), "address.postcode")
        collect(errors, normalize_area, read_field(address, "area"))

    item_errors = check_items(items)
    errors.extend(item_errors)
    service = collect(errors, parse_service, read_field(draft, "service"))

    collect(errors, normalize_payment_method, read_field(draft, "payment_method"))
    collect(errors, normalize_remarks, read_field(draft, "remarks"))

    paid = read_field(draft, "amount")
    amount = None if paid is None else collect(errors, parse_amount, paid)
    currency = collect(errors, clean_text, read_field(draft, "currency"), "payment.currency")
    priced = service is not None and country_code and not item_errors
    if amount is not None and currency is not None and priced:
        quote = pricing.quote(service, country_code, items, urgent=bool(read_field(draft, "urgent", False)))
        errors.extend(check_total(quote) or pricing.check_payment(quote, amount, currency or quote.currency))
    return errors
