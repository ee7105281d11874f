"""The platform API accepts and keeps what review, the warehouse and customs need (issue 19).

Per line: SKU, fragile, HS code and size (volumetric pricing and oversize follow from it); per
order: a business customer, special requests, a delivery date and chosen special services. Every
answer is checked against the OpenAPI document (tests/api/openapi_check.py).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.review import ReviewPolicy, SecondReviewCause, second_review_reasons
from tests.api.test_intake_api import (
    ORDERS,
    QUOTES,
    Client,
    Uows,
    error_of,
    fields,
    order_body,
    post,
    stored_orders,
)

POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY")
REQUESTS = [
    {"kind": "customs_agent", "note": "Agent Müller GmbH, EORI DE123456789"},
    {"kind": "special_labels", "note": "a 'fragile' label on every carton"},
]


def with_items(*changes: dict[str, Any], **order: Any) -> dict[str, Any]:
    """The example order with the goods lines' fields changed, line by line."""
    body = order_body(**order)
    for line, change in zip(body["items"], changes, strict=False):
        line.update(change)
    payment = copy.deepcopy(body["payment"])
    body["payment"] = payment
    return body


async def paid_at_quote(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """The body with its payment set to what the quote asks."""
    status, quote, _ = await post(client, QUOTES, {k: v for k, v in body.items() if k != "payment"})
    assert status == 200, quote
    body["payment"]["amount"] = quote["amount"]
    return body


async def test_the_order_keeps_every_detail(client: Client, new_uow: Uows) -> None:
    body = with_items(
        {"hs_code": "6911.10", "length_cm": 30, "width_cm": "20", "height_cm": 15.5},
        {"sku": "SCARF-5"},
        customer={"name": "Anna Schmidt", "phone": "+49 1512 3456789", "business": True},
        special_requests=REQUESTS,
        delivery_by="2026-04-30",
        special_services=["oversize"],
    )
    body["items"][1]["hs_code"] = "621410"
    status, document, _ = await post(client, ORDERS, await paid_at_quote(client, body))

    assert status == 201, document
    [order] = await stored_orders(new_uow)
    tea, scarf = order.items
    assert (tea.sku, tea.fragile, tea.hs_code) == ("TEA-01", True, "691110")
    assert (tea.length_cm, tea.width_cm, tea.height_cm) == (Decimal(30), Decimal(20), Decimal("15.5"))
    assert (scarf.sku, scarf.hs_code, scarf.length_cm) == ("SCARF-5", "621410", None)
    assert order.customer.business
    assert order.requirements == Requirements(
        special_requests=(
            SpecialRequest(RequestKind.CUSTOMS_AGENT, "Agent Müller GmbH, EORI DE123456789"),
            SpecialRequest(RequestKind.SPECIAL_LABELS, "a 'fragile' label on every carton"),
        ),
        delivery_by=date(2026, 4, 30),
        special_services=frozenset({SpecialService.OVERSIZE}),
    )
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.OVERSIZE]


async def test_the_size_prices_by_volume_and_makes_a_large_line_oversize(
    client: Client, new_uow: Uows
) -> None:
    small = with_items({})
    bulky = with_items({"length_cm": 130, "width_cm": 60, "height_cm": 60})
    _, small_quote, _ = await post(client, QUOTES, {k: v for k, v in small.items() if k != "payment"})
    _, bulky_quote, _ = await post(client, QUOTES, {k: v for k, v in bulky.items() if k != "payment"})

    # 130 x 60 x 60 / 6000 = 78 kg a piece, two pieces: the volumetric weight is charged.
    assert Decimal(bulky_quote["chargeable_weight_kg"]) > Decimal(small_quote["chargeable_weight_kg"])
    assert Decimal(bulky_quote["chargeable_weight_kg"]) >= Decimal(156)
    status, _, _ = await post(client, ORDERS, await paid_at_quote(client, bulky))
    assert status == 201
    [order] = await stored_orders(new_uow)
    # The longest side (130 cm) reaches the oversize rule's 120 cm.
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.OVERSIZE]


async def test_a_please_call_the_customer_remark_asks_for_no_second_review(
    client: Client, new_uow: Uows
) -> None:
    body = with_items(
        service="overseas_warehouse", remarks="please call the customer first, customs papers inside"
    )
    status, document, _ = await post(client, ORDERS, await paid_at_quote(client, body))

    assert status == 201, document
    [order] = await stored_orders(new_uow)
    assert second_review_reasons(order, POLICY) == []


async def test_the_custom_warehouse_service_is_chosen_explicitly(client: Client, new_uow: Uows) -> None:
    body = with_items(service="overseas_warehouse", special_services=["custom_warehouse"])
    status, _, _ = await post(client, ORDERS, await paid_at_quote(client, body))

    assert status == 201
    [order] = await stored_orders(new_uow)
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.CUSTOM_WAREHOUSE]


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        (
            {"special_requests": [{"kind": "bribe", "note": "x"}]},
            "special_requests[0].kind",
            "request.kind_unknown",
        ),
        (
            {"special_requests": [{"kind": "other", "note": " "}]},
            "special_requests[0].note",
            "request.note_required",
        ),
        (
            {"special_requests": [{"kind": "other", "note": "n" * 201}]},
            "special_requests[0].note",
            "request.note_too_long",
        ),
        ({"special_requests": [{"kind": "other", "note": "x"}] * 6}, "special_requests", "requests.too_many"),
        ({"special_requests": [{"kind": "other"}]}, "special_requests[0].note", "request.note_required"),
        (
            {"special_requests": [{"kind": "other", "note": "x", "colour": "red"}]},
            "special_requests[0].colour",
            "field.unknown",
        ),
        ({"special_requests": "customs agent"}, "special_requests", "type.array"),
        ({"delivery_by": "next week"}, "delivery_by", "delivery_by.invalid"),
        ({"delivery_by": "2026-03-16"}, "delivery_by", "delivery_by.past"),
        ({"delivery_by": 20260401}, "delivery_by", "type.string"),
        ({"special_services": ["teleport"]}, "special_services[0]", "special_service.unknown"),
        ({"special_services": ["custom_warehouse"]}, "special_services[0]", "special_service.not_offered"),
        ({"special_services": [1]}, "special_services[0]", "type.string"),
        (
            {"customer": {"name": "Anna", "phone": "+49 1512 3456789", "business": "yes"}},
            "customer.business",
            "type.boolean",
        ),
    ],
)
async def test_wrong_order_details_are_listed_with_their_field(
    client: Client, new_uow: Uows, changes: dict[str, Any], field: str, code: str
) -> None:
    status, document, _ = await post(client, ORDERS, order_body(**changes))

    assert status == 422, document
    assert error_of(document, field)["code"] == code
    assert await stored_orders(new_uow) == []


@pytest.mark.parametrize(
    ("line", "field", "code"),
    [
        ({"hs_code": "12-34"}, "items[0].hs_code", "item.hs_code_invalid"),
        ({"length_cm": 30, "width_cm": 20}, "items[0].length_cm", "item.dimensions_incomplete"),
        ({"length_cm": 30, "width_cm": 0, "height_cm": 10}, "items[0].width_cm", "item.dimension_invalid"),
        (
            {"length_cm": 30, "width_cm": 20, "height_cm": "tall"},
            "items[0].height_cm",
            "item.dimension_invalid",
        ),
        ({"length_cm": True, "width_cm": 20, "height_cm": 10}, "items[0].length_cm", "type.number"),
        ({"sku": "S" * 65}, "items[0].sku", "item.sku_too_long"),
        ({"fragile": "yes"}, "items[0].fragile", "type.boolean"),
    ],
)
async def test_wrong_line_details_are_listed_with_their_field(
    client: Client, line: dict[str, Any], field: str, code: str
) -> None:
    status, document, _ = await post(client, ORDERS, with_items(line))

    assert status == 422, document
    assert error_of(document, field)["code"] == code


async def test_a_business_shipping_to_germany_needs_an_hs_code_on_every_line(client: Client) -> None:
    customer = {"name": "Anna Schmidt", "phone": "+49 1512 3456789", "business": True}
    status, document, _ = await post(client, ORDERS, order_body(customer=customer))

    assert status == 422
    # The example's scarf has an HS code; the tea set has none.
    assert "items[0].hs_code" in fields(document) and "items[1].hs_code" not in fields(document)
    assert "Germany asks for an HS code" in error_of(document, "items[0].hs_code")["message"]


async def test_an_individual_or_a_destination_without_the_rule_needs_no_hs_code(
    client: Client, new_uow: Uows
) -> None:
    status, _, _ = await post(client, ORDERS, order_body())
    assert status == 201
    singapore = {"country": "SG", "city": "Singapore", "street": "1 Raffles Place", "postcode": "048616"}
    body = order_body(
        customer={"name": "Tan Wei", "phone": "+65 8123 4567", "business": True}, address=singapore
    )
    status, document, _ = await post(client, ORDERS, await paid_at_quote(client, body))
    assert status == 201, document
