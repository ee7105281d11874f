"""Platform intake HTTP API (R-1.1): e-commerce platforms quote and place orders over JSON.

Every route but the OpenAPI document needs `Authorization: Bearer <key>`, a key from API_KEYS;
an order is visible only to the key that created it. Every error answers
`{"errors": [{"field", "code", "message"}]}`; a 422 lists every problem of the body at once, with
paths such as `items[0].name`. POST /api/v1/orders honours `Idempotency-Key`: the same key with
the same body answers 200 with the order made by the first request (201), and the header
`Idempotent-Replayed: true`; the same key with another body answers 409.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from api.openapi import openapi_document
from application.intake import find_platform_order, place_platform_order
from application.ports import PlatformUnitOfWork
from application.services import EventHandlers
from domain.clock import Clock
from domain.errors import DomainError
from domain.intake.drafts import (
    AddressDraft,
    CustomerDraft,
    IdempotencyConflict,
    ItemDraft,
    OrderDraft,
    check_draft,
    describe,
    quote_for,
)
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.pricing import Quote, load_tariff
from domain.intake.validation import parse_declared_value, parse_quantity
from domain.orders.status import Channel, Service
from domain.sla.clocks import SlaContext

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
QUOTES_PATH = f"{PREFIX}/quotes"
ORDERS_PATH = f"{PREFIX}/orders"
ORDER_PATH = f"{PREFIX}/orders/{{reference}}"
SERVICES_PATH = f"{PREFIX}/services"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
PUBLIC_PATHS = frozenset({OPENAPI_PATH})
API_KEY_NAME = web.RequestKey("api_key_name", str)

# The body fields of the issue, exactly; anything else is refused so a misspelt field is not lost.
ORDER_FIELDS = frozenset(
    {"customer", "address", "items", "service", "payment", "urgent", "remarks", "external_ref"}
)
CUSTOMER_FIELDS = frozenset({"name", "phone", "email", "telegram_user_id"})
ADDRESS_FIELDS = frozenset({"country", "city", "street", "postcode", "region"})
ITEM_FIELDS = frozenset({"name", "quantity", "weight_kg", "unit_value", "sku", "fragile", "hs_code"})
PAYMENT_FIELDS = frozenset({"method", "amount", "currency", "paid"})

IDEMPOTENCY_KEY_MAX = 255
KEY_NAME_MAX = 64

SERVICE_NAMES: dict[Service, str] = {
    Service.AIR_FREIGHT: "International air freight + customs agency",
    Service.SEA_FREIGHT: "International sea freight + customs agency",
    Service.OVERSEAS_WAREHOUSE: "Overseas warehouse dispatch + local delivery",
}

BREAKDOWN_TEXTS: dict[str, str] = {
    "freight.first_weight": "first {weight_kg} kg to zone {zone} at {rate}",
    "freight.additional_weight": "{steps} further steps of {step_kg} kg at {rate} each",
    "surcharge.fragile": "fragile handling: {pieces} pieces at {rate} each",
    "surcharge.urgent": "urgent handling: {percent}% of the freight",
}

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


def parse_api_keys(text: str | None) -> dict[str, str]:
    """Reads API_KEYS (`name:key,name2:key2`) into {name: key}; raises ValueError saying what is wrong."""
    keys: dict[str, str] = {}
    for number, pair in enumerate((text or "").split(","), start=1):
        pair = pair.strip()
        if not pair:
            continue
        name, separator, key = pair.partition(":")
        name, key = name.strip(), key.strip()
        if not separator or not name or not key:
            raise ValueError(f"API_KEYS entry {number} must be name:key")
        if len(name) > KEY_NAME_MAX:
            raise ValueError(f"API_KEYS entry {number}: the name is longer than {KEY_NAME_MAX} characters")
        if name in keys:
            raise ValueError(f"API_KEYS names {name!r} twice")
        if key in keys.values():
            raise ValueError(f"API_KEYS entry {name!r} repeats another entry's key")
        keys[name] = key
    return keys


def _errors_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    """Wraps error records in the API's error document."""
    return {"errors": errors}


def _error_response(status: int, field: str, code: str, message: str, **headers: str) -> web.Response:
    """Answers one problem in the API's error document."""
    record = {"field": field, "code": code, "message": message}
    return web.json_response(_errors_body([record]), status=status, headers=headers or None)


def _api_field(path: str) -> str:
    """Renames a domain field path to the API's names (declared_value -> unit_value, area -> region)."""
    head, _, last = path.rpartition(".")
    renamed = _API_NAMES.get(last)
    if renamed is None:
        return path
    return f"{head}.{renamed}" if head else renamed


def _record(error: FieldError) -> dict[str, str]:
    """Turns one field error into its JSON record, message included."""
    renamed = FieldError(_api_field(error.field), error.code, error.params)
    template = SHAPE_MESSAGES.get(error.code)
    message = f"{renamed.field}: {template}" if template else describe(renamed)
    return {"field": renamed.field, "code": error.code, "message": message}


class _Shape:
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
        )

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
        )

    def merged(self, domain_errors: list[FieldError]) -> list[FieldError]:
        """Shape problems first, then the domain's, minus those a shape problem already explains."""
        return [*self.errors, *(e for e in domain_errors if not self.covers(_api_field(e.field)))]


def fingerprint(body: object) -> str:
    """Identifies a request body regardless of key order and whitespace (SHA-256 of canonical JSON)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _money(amount: Decimal) -> str:
    """Writes an amount with two decimals, as a string so no precision is lost."""
    return f"{amount:.2f}"


def quote_json(quote: Quote) -> dict[str, Any]:
    """The JSON form of a quote, with the breakdown in words."""
    return {
        "amount": _money(quote.amount),
        "currency": quote.currency,
        "service": quote.service.value if quote.service else None,
        "zone": quote.zone,
        "chargeable_weight_kg": str(quote.chargeable_weight_kg),
        "breakdown": [
            {
                "code": line.code,
                "description": BREAKDOWN_TEXTS.get(line.code, line.code).format_map(line.params),
                "amount": _money(line.amount),
            }
            for line in quote.breakdown
        ],
    }


def services_json() -> dict[str, Any]:
    """The service catalogue: every service with its name and rates per destination zone."""
    tariff = load_tariff()
    zones: dict[str, list[str]] = {}
    for country, zone in sorted(tariff.zones.items()):
        zones.setdefault(zone, []).append(country)
    return {
        "currency": tariff.currency,
        "default_zone": tariff.default_zone,
        "zones": zones,
        "services": [
            {
                "code": service.value,
                "name": SERVICE_NAMES.get(service, service.value),
                "international": service.international,
                "first_kg": str(rates.first_kg),
                "step_kg": str(rates.step_kg),
                "volumetric_divisor": str(rates.volumetric_divisor),
                "rates": {
                    zone: {
                        "first_rate": _money(rate.first_rate),
                        "additional_rate": _money(rate.additional_rate),
                    }
                    for zone, rate in sorted(rates.rates.items())
                },
            }
            for service, rates in tariff.services.items()
        ],
    }


async def _json_body(request: web.Request) -> dict[str, Any]:
    """Reads the body as a JSON object or raises ApiError 400 saying why it is not one."""
    raw = await request.read()
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


def _idempotency_key(request: web.Request) -> str | None:
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


def _unprocessable(errors: list[FieldError]) -> web.Response:
    """Answers 422 with every problem of the body."""
    return web.json_response(_errors_body([_record(error) for error in errors]), status=422)


class IntakeApi:
    """The request handlers, bound to a unit-of-work factory, a clock and the API keys."""

    def __init__(
        self,
        uow_factory: Callable[[], PlatformUnitOfWork],
        clock: Clock,
        api_keys: Mapping[str, str],
        handlers: EventHandlers | None = None,
        sla: SlaContext | None = None,
    ) -> None:
        if not api_keys:
            raise ValueError("the intake API needs at least one key (API_KEYS)")
        if any(not key for key in api_keys.values()):
            raise ValueError("an API key must not be empty")
        if any(not name or len(name) > KEY_NAME_MAX for name in api_keys):
            raise ValueError(f"an API key's name must have 1 to {KEY_NAME_MAX} characters")
        self._uow_factory = uow_factory
        self._clock = clock
        self._keys = [(name, key.encode("utf-8")) for name, key in api_keys.items()]
        self._handlers = handlers
        self._sla = sla

    def key_name(self, request: web.Request) -> str:
        """Returns the name of the request's API key or raises ApiError 401."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401, "Authorization", "auth.missing", "send your API key as 'Authorization: Bearer <key>'"
            )
        given = token.strip().encode("utf-8", "replace")
        found = None
        # Every key is compared, in constant time, so timing tells nothing about which one nearly matched.
        for name, key in self._keys:
            if hmac.compare_digest(given, key):
                found = name
        if found is None:
            raise ApiError(401, "Authorization", "auth.invalid", "this API key is not valid")
        return found

    async def quote(self, request: web.Request) -> web.Response:
        """POST /quotes: prices an order body (payment not needed)."""
        body = await _json_body(request)
        shape = _Shape()
        draft = shape.draft(body, for_quote=True)
        try:
            quote = quote_for(draft)
        except InvalidInput as invalid:
            return _unprocessable(shape.merged(invalid.errors))
        if shape.errors:
            return _unprocessable(shape.errors)
        return web.json_response(quote_json(quote))

    async def create_order(self, request: web.Request) -> web.Response:
        """POST /orders: places an order; an Idempotency-Key retry gets the same order back."""
        key_name = request[API_KEY_NAME]
        idempotency_key = _idempotency_key(request)
        body = await _json_body(request)
        shape = _Shape()
        draft = shape.draft(body, for_quote=False)
        if shape.errors:
            return _unprocessable(shape.merged(check_draft(draft, self._clock.now())))
        try:
            placed = await place_platform_order(
                self._uow_factory(),
                draft,
                self._clock,
                key_name=key_name,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint(body),
                handlers=self._handlers,
                sla=self._sla,
            )
        except InvalidInput as invalid:
            return _unprocessable(invalid.errors)
        except IdempotencyConflict as conflict:
            raise ApiError(
                409,
                "Idempotency-Key",
                "idempotency.conflict",
                f"this Idempotency-Key was used for a different request (order {conflict.reference}); "
                "send a new key for a new order, or the same body to get that order back",
            ) from None
        order = placed.order
        document = {
            "reference": order.reference,
            "number": order.number,
            "status": order.status.value,
            "external_ref": draft.external_ref,
            "second_review_required": bool(placed.review_flags),
            "quote": quote_json(placed.quote),
        }
        headers = {"Location": f"{ORDERS_PATH}/{order.reference}"}
        if placed.replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.json_response(document, status=200 if placed.replayed else 201, headers=headers)

    async def get_order(self, request: web.Request) -> web.Response:
        """GET /orders/{reference}: the order's state, for the key that created it only."""
        reference = request.match_info["reference"]
        found = await find_platform_order(self._uow_factory(), request[API_KEY_NAME], reference)
        if found is None:
            raise ApiError(
                404, "reference", "order.not_found", f"no order {reference} was created with this key"
            )
        order, link = found
        return web.json_response(
            {
                "reference": order.reference,
                "number": order.number,
                "status": order.status.value,
                "service": order.service.value,
                "amount": _money(order.amount),
                "currency": order.currency,
                "paid": order.paid,
                "urgent": order.urgent,
                "external_ref": link.external_ref,
                "created_at": order.created_at.isoformat(),
            }
        )

    async def services(self, request: web.Request) -> web.Response:
        """GET /services: the service catalogue."""
        return web.json_response(services_json())

    async def openapi(self, request: web.Request) -> web.Response:
        """GET /openapi.json: the OpenAPI document of this API."""
        return web.json_response(openapi_document())

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Checks the API key and turns every failure into the API's JSON error document."""
        try:
            if request.match_info.http_exception is None and request.path not in PUBLIC_PATHS:
                request[API_KEY_NAME] = self.key_name(request)
            return await handler(request)
        except ApiError as error:
            headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
            return _error_response(error.status, error.field, error.code, error.message, **headers)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else {}
            return _error_response(error.status, "", f"http.{error.status}", error.reason.lower(), **allow)
        except DomainError as error:
            logger.warning("Intake API refused %s %s: %s", request.method, request.path, error)
            return _error_response(409, "", "domain.refused", str(error))
        except Exception:
            logger.exception("Intake API failed on %s %s", request.method, request.path)
            return _error_response(500, "", "internal", "the server failed; please retry later")


def build_api_app(
    uow_factory: Callable[[], PlatformUnitOfWork],
    clock: Clock,
    api_keys: Mapping[str, str],
    *,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
    client_max_size: int = 1024**2,
) -> web.Application:
    """Creates the aiohttp application of the platform intake API."""
    api = IntakeApi(uow_factory, clock, api_keys, handlers, sla)
    app = web.Application(middlewares=[api.middleware], client_max_size=client_max_size)
    app.router.add_post(QUOTES_PATH, api.quote)
    app.router.add_post(ORDERS_PATH, api.create_order)
    app.router.add_get(ORDER_PATH, api.get_order, allow_head=False)
    app.router.add_get(SERVICES_PATH, api.services, allow_head=False)
    app.router.add_get(OPENAPI_PATH, api.openapi, allow_head=False)
    return app
