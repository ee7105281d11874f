"""A platform reports the payment of its unpaid order: POST /api/v1/orders/{reference}/payment (issue 12)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_api_app
from api.openapi import ORDER_EXAMPLE
from domain.clock import FixedClock
from domain.orders.status import OrderStatus
from tests.api.conftest import KEYS, T0, bearer
from tests.api.openapi_check import check_answer
from tests.fixtures import load
from tests.payment.conftest import Uows
from tests.payment.fakes import PaymentDatabase

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(new_uow: Uows) -> AsyncIterator[Client]:
    """The intake API on the fake database with payments."""
    app = build_api_app(new_uow, FixedClock(T0), KEYS)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


PAYMENT = "/api/v1/orders/{reference}/payment"


async def post(
    client: Client, path: str, body: object, key: str = "shop-a", route: str = ""
) -> tuple[int, Any]:
    """Posts JSON and checks the answer against the OpenAPI document (of the route, if a template)."""
    response = await client.post(path, json=body, headers=bearer(key))
    document = await response.json()
    check_answer("POST", route or path, response.status, document)
    return response.status, document


async def unpaid_platform_order(client: Client) -> tuple[str, str]:
    """Places an unpaid order at its quote; returns its reference and amount."""
    body = copy.deepcopy(ORDER_EXAMPLE)
    status, quote = await post(client, "/api/v1/quotes", body)
    assert status == 200
    body["payment"] = {
        "method": "card",
        "amount": quote["amount"],
        "currency": quote["currency"],
        "paid": False,
    }
    status, created = await post(client, "/api/v1/orders", body)
    assert status == 201
    return created["reference"], quote["amount"]


async def test_an_unpaid_platform_order_waits_until_the_platform_reports_the_payment(
    client: Client, new_uow: Uows, database: PaymentDatabase
) -> None:
    reference, amount = await unpaid_platform_order(client)
    path = PAYMENT.format(reference=reference)

    async def pay(body: object, key: str = "shop-a") -> tuple[int, Any]:
        return await post(client, path, body, key, route=PAYMENT)

    assert (await pay({"amount": amount, "currency": "CNY"}, key="shop-b"))[0] == 404
    status, wrong = await pay({"amount": "1.00", "currency": "CNY"})
    assert status == 422 and wrong["errors"][0]["code"] == "amount.mismatch"
    assert f"please pay {amount} CNY" in wrong["errors"][0]["message"]
    status, missing = await pay({"amount": "x"})
    assert status == 422 and {e["field"] for e in missing["errors"]} == {"amount", "currency"}

    status, paid = await pay({"amount": amount, "currency": "cny"})
    again = await pay({"amount": amount, "currency": "CNY"})

    assert status == 200 and paid == {"reference": reference, "status": "pending_review", "paid": True}
    assert again == (200, paid)
    [payment] = database.payments.values()
    order = await load(new_uow, payment.order_id)
    assert order.paid and order.status is OrderStatus.PENDING_REVIEW
