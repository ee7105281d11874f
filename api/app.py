"""Platform intake HTTP API (R-1.1): e-commerce platforms quote and place orders over JSON.

Every route but the OpenAPI document needs `Authorization: Bearer <key>`, a key from API_KEYS;
an order is visible only to the key that created it. Every error answers
`{"errors": [{"field", "code", "message"}]}`; a 422 lists every problem of the body at once, with
paths such as `items[0].name`. POST /api/v1/orders honours `Idempotency-Key`: the same key with
the same body answers 200 with the order made by the first request (201), and the header
`Idempotent-Replayed: true`; the same key with another body answers 409. POST
/api/v1/orders/{reference}/payment reports the payment of an unpaid order at exactly its amount.

The API never trusts a Telegram user id in the body (`customer.telegram_user_id` is ignored): the
order answer carries `telegram_link`, a one-time `https://t.me/<bot>?start=<token>` link for the
platform to show its customer; opening it binds that customer's chat to the order (issue 12).
Platforms with a URL in API_WEBHOOKS get a signed webhook for every status change of their orders
(scheduler/channels.py; the format is in the OpenAPI document).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, cast

from aiohttp import web

from api.http_log import request_log_args
from api.openapi import openapi_document
from api.shapes import ApiError, Shape, fingerprint, json_body, read_idempotency_key, record
from application.intake import find_platform_order, place_platform_order
from application.payment import PaymentMismatch, PaymentUnitOfWork, record_platform_payment
from application.ports import ApiOrderLink, PlatformUnitOfWork
from application.services import EventHandlers
from domain.clock import Clock
from domain.errors import DomainError, IllegalTransition
from domain.intake.drafts import IdempotencyConflict, check_draft, quote_for
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.pricing import Quote, load_tariff
from domain.intake.validation import parse_amount
from domain.orders.model import Order
from domain.orders.status import Service
from domain.sla.clocks import SlaContext

logger = logging.getLogger(__name__)
# aiohttp's own log of requests it could not handle (api.http_log).
REQUEST_LOG_NAME = "api.http"

PREFIX = "/api/v1"
QUOTES_PATH = f"{PREFIX}/quotes"
ORDERS_PATH = f"{PREFIX}/orders"
ORDER_PATH = f"{PREFIX}/orders/{{reference}}"
PAYMENT_PATH = f"{PREFIX}/orders/{{reference}}/payment"
SERVICES_PATH = f"{PREFIX}/services"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
PUBLIC_PATHS = frozenset({OPENAPI_PATH})
API_KEY_NAME = web.RequestKey("api_key_name", str)

KEY_NAME_MAX = 64
# The longest order reference or order number (the columns hold 16 and 20 characters).
REFERENCE_MAX = 20

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


def _pairs(text: str | None, setting: str, shape: str) -> Iterator[tuple[int, str, str]]:
    """Yields (entry number, name, value) of a `name:value,...` setting; ValueError for a malformed entry."""
    for number, pair in enumerate((text or "").split(","), start=1):
        pair = pair.strip()
        if not pair:
            continue
        name, separator, value = pair.partition(":")
        name, value = name.strip(), value.strip()
        if not separator or not name or not value:
            raise ValueError(f"{setting} entry {number} must be {shape}")
        yield number, name, value


def parse_api_keys(text: str | None) -> dict[str, str]:
    """Reads API_KEYS (`name:key,name2:key2`) into {name: key}; raises ValueError saying what is wrong."""
    keys: dict[str, str] = {}
    for number, name, key in _pairs(text, "API_KEYS", "name:key"):
        if len(name) > KEY_NAME_MAX:
            raise ValueError(f"API_KEYS entry {number}: the name is longer than {KEY_NAME_MAX} characters")
        if name in keys:
            raise ValueError(f"API_KEYS names {name!r} twice")
        if key in keys.values():
            raise ValueError(f"API_KEYS entry {name!r} repeats another entry's key")
        keys[name] = key
    return keys


def parse_api_webhooks(text: str | None, key_names: frozenset[str] | None = None) -> dict[str, str]:
    """Reads API_WEBHOOKS (`name:url,...`, names of API_KEYS) into {name: url}; ValueError says why not."""
    webhooks: dict[str, str] = {}
    shape = "name:http(s)://url"
    for number, name, url in _pairs(text, "API_WEBHOOKS", shape):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"API_WEBHOOKS entry {number} must be {shape}")
        if name in webhooks:
            raise ValueError(f"API_WEBHOOKS names {name!r} twice")
        if key_names is not None and name not in key_names:
            raise ValueError(f"API_WEBHOOKS entry {name!r} names no key of API_KEYS")
        webhooks[name] = url
    return webhooks


# The one-time Telegram link of an order, by order id (None when the bot has no username to link to).
TelegramLinks = Callable[[str], Awaitable[str | None]]


def _errors_body(errors: list[dict[str, str]]) -> dict[str, Any]:
    """Wraps error records in the API's error document."""
    return {"errors": errors}


def _error_response(status: int, field: str, code: str, message: str, **headers: str) -> web.Response:
    """Answers one problem in the API's error document."""
    record = {"field": field, "code": code, "message": message}
    return web.json_response(_errors_body([record]), status=status, headers=headers or None)


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


def _unprocessable(errors: list[FieldError]) -> web.Response:
    """Answers 422 with every problem of the body."""
    return web.json_response(_errors_body([record(error) for error in errors]), status=422)


class IntakeApi:
    """The request handlers, bound to a unit-of-work factory, a clock and the API keys."""

    def __init__(
        self,
        uow_factory: Callable[[], PlatformUnitOfWork],
        clock: Clock,
        api_keys: Mapping[str, str],
        handlers: EventHandlers | None = None,
        sla: SlaContext | None = None,
        links: TelegramLinks | None = None,
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
        self._links = links

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
        body = await json_body(request)
        shape = Shape()
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
        idempotency_key = read_idempotency_key(request)
        body = await json_body(request)
        shape = Shape()
        draft = shape.draft(body, for_quote=False)
        if shape.errors:
            return _unprocessable(shape.merged(check_draft(draft, self._clock.now())))
        # A platform cannot name a Telegram user to receive the order (issue 12): the customer binds
        # their own chat through telegram_link. A malformed id is still refused, as documented.
        refused = [e for e in check_draft(draft, self._clock.now()) if e.field == "customer.telegram_user_id"]
        if refused:
            return _unprocessable(refused)
        draft = replace(draft, customer=replace(draft.customer, telegram_user_id=None))
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
        if self._links is not None:
            document["telegram_link"] = await self._links(order.id)
        headers = {"Location": f"{ORDERS_PATH}/{order.reference}"}
        if placed.replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.json_response(document, status=200 if placed.replayed else 201, headers=headers)

    async def _own_order(self, request: web.Request) -> tuple[Order, ApiOrderLink]:
        """The order of the path's reference that this key created, or ApiError 404."""
        reference = request.match_info["reference"]
        # Only text that can be a reference or an order number is looked up (no NUL reaches the database).
        plausible = 0 < len(reference) <= REFERENCE_MAX and reference.isascii() and reference.isprintable()
        found = None
        if plausible:
            found = await find_platform_order(self._uow_factory(), request[API_KEY_NAME], reference)
        if found is None:
            raise ApiError(
                404, "reference", "order.not_found", f"no order {reference} was created with this key"
            )
        return found

    async def get_order(self, request: web.Request) -> web.Response:
        """GET /orders/{reference}: the order's state, for the key that created it only."""
        order, link = await self._own_order(request)
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

    async def pay_order(self, request: web.Request) -> web.Response:
        """POST /orders/{reference}/payment: the platform reports the payment of an unpaid order."""
        body = await json_body(request)
        order, _link = await self._own_order(request)
        errors: list[FieldError] = []
        amount = None
        try:
            amount = parse_amount(body.get("amount"), field="amount")
        except InvalidInput as invalid:
            errors += invalid.errors
        currency = body.get("currency")
        if currency is None:
            errors.append(FieldError("currency", "field.required"))
        elif not isinstance(currency, str):
            errors.append(FieldError("currency", "type.string"))
        if errors or amount is None or not isinstance(currency, str):
            return _unprocessable(errors)
        try:
            paid = await record_platform_payment(
                cast(PaymentUnitOfWork, self._uow_factory()),
                order.id,
                amount=amount,
                currency=currency.strip(),
                clock=self._clock,
                handlers=self._handlers,
                sla=self._sla,
            )
        except IllegalTransition:
            raise ApiError(
                409,
                "reference",
                "order.not_payable",
                f"order {order.reference} no longer waits for a payment",
            ) from None
        except PaymentMismatch:
            expected = f"{_money(order.amount)} {order.currency}"
            got = f"{_money(amount)} {currency.strip().upper()[:8]}"
            return _unprocessable(
                [FieldError("amount", "amount.mismatch", {"expected": expected, "got": got})]
            )
        return web.json_response(
            {"reference": paid.reference, "status": paid.status.value, "paid": paid.paid}
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
        except ConnectionResetError:
            # The client is gone; aiohttp logs it as one line (api.http_log).
            raise
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
    links: TelegramLinks | None = None,
) -> web.Application:
    """Creates the aiohttp application of the platform intake API."""
    api = IntakeApi(uow_factory, clock, api_keys, handlers, sla, links)
    app = web.Application(
        middlewares=[api.middleware],
        client_max_size=client_max_size,
        handler_args=request_log_args(REQUEST_LOG_NAME),
    )
    app.router.add_post(QUOTES_PATH, api.quote)
    app.router.add_post(ORDERS_PATH, api.create_order)
    app.router.add_get(ORDER_PATH, api.get_order, allow_head=False)
    app.router.add_post(PAYMENT_PATH, api.pay_order)
    app.router.add_get(SERVICES_PATH, api.services, allow_head=False)
    app.router.add_get(OPENAPI_PATH, api.openapi, allow_head=False)
    return app
