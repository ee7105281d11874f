"""The OpenAPI 3.1 document of the platform intake API (tests/api keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any

from domain.intake.drafts import TELEGRAM_USER_ID_MAX
from domain.intake.requirements import REQUEST_NOTE_MAX, REQUESTS_MAX
from domain.orders.special import RequestKind, SpecialService
from domain.orders.status import OrderStatus, Service

NUMBER = {"type": ["number", "string"], "description": 'a number, or a string holding one (e.g. "1.5")'}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["245.80"]}
NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    """Points at a schema of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """A JSON response with its schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


def _errors(description: str) -> dict[str, Any]:
    """An error response."""
    return _json(_ref("Errors"), description)


ORDER_EXAMPLE: dict[str, Any] = {
    "customer": {"name": "Anna Schmidt", "phone": "+49 1512 3456789", "email": "anna@example.com"},
    "address": {"country": "DE", "city": "Berlin", "street": "Unter den Linden 1", "postcode": "10117"},
    "items": [
        {
            "name": "Tea set",
            "quantity": 2,
            "weight_kg": 1.2,
            "unit_value": 39.9,
            "sku": "TEA-01",
            "fragile": True,
        },
        {"name": "Silk scarf", "quantity": 5, "weight_kg": 0.1, "unit_value": "12.50", "hs_code": "6214.10"},
    ],
    "service": "air_freight",
    "payment": {"method": "card", "amount": "201.00", "currency": "CNY", "paid": True},
    "urgent": False,
    "remarks": "ring twice",
    "external_ref": "SHOP-10042",
}

_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "quantity", "weight_kg", "unit_value"],
    "properties": {
        "name": {
            "type": "string",
            "description": "what the goods are; screened against the prohibited-goods list",
        },
        "quantity": {**NUMBER, "description": "pieces, a whole number from 1 to 10000"},
        "weight_kg": {
            **NUMBER,
            "description": "weight of one piece in kg, more than 0, at most 1000, at most 3 decimals",
        },
        "unit_value": {
            **NUMBER,
            "description": "declared value of one piece, in the payment currency, at most 2 decimals",
        },
        "sku": {"type": "string", "maxLength": 64},
        "fragile": {"type": "boolean", "default": False},
        "hs_code": {
            "type": "string",
            "description": "6 to 10 digits; dots and spaces allowed, e.g. 8517.12; required on every line "
            "when a business ships to a destination whose customs ask for it",
        },
        **{
            name: {
                **NUMBER,
                "description": f"{side} of one piece in cm, more than 0, at most 1000; "
                "give all three or none (volumetric weight, oversize cargo)",
            }
            for name, side in (("length_cm", "length"), ("width_cm", "width"), ("height_cm", "height"))
        },
    },
}

_ORDER_PROPERTIES: dict[str, Any] = {
    "customer": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "description": "phone or email is required (or both)",
        "properties": {
            "name": {"type": "string", "maxLength": 100},
            "phone": {
                "type": "string",
                "description": "international (+...) or national for the destination",
            },
            "email": {"type": "string", "format": "email"},
            "telegram_user_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": TELEGRAM_USER_ID_MAX,
                "deprecated": True,
                "description": "ignored: the bot never messages a Telegram user a platform names; "
                "show the customer the answer's telegram_link instead",
            },
            "business": {
                "type": "boolean",
                "default": False,
                "description": "a business (seller, brand) rather than an individual",
            },
        },
    },
    "address": {
        "type": "object",
        "additionalProperties": False,
        "required": ["country", "city", "street"],
        "description": "postcode is required where the country has postcodes, in its format",
        "properties": {
            "country": {"type": "string", "description": "ISO 3166-1 code, e.g. DE"},
            "city": {"type": "string"},
            "street": {"type": "string"},
            "postcode": {"type": "string"},
            "region": {"type": "string", "maxLength": 100, "description": "state, province or prefecture"},
        },
    },
    "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": _ITEM},
    "service": {"type": "string", "enum": [service.value for service in Service]},
    "payment": {
        "type": "object",
        "additionalProperties": False,
        "required": ["method", "amount", "currency", "paid"],
        "properties": {
            "method": {"type": "string", "maxLength": 32},
            "amount": {**NUMBER, "description": "must equal the quote to the cent (at most 2 decimals)"},
            "currency": {"type": "string", "description": "the quote's currency"},
            "paid": {"type": "boolean"},
        },
    },
    "urgent": {"type": "boolean", "default": False, "description": "urgent handling, with a surcharge"},
    "remarks": {"type": "string", "maxLength": 500},
    "external_ref": {"type": "string", "maxLength": 100, "description": "the platform's own order id"},
    "special_requests": {
        "type": "array",
        "maxItems": REQUESTS_MAX,
        "description": "checked at the first review (R-3.1)",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "note"],
            "properties": {
                "kind": {"type": "string", "enum": [kind.value for kind in RequestKind]},
                "note": {
                    "type": "string",
                    "maxLength": REQUEST_NOTE_MAX,
                    "description": "e.g. the agent's name",
                },
            },
        },
    },
    "delivery_by": {
        "type": "string",
        "format": "date",
        "description": "the date the goods must arrive by, after today; the review checks it against "
        "the expected delivery",
    },
    "special_services": {
        "type": "array",
        "description": "chosen special services (second review); oversize also follows from size and weight; "
        "custom_warehouse only with overseas_warehouse",
        "items": {"type": "string", "enum": [service.value for service in SpecialService]},
    },
}

_QUOTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["amount", "currency", "service", "zone", "chargeable_weight_kg", "breakdown"],
    "properties": {
        "amount": MONEY,
        "currency": {"type": "string"},
        "service": {"type": "string"},
        "zone": {"type": "string"},
        "chargeable_weight_kg": {"type": "string"},
        "breakdown": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "description", "amount"],
                "properties": {
                    "code": {"type": "string"},
                    "description": {"type": "string"},
                    "amount": MONEY,
                },
            },
        },
    },
}

_STATUS = {"type": "string", "enum": [status.value for status in OrderStatus]}

_SCHEMAS: dict[str, Any] = {
    "OrderRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["customer", "address", "items", "service", "payment"],
        "properties": _ORDER_PROPERTIES,
    },
    "QuoteRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["address", "items", "service"],
        "description": "an order without payment; only address.country, items, service and urgent "
        "set the price",
        "properties": _ORDER_PROPERTIES,
    },
    "Quote": _QUOTE,
    "OrderCreated": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reference", "number", "status", "external_ref", "second_review_required", "quote"],
        "properties": {
            "reference": {"type": "string", "examples": ["R-7K3F9P2Q"]},
            "number": {**NULLABLE_STRING, "description": "the formal number, given on confirmation"},
            "status": _STATUS,
            "external_ref": NULLABLE_STRING,
            "second_review_required": {
                "type": "boolean",
                "description": "goods allowed only after a second review",
            },
            "quote": _ref("Quote"),
            "telegram_link": {
                **NULLABLE_STRING,
                "format": "uri",
                "description": "a one-time https://t.me/<bot>?start=<token> link for the customer: opening "
                "it binds their Telegram chat to the order, and the order's updates go there",
                "examples": ["https://t.me/OrderDeskBot?start=Vb3kq0..."],
            },
        },
    },
    "Order": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "reference",
            "number",
            "status",
            "service",
            "amount",
            "currency",
            "paid",
            "urgent",
            "external_ref",
            "created_at",
        ],
        "properties": {
            "reference": {"type": "string"},
            "number": NULLABLE_STRING,
            "status": _STATUS,
            "service": {"type": "string"},
            "amount": MONEY,
            "currency": {"type": "string"},
            "paid": {"type": "boolean"},
            "urgent": {"type": "boolean"},
            "external_ref": NULLABLE_STRING,
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Services": {
        "type": "object",
        "additionalProperties": False,
        "required": ["currency", "default_zone", "zones", "services"],
        "properties": {
            "currency": {"type": "string"},
            "default_zone": {"type": "string", "description": "the zone of every country not listed"},
            "zones": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [
                        "code",
                        "name",
                        "international",
                        "first_kg",
                        "step_kg",
                        "volumetric_divisor",
                        "rates",
                    ],
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "international": {"type": "boolean"},
                        "first_kg": {"type": "string"},
                        "step_kg": {"type": "string"},
                        "volumetric_divisor": {"type": "string"},
                        "rates": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["first_rate", "additional_rate"],
                                "properties": {"first_rate": MONEY, "additional_rate": MONEY},
                            },
                        },
                    },
                },
            },
        },
    },
    "PaymentReport": {
        "type": "object",
        "required": ["amount", "currency"],
        "properties": {
            "amount": {**NUMBER, "description": 'exactly the order\'s amount, e.g. "85.00"'},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3, "examples": ["CNY"]},
        },
    },
    "PaymentRecorded": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reference", "status", "paid"],
        "properties": {
            "reference": {"type": "string"},
            "status": {"type": "string", "enum": [status.value for status in OrderStatus]},
            "paid": {"type": "boolean", "const": True},
        },
    },
    "Errors": {
        "type": "object",
        "additionalProperties": False,
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["field", "code", "message"],
                    "properties": {
                        "field": {"type": "string", "examples": ["address.postcode", "items[0].name"]},
                        "code": {"type": "string", "examples": ["postcode.format"]},
                        "message": {"type": "string"},
                    },
                },
            }
        },
    },
}

_UNAUTHORIZED = _errors("no valid API key in 'Authorization: Bearer <key>'")
_NOT_JSON = _errors("the body is not a JSON object, or could not be read")
_INVALID = _errors("every problem of the body at once, each with its field path")
_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "the order's URL"}}

_REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "the reference from the order's creation, or its formal number",
}

_PATHS: dict[str, Any] = {
    "/api/v1/quotes": {
        "post": {
            "operationId": "createQuote",
            "summary": "Price an order before placing it",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("QuoteRequest"), "example": ORDER_EXAMPLE}},
            },
            "responses": {
                "200": _json(_ref("Quote"), "the price with its breakdown"),
                "400": _NOT_JSON,
                "401": _UNAUTHORIZED,
                "422": _INVALID,
            },
        }
    },
    "/api/v1/orders": {
        "post": {
            "operationId": "createOrder",
            "summary": "Place an order",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "retrying with the same key and body returns the same order (200); "
                    "the same key with another body is refused (409)",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("OrderRequest"), "example": ORDER_EXAMPLE}},
            },
            "responses": {
                "201": _json(
                    _ref("OrderCreated"), "the order was placed and waits for review", headers=_LOCATION
                ),
                "200": _json(
                    _ref("OrderCreated"),
                    "a retry: the order an earlier request with this Idempotency-Key placed",
                    headers={
                        **_LOCATION,
                        "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}},
                    },
                ),
                "400": _NOT_JSON,
                "401": _UNAUTHORIZED,
                "409": _errors("the Idempotency-Key was used for a different body"),
                "422": _INVALID,
            },
        }
    },
    "/api/v1/orders/{reference}": {
        "get": {
            "operationId": "getOrder",
            "summary": "An order's state; only orders created with the same key are found",
            "parameters": [_REFERENCE],
            "responses": {
                "200": _json(_ref("Order"), "the order"),
                "401": _UNAUTHORIZED,
                "404": _errors("no such order for this key"),
            },
        }
    },
    "/api/v1/orders/{reference}/payment": {
        "post": {
            "operationId": "payOrder",
            "summary": "Report that the customer paid an unpaid order, at exactly its amount (issue 12)",
            "parameters": [_REFERENCE],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": _ref("PaymentReport"),
                        "example": {"amount": "85.00", "currency": "CNY"},
                    }
                },
            },
            "responses": {
                "200": _json(_ref("PaymentRecorded"), "the order is paid (also when it was paid already)"),
                "400": _NOT_JSON,
                "401": _UNAUTHORIZED,
                "404": _errors("no such order for this key"),
                "409": _errors("the order no longer waits for a payment (e.g. cancelled)"),
                "422": _errors("the amount or currency is missing, malformed or not the order's"),
            },
        }
    },
    "/api/v1/services": {
        "get": {
            "operationId": "listServices",
            "summary": "The service catalogue with rates per destination zone",
            "responses": {"200": _json(_ref("Services"), "the services"), "401": _UNAUTHORIZED},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
        }
    },
}


_WEBHOOK_EVENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "type", "created_at", "order"],
    "properties": {
        "id": {"type": "string", "description": "the event id: the same on every retry of this event"},
        "type": {
            "type": "string",
            "description": "order.<new status>, e.g. order.confirmed, order.outbound, order.delivered",
            "examples": ["order.confirmed"],
        },
        "created_at": {"type": "string", "format": "date-time"},
        "order": {
            "type": "object",
            "required": ["reference", "number", "status"],
            "properties": {
                "reference": {"type": "string"},
                "number": NULLABLE_STRING,
                "status": _STATUS,
                "previous_status": _STATUS,
                "external_ref": NULLABLE_STRING,
                "service": {"type": "string"},
                "amount": {"type": "string"},
                "currency": {"type": "string"},
                "paid": {"type": "boolean"},
                "tracking": {
                    "type": "object",
                    "description": "carrier, waybill and eta once known",
                    "properties": {
                        "carrier": {"type": "string"},
                        "waybill": {"type": "string"},
                        "eta": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    },
}
_WEBHOOKS: dict[str, Any] = {
    "orderEvent": {
        "post": {
            "summary": "A status change of an order the platform placed (API_WEBHOOKS)",
            "description": "POSTed to the platform's URL for every status change of its orders. "
            "Header X-OrderDesk-Signature: sha256=<hex HMAC-SHA256 of the raw request body, keyed by the "
            "platform's API key>; X-OrderDesk-Event-Id repeats the body's id. Verify the signature over "
            "the exact bytes received. Anything but a 2xx answer is retried with an exponential backoff "
            "(the same body and id every time), so deduplicate by id.",
            "parameters": [
                {
                    "name": "X-OrderDesk-Signature",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                },
                {
                    "name": "X-OrderDesk-Event-Id",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _WEBHOOK_EVENT}},
            },
            "responses": {"2XX": {"description": "received; any other answer is retried"}},
        }
    }
}


def openapi_document() -> dict[str, Any]:
    """Returns the OpenAPI 3.1 document of the intake API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OrderDesk platform intake API",
            "version": "1.0.0",
            "description": "E-commerce platforms quote and place orders (R-1.1). "
            "Amounts are decimal strings. "
            "Text is checked and stored in Unicode NFKC form with whitespace collapsed, so lengths count "
            "that form; control characters are refused (text.control), and no order's price may exceed "
            "9,999,999,999.99 (order.total_too_large). "
            'Errors answer {"errors": [{"field", "code", "message"}]}.',
        },
        "security": [{"bearerAuth": []}],
        "paths": _PATHS,
        "webhooks": _WEBHOOKS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _SCHEMAS,
        },
    }
