"""Reading the platform API's JSON body into an order draft: type and structure problems as field errors.

The domain judges the values (domain/intake); this module knows only the JSON shape of the
request, the API's names for the domain's fields, and the errors only a shape can have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft, describe
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.goods import DIMENSIONS
from domain.intake.requirements import SpecialRequestDraft
from domain.intake.validation import parse_declared_value, parse_quantity
from domain.orders.status import Channel

# The body fields of the issue, exactly; anything else is refused so a misspelt field is not lost.
ORDER_FIELDS = frozenset(
    {
        "customer",
        "address",
        "items",
        "service",
        "payment",
        "urgent",
        "remarks",
        "external_ref",
        "special_requests",
        "delivery_by",
        "special_services",
    }
)
CUSTOMER_FIELDS = frozenset({"name", "phone", "email", "telegram_user_id", "business"})
ADDRESS_FIELDS = frozenset({"country", "city", "street", "postcode", "region"})
ITEM_FIELDS = frozenset(
    {"name", "quantity", "weight_kg", "unit_value", "sku", "fragile", "hs_code", *DIMENSIONS}
)
REQUEST_FIELDS = frozenset({"kind", "note"})
PAYMENT_FIELDS = frozenset({"method", "amount", "currency", "paid"})

IDEMPOTENCY_KEY_MAX = 255

# English sentences for the problems only the JSON shape can have.
SHAPE_MESSAGES: dict[str, str] = {
    "field.required": "this field is required",
    "field.unknown": "this field is not part of the request; please check its spelling "
    "(see the OpenAPI document)",
    "type.object": "must be a JSON object",
    "type.array": "must be a JSON array",
    "type.string": "must be a string",
    "type.number": "must be a number (or a string holding one), e.g. 1.5",
    "type.integer": "must be a whole number",
    "type.boolean": "must be true or false",
}

# Domain field paths that the API names differently.
_API_NAMES = {"declared_value": "unit_value", "area": "region"}


class ApiError(Exception):
    """An error answer: status, code and message of one problem."""

    def __init__(self, status: int, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.code = code
        self.message = message


def api_field(path: str) -> str:
    """Renames a domain field path to the API's names (declared_value -> unit_value, area -> region)."""
    head, _, last = path.rpartition(".")
    renamed = _API_NAMES.get(last)
    if renamed is None:
        return path
    return f"{head}.{renamed}" if head else renamed


def record(error: FieldError) -> dict[str, str]:
    """Turns one field error into its JSON record, message included."""
    renamed = FieldError(api_field(error.field), error.code, error.params)
    template = SHAPE_MESSAGES.get(error.code)
    message = f"{renamed.field}: {template}" if template else describe(renamed)
    return {"field": renamed.field, "code": error.code, "message": message}


class Shape:
    """Reads the JSON body into a draft, collecting type and structure problems as field errors."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, code: str) -> None:
        """Notes one shape problem."""
        self.errors.append(FieldError(path, code))

    def covers(self, path: str) -> bool:
        """Whether a shape problem was noted for this path or a parent of it."""
        return any(
            path == error.field or path.startswith((error.field + ".", error.field + "["))
            for error in self.errors
        )

    def obj(
        self, parent: Mapping[str, Any], key: str, path: str, allowed: frozenset[str], *, required: bool
    ) -> dict[str, Any]:
        """Reads a nested object, refusing unknown fields; {} when missing or not an object."""
        if parent.get(key) is None:
            if required:
                self.fail(path, "field.required")
            return {}
        return self.fields_of(parent[key], path, allowed)

    def fields_of(self, value: object, path: str, allowed: frozenset[str]) -> dict[str, Any]:
        """Checks that a value is an object with only allowed fields."""
        if not isinstance(value, dict):
            self.fail(path, "type.object")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.fail(f"{path}.{unknown}" if path else unknown, "field.unknown")
        return value

    def string(self, source: Mapping[str, Any], key: str, path: str) -> str | None:
        """Reads an optional string."""
        value = source.get(key)
        if value is None or isinstance(value, str):
            return value
        self.fail(path, "type.string")
        return None

    def number(self, source: Mapping[str, Any], key: str, path: str) -> Any:
        """Reads a number or numeric text; the domain parsers judge the value."""
        value = source.get(key)
        if value is None or (isinstance(value, int | float | str) and not isinstance(value, bool)):
            return value
        self.fail(path, "type.number")
        return None

    def boolean(self, source: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> bool:
        """Reads a boolean, false when absent."""
        value = source.get(key)
        if value is None:
            if required:
                self.fail(path, "field.required")
            return False
        if isinstance(value, bool):
            return value
        self.fail(path, "type.boolean")
        return False

    def integer(self, source: Mapping[str, Any], key: str, path: str) -> int | None:
        """Reads an optional whole number."""
        value = source.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.fail(path, "type.integer")
        return None

    def item(self, value: object, index: int) -> ItemDraft:
        """Reads one goods line; unit_value times quantity is the line's declared value."""
        path = f"items[{index}]"
        line = self.fields_of(value, path, ITEM_FIELDS)
        if not line and not isinstance(value, dict):
            return ItemDraft()
        quantity = self.number(line, "quantity", f"{path}.quantity")
        unit_value = self.number(line, "unit_value", f"{path}.unit_value")
        declared: Any = unit_value
        try:
            declared = parse_declared_value(unit_value) * parse_quantity(quantity)
        except InvalidInput:
            pass  # the domain reports the raw values that do not parse
        return ItemDraft(
            name=self.string(line, "name", f"{path}.name"),
            quantity=quantity,
            weight_kg=self.number(line, "weight_kg", f"{path}.weight_kg"),
            declared_value=declared,
            sku=self.string(line, "sku", f"{path}.sku"),
            fragile=self.boolean(line, "fragile", f"{path}.fragile"),
            hs_code=self.string(line, "hs_code", f"{path}.hs_code"),
            length_cm=self.number(line, "length_cm", f"{path}.length_cm"),
            width_cm=self.number(line, "width_cm", f"{path}.width_cm"),
            height_cm=self.number(line, "height_cm", f"{path}.height_cm"),
        )

    def array(self, body: Mapping[str, Any], key: str) -> list[Any]:
        """Reads an optional array ([] when absent)."""
        value = body.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.fail(key, "type.array")
        return []

    def requests(self, body: Mapping[str, Any]) -> list[SpecialRequestDraft]:
        """Reads the special requests: objects of a kind and a note."""
        drafts = []
        for index, value in enumerate(self.array(body, "special_requests")):
            path = f"special_requests[{index}]"
            request = self.fields_of(value, path, REQUEST_FIELDS)
            drafts.append(
                SpecialRequestDraft(
                    self.string(request, "kind", f"{path}.kind"), self.string(request, "note", f"{path}.note")
                )
            )
        return drafts

    def services(self, body: Mapping[str, Any]) -> list[str]:
        """Reads the chosen special services: a list of names."""
        names = []
        for index, value in enumerate(self.array(body, "special_services")):
            if isinstance(value, str):
                names.append(value)
            else:
                self.fail(f"special_services[{index}]", "type.string")
        return names

    def draft(self, body: Mapping[str, Any], *, for_quote: bool) -> OrderDraft:
        """Reads an order (or a quote request: payment and customer not needed) into a draft."""
        self.fields_of(body, "", ORDER_FIELDS)
        customer = self.obj(body, "customer", "customer", CUSTOMER_FIELDS, required=not for_quote)
        address = self.obj(body, "address", "address", ADDRESS_FIELDS, required=True)
        payment = self.obj(body, "payment", "payment", PAYMENT_FIELDS, required=not for_quote)
        items: list[ItemDraft] = []
        raw_items = body.get("items")
        if raw_items is None:
            self.fail("items", "field.required")
        elif not isinstance(raw_items, list):
            self.fail("items", "type.array")
        else:
            items = [self.item(value, index) for index, value in enumerate(raw_items)]
        if payment and not for_quote:
            for key in ("amount", "currency"):
                if payment.get(key) is None:
                    self.fail(f"payment.{key}", "field.required")
        return OrderDraft(
            customer=CustomerDraft(
                name=self.string(customer, "name", "customer.name"),
                phone=self.string(customer, "phone", "customer.phone"),
                email=self.string(customer, "email", "customer.email"),
                telegram_user_id=self.integer(customer, "telegram_user_id", "customer.telegram_user_id"),
                business=self.boolean(customer, "business", "customer.business"),
            ),
            address=AddressDraft(
                country=self.string(address, "country", "address.country"),
                city=self.string(address, "city", "address.city"),
                street=self.string(address, "street", "address.street"),
                postcode=self.string(address, "postcode", "address.postcode"),
                area=self.string(address, "region", "address.region"),
            ),
            items=items,
            service=self.string(body, "service", "service"),
            payment_method=self.string(payment, "method", "payment.method"),
            amount=self.number(payment, "amount", "payment.amount"),
            currency=self.string(payment, "currency", "payment.currency"),
            paid=self.boolean(payment, "paid", "payment.paid", required=bool(payment) and not for_quote),
            remarks=self.string(body, "remarks", "remarks"),
            urgent=self.boolean(body, "urgent", "urgent"),
            channel=Channel.PLATFORM_API,
            external_ref=self.string(body, "external_ref", "external_ref"),
            special_requests=self.requests(body),
            delivery_by=self.string(body, "delivery_by", "delivery_by"),
            special_services=self.services(body),
        )

    def merged(self, domain_errors: list[FieldError]) -> list[FieldError]:
        """Shape problems first, then the domain's, minus those a shape problem already explains."""
        return [*self.errors, *(e for e in domain_errors if not self.covers(api_field(e.field)))]


def fingerprint(body: object) -> str:
    """Identifies a request body regardless of key order and whitespace (SHA-256 of canonical JSON)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate is refused by validation later, not by a crash here.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


async def json_body(request: web.Request) -> dict[str, Any]:
    """Reads the body as a JSON object or raises ApiError 400 saying why it is not one."""
    try:
        raw = await request.read()
    except web.RequestPayloadError:
        # A broken encoding or chunk; aiohttp logs it as one line when it drains the body (api.http_log).
        raise ApiError(
            400, "body", "body.unreadable", "the body could not be read (broken encoding); send it again"
        ) from None
    if not raw.strip():
        raise ApiError(400, "body", "body.empty", "the body is empty; send a JSON object")

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        body = json.loads(raw, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        message = f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise ApiError(400, "body", "body.not_json", message) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ApiError(400, "body", "body.not_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(
            400, "body", "body.not_object", 'the body must be a JSON object, e.g. {"items": [...]}'
        )
    return body


def read_idempotency_key(request: web.Request) -> str | None:
    """Reads the Idempotency-Key header: 1-255 visible ASCII characters, if sent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not all("!" <= ch <= "~" for ch in key):
        raise ApiError(
            400,
            "Idempotency-Key",
            "idempotency_key.invalid",
            f"the Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters, e.g. a UUID",
        )
    return key
