"""The platform intake API (issue 3 part 4, R-1.1, R-2) over HTTP, on the fake unit of work."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.app import build_api_app, parse_api_keys
from api.openapi import ORDER_EXAMPLE, openapi_document
from api.shapes import (
    ADDRESS_FIELDS,
    CUSTOMER_FIELDS,
    ITEM_FIELDS,
    ORDER_FIELDS,
    PAYMENT_FIELDS,
)
from application.intake import place_order
from application.ports import PlatformUnitOfWork
from domain.clock import FixedClock
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft
from domain.orders.model import Order
from domain.orders.status import Channel, OrderStatus, Service
from tests.api.conftest import KEYS, T0, bearer
from tests.api.openapi_check import check_answer
from tests.fakes import FakeDatabase

Client = TestClient[web.Request, web.Application]
Uows = Callable[[], PlatformUnitOfWork]
ORDERS = "/api/v1/orders"
QUOTES = "/api/v1/quotes"
ORDER = "/api/v1/orders/{reference}"
SERVICES = "/api/v1/services"


def order_body(**changes: Any) -> dict[str, Any]:
    """A valid order body (the OpenAPI example), with top-level fields replaced."""
    body = copy.deepcopy(ORDER_EXAMPLE)
    body.update(changes)
    return body


async def post(
    client: Client, path: str, body: object, *, key: str = "shop-a", **headers: str
) -> tuple[int, Any, dict[str, str]]:
    """Posts a JSON body and checks the answer against the OpenAPI document."""
    response = await client.post(path, json=body, headers={**bearer(key), **headers})
    document = await response.json()
    check_answer("POST", path, response.status, document)
    return response.status, document, dict(response.headers)


async def stored_orders(new_uow: Uows) -> list[Order]:
    """Every order in the database."""
    async with new_uow() as uow:
        return await uow.orders.list_by_status(list(OrderStatus), limit=1000)


async def refused(client: Client, body: object) -> Any:
    """Posts an order body the API must refuse as unprocessable (422); returns the error document."""
    status, document, _ = await post(client, ORDERS, body)
    assert status == 422
    return document


def fields(document: dict[str, Any]) -> list[str]:
    """The field paths of an error document."""
    return [error["field"] for error in document["errors"]]


def error_of(document: dict[str, Any], field: str) -> dict[str, str]:
    """The one error about a field."""
    matching = [error for error in document["errors"] if error["field"] == field]
    assert len(matching) == 1, document
    return matching[0]


async def test_valid_order_is_stored_waiting_for_review_with_its_audit(client: Client, new_uow: Uows) -> None:
    status, document, headers = await post(client, ORDERS, order_body())

    assert status == 201
    assert document["status"] == "pending_review"
    assert document["number"] is None
    assert document["external_ref"] == "SHOP-10042"
    assert document["second_review_required"] is False
    assert document["quote"]["amount"] == "201.00"
    assert document["quote"]["currency"] == "CNY"
    assert [line["code"] for line in document["quote"]["breakdown"]] == [
        "freight.first_weight",
        "freight.additional_weight",
        "surcharge.fragile",
    ]
    assert headers["Location"] == f"{ORDERS}/{document['reference']}"

    [order] = await stored_orders(new_uow)
    assert order.reference == document["reference"]
    assert order.status is OrderStatus.PENDING_REVIEW
    assert order.channel is Channel.PLATFORM_API
    assert order.customer.phone == "+4915123456789"
    assert order.address.postcode == "10117"
    assert order.amount == Decimal("201.00") and order.currency == "CNY" and order.paid
    # unit_value is per piece; the stored declared value is the line's.
    assert [item.declared_value for item in order.items] == [Decimal("79.8"), Decimal("62.50")]
    assert [(e.action, e.from_status, e.to_status) for e in order.audit] == [
        ("submit", None, OrderStatus.SUBMITTED),
        ("pass_validation", OrderStatus.SUBMITTED, OrderStatus.PENDING_REVIEW),
    ]
    assert "shop-a" in order.audit[0].note and "SHOP-10042" in order.audit[0].note
    assert order.audit[0].at == T0


async def test_quote_prices_an_order_without_payment_and_stores_nothing(
    client: Client, new_uow: Uows
) -> None:
    body = {key: ORDER_EXAMPLE[key] for key in ("address", "items", "service")}

    status, document, _ = await post(client, QUOTES, {**body, "urgent": True})

    assert status == 200
    # 185.00 freight + 16.00 fragile + 30 % of the freight for urgency.
    assert document["amount"] == "256.50"
    assert document["zone"] == "B" and document["chargeable_weight_kg"] == "3.0"
    assert document["breakdown"][-1] == {
        "code": "surcharge.urgent",
        "description": "urgent handling: 30% of the freight",
        "amount": "55.50",
    }
    assert await stored_orders(new_uow) == []


async def test_quote_lists_what_the_price_needs(client: Client) -> None:
    status, document, _ = await post(
        client, QUOTES, {"address": {"country": "Atlantis"}, "items": [{"name": "gunpowder"}]}
    )

    assert status == 422
    assert fields(document) == [
        "address.country",
        "items[0].name",
        "items[0].quantity",
        "items[0].weight_kg",
        "items[0].unit_value",
        "service",
    ]
    assert error_of(document, "items[0].name")["code"] == "goods.prohibited"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "auth.missing"),
        ({"Authorization": "Bearer wrong-key"}, "auth.invalid"),
        ({"Authorization": f"Basic {KEYS['shop-a']}"}, "auth.missing"),
        ({"Authorization": "Bearer "}, "auth.missing"),
        ({"Authorization": f"Bearer {KEYS['shop-a']}x"}, "auth.invalid"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", ORDERS), ("POST", QUOTES), ("GET", SERVICES)])
async def test_a_request_without_a_valid_key_is_refused(
    client: Client,
    new_uow: Uows,
    headers: dict[str, str],
    code: str,
    method: str,
    path: str,
) -> None:
    response = await client.request(method, path, json=order_body(), headers=headers)

    document = await response.json()
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert document["errors"][0]["code"] == code
    check_answer(method, path, 401, document)
    assert await stored_orders(new_uow) == []


async def test_get_order_also_needs_a_key(client: Client) -> None:
    response = await client.get("/api/v1/orders/R-0000000")
    assert response.status == 401
    check_answer("GET", ORDER, 401, await response.json())


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (b"customer=Anna", "body.not_json", "not valid JSON: Expecting value at line 1 column 1"),
        (b'{"customer": ', "body.not_json", "not valid JSON"),
        (b"", "body.empty", "empty"),
        (b"[1, 2]", "body.not_object", "must be a JSON object"),
        (b'"order"', "body.not_object", "must be a JSON object"),
        (b'{"items": NaN}', "body.not_json", "NaN is not a JSON number"),
        (b"\xff\xfe\x00{", "body.not_json", "not valid JSON"),
    ],
)
@pytest.mark.parametrize("path", [ORDERS, QUOTES])
async def test_a_body_that_is_not_a_json_object_is_a_bad_request(
    client: Client, raw: bytes, code: str, words: str, path: str
) -> None:
    response = await client.post(
        path, data=raw, headers={**bearer("shop-a"), "Content-Type": "application/json"}
    )

    document = await response.json()
    assert response.status == 400
    assert document["errors"][0]["code"] == code
    assert words in document["errors"][0]["message"]
    check_answer("POST", path, 400, document)


async def test_every_problem_is_listed_at_once_with_its_field_path(client: Client, new_uow: Uows) -> None:
    body = order_body(
        customer={"name": "Anna Schmidt", "phone": "12345", "email": "anna@"},
        address={"country": "DE", "city": "Berlin", "street": "Unter den Linden 1", "postcode": "1234"},
        items=[
            {"name": "", "quantity": 1, "weight_kg": 1, "unit_value": 10},
            {"name": "Tea", "quantity": "abc", "weight_kg": -2, "unit_value": "lots"},
        ],
        service="rocket",
    )

    document = await refused(client, body)

    assert sorted(fields(document)) == sorted(
        [
            "customer.phone",
            "customer.email",
            "address.postcode",
            "items[0].name",
            "items[1].quantity",
            "items[1].weight_kg",
            "items[1].unit_value",
            "service",
        ]
    )
    postcode = error_of(document, "address.postcode")
    assert postcode["code"] == "postcode.format"
    assert postcode["message"] == (
        "address.postcode: '1234' is not a postcode of Germany; please check it, e.g. 26133"
    )
    assert error_of(document, "items[1].quantity")["message"].startswith(
        "items[1].quantity: the quantity must be a whole number"
    )
    assert error_of(document, "items[1].unit_value")["code"] == "item.value_invalid"
    assert "air_freight" in error_of(document, "service")["message"]
    assert await stored_orders(new_uow) == []


async def test_wrong_json_types_are_field_errors_not_server_errors(client: Client) -> None:
    body = {
        "customer": "Anna",
        "address": {"country": 49, "city": ["Berlin"], "street": "Unter den Linden 1", "postcode": "10117"},
        "items": [
            {"name": {"en": "tea"}, "quantity": [2], "weight_kg": True, "unit_value": 1, "fragile": "yes"},
            7,
        ],
        "service": "air_freight",
        "payment": {"method": "card", "amount": {"value": 1}, "currency": "CNY", "paid": "yes"},
        "urgent": 1,
        "remark": "typo",
    }

    document = await refused(client, body)

    assert sorted(fields(document)) == sorted(
        [
            "remark",
            "customer",
            "address.country",
            "address.city",
            "items[0].name",
            "items[0].quantity",
            "items[0].weight_kg",
            "items[0].fragile",
            "items[1]",
            "payment.amount",
            "payment.paid",
            "urgent",
        ]
    )
    codes = {error["field"]: error["code"] for error in document["errors"]}
    assert codes["customer"] == "type.object"
    assert codes["remark"] == "field.unknown"
    assert codes["items[0].quantity"] == "type.number"
    assert codes["items[1]"] == "type.object"
    assert codes["payment.paid"] == "type.boolean"
    assert error_of(document, "customer")["message"] == "customer: must be a JSON object"


async def test_missing_objects_are_reported_once(client: Client) -> None:
    status, document, _ = await post(client, ORDERS, {"service": "air_freight", "items": []})

    assert status == 422
    assert fields(document) == ["customer", "address", "payment", "items"]
    assert {error["code"] for error in document["errors"]} == {"field.required", "items.required"}


async def test_payment_must_equal_the_quote_and_the_error_states_the_expected_amount(
    client: Client, new_uow: Uows
) -> None:
    body = order_body(payment={"method": "card", "amount": 200, "currency": "CNY", "paid": True})

    document = await refused(client, body)

    [error] = document["errors"]
    assert error["field"] == "payment.amount" and error["code"] == "amount.mismatch"
    assert "201.00 CNY" in error["message"]
    assert await stored_orders(new_uow) == []


async def test_payment_in_another_currency_is_refused(client: Client) -> None:
    body = order_body(payment={"method": "card", "amount": "201.00", "currency": "EUR", "paid": True})

    document = await refused(client, body)

    assert error_of(document, "payment.amount")["message"].endswith(
        "please pay 201.00 CNY or change the service"
    )


async def test_prohibited_goods_are_refused(client: Client, new_uow: Uows) -> None:
    items = [{"name": "Fireworks", "quantity": 1, "weight_kg": 1, "unit_value": 10}]

    status, document, _ = await post(client, ORDERS, order_body(items=items))

    assert status == 422
    error = error_of(document, "items[0].name")
    assert error["code"] == "goods.prohibited"
    assert "explosives" in error["message"] and "cannot ship" in error["message"]
    assert await stored_orders(new_uow) == []


async def test_goods_needing_review_are_accepted_and_flagged_for_second_review(
    client: Client, new_uow: Uows
) -> None:
    items = [{"name": "Lithium battery pack", "quantity": 1, "weight_kg": 1, "unit_value": 10}]
    payment = {"method": "card", "amount": "85.00", "currency": "CNY", "paid": False}

    status, document, _ = await post(client, ORDERS, order_body(items=items, payment=payment))

    assert status == 201
    assert document["second_review_required"] is True
    [order] = await stored_orders(new_uow)
    assert order.audit[-1].action == "needs_second_review"
    assert "items[0].name 'lithium battery' (lithium_batteries)" in order.audit[-1].note


async def test_a_retry_with_the_same_key_and_body_gets_the_same_order(client: Client, new_uow: Uows) -> None:
    first = await post(client, ORDERS, order_body(), **{"Idempotency-Key": "order-42"})
    # The same body with other key order and spacing is the same request.
    raw = json.dumps(dict(reversed(list(order_body().items()))), indent=4)
    response = await client.post(
        ORDERS, data=raw, headers={**bearer("shop-a"), "Idempotency-Key": "order-42"}
    )
    again = await response.json()

    assert first[0] == 201 and "Idempotent-Replayed" not in first[2]
    assert response.status == 200
    assert response.headers["Idempotent-Replayed"] == "true"
    check_answer("POST", ORDERS, 200, again)
    assert again == first[1]
    assert len(await stored_orders(new_uow)) == 1


async def test_the_same_key_with_another_body_is_a_conflict(client: Client, new_uow: Uows) -> None:
    _, created, _ = await post(client, ORDERS, order_body(), **{"Idempotency-Key": "order-43"})

    status, document, _ = await post(
        client, ORDERS, order_body(remarks="leave at the door"), **{"Idempotency-Key": "order-43"}
    )

    assert status == 409
    error = error_of(document, "Idempotency-Key")
    assert error["code"] == "idempotency.conflict"
    assert created["reference"] in error["message"]
    assert len(await stored_orders(new_uow)) == 1


async def test_idempotency_keys_belong_to_each_api_key(client: Client, new_uow: Uows) -> None:
    _, first, _ = await post(client, ORDERS, order_body(), key="shop-a", **{"Idempotency-Key": "k-1"})
    status, second, _ = await post(client, ORDERS, order_body(), key="shop-b", **{"Idempotency-Key": "k-1"})

    assert status == 201
    assert second["reference"] != first["reference"]
    assert len(await stored_orders(new_uow)) == 2


async def test_without_an_idempotency_key_each_request_is_a_new_order(client: Client, new_uow: Uows) -> None:
    first = await post(client, ORDERS, order_body())
    second = await post(client, ORDERS, order_body())

    assert (first[0], second[0]) == (201, 201)
    assert first[1]["reference"] != second[1]["reference"]
    assert len(await stored_orders(new_uow)) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "with space"])
async def test_a_malformed_idempotency_key_is_a_bad_request(client: Client, key: str) -> None:
    status, document, _ = await post(client, ORDERS, order_body(), **{"Idempotency-Key": key})

    assert status == 400
    assert error_of(document, "Idempotency-Key")["code"] == "idempotency_key.invalid"


async def test_an_order_is_visible_only_to_the_key_that_created_it(
    client: Client, new_uow: Uows, clock: FixedClock
) -> None:
    _, created, _ = await post(client, ORDERS, order_body())
    reference = created["reference"]
    chat_order = await place_order(new_uow(), chat_draft(), clock)

    own = await client.get(f"{ORDERS}/{reference}", headers=bearer("shop-a"))
    own_lower = await client.get(f"{ORDERS}/{reference.lower()}", headers=bearer("shop-a"))
    other = await client.get(f"{ORDERS}/{reference}", headers=bearer("shop-b"))
    not_api = await client.get(f"{ORDERS}/{chat_order.order.reference}", headers=bearer("shop-a"))
    unknown = await client.get(f"{ORDERS}/R-NOSUCH00", headers=bearer("shop-a"))

    document = await own.json()
    assert own.status == 200 and own_lower.status == 200
    check_answer("GET", ORDER, 200, document)
    assert document == {
        "reference": reference,
        "number": None,
        "status": "pending_review",
        "service": "air_freight",
        "amount": "201.00",
        "currency": "CNY",
        "paid": True,
        "urgent": False,
        "external_ref": "SHOP-10042",
        "created_at": T0.isoformat(),
    }
    for response in (other, not_api, unknown):
        assert response.status == 404
        body = await response.json()
        check_answer("GET", ORDER, 404, body)
        assert body["errors"][0]["code"] == "order.not_found"


def chat_draft() -> OrderDraft:
    """A valid order from the customer's chat."""
    return OrderDraft(
        customer=CustomerDraft("Li Wei", phone="13800138000", telegram_user_id=555),
        address=AddressDraft("CN", "Shanghai", "Nanjing Road 100", "200001"),
        items=[ItemDraft("Tea", 1, "0.5", "20")],
        service="sea_freight",
        payment_method="alipay",
    )


async def test_services_lists_the_catalogue(client: Client) -> None:
    response = await client.get(SERVICES, headers=bearer("shop-b"))

    document = await response.json()
    assert response.status == 200
    check_answer("GET", SERVICES, 200, document)
    assert [service["code"] for service in document["services"]] == [service.value for service in Service]
    air = document["services"][0]
    assert air["name"] == "International air freight + customs agency"
    assert air["rates"]["B"] == {"first_rate": "85.00", "additional_rate": "25.00"}
    assert "DE" in document["zones"]["B"] and document["default_zone"] == "D"


async def test_unknown_routes_and_methods_answer_in_json(client: Client) -> None:
    missing = await client.get("/api/v1/nothing", headers=bearer("shop-a"))
    wrong_method = await client.delete(ORDERS, headers=bearer("shop-a"))

    assert missing.status == 404
    assert (await missing.json())["errors"][0]["code"] == "http.404"
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_every_route_is_documented_and_every_documented_operation_is_served() -> None:
    app = build_api_app(FakeDatabase().unit_of_work, FixedClock(T0), KEYS)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    document = openapi_document()
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}

    assert served == documented
    assert document["openapi"].startswith("3.1")


def test_the_documented_request_fields_are_the_ones_the_api_reads() -> None:
    schemas = openapi_document()["components"]["schemas"]
    order = schemas["OrderRequest"]["properties"]

    assert set(order) == ORDER_FIELDS
    assert set(order["customer"]["properties"]) == CUSTOMER_FIELDS
    assert set(order["address"]["properties"]) == ADDRESS_FIELDS
    assert set(order["items"]["items"]["properties"]) == ITEM_FIELDS
    assert set(order["payment"]["properties"]) == PAYMENT_FIELDS
    assert schemas["QuoteRequest"]["properties"] == order


async def test_the_openapi_document_is_served_without_a_key(client: Client) -> None:
    response = await client.get("/api/v1/openapi.json")

    assert response.status == 200
    assert await response.json() == json.loads(json.dumps(openapi_document()))


def test_api_keys_are_read_from_name_key_pairs() -> None:
    assert parse_api_keys(" shop-a:k1 , shop-b:k:2,") == {"shop-a": "k1", "shop-b": "k:2"}
    assert parse_api_keys(None) == {}
    for bad, words in [
        ("shop-a", "name:key"),
        (":k", "name:key"),
        ("a:k1,a:k2", "twice"),
        ("a:k,b:k", "repeats"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_api_keys(bad)


def test_the_app_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        build_api_app(FakeDatabase().unit_of_work, FixedClock(T0), {})
