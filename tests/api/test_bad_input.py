"""Hostile values in API bodies (issue 11 findings 3 and 4; R-1.1, R-2): field errors, never a 500.

Every value the database stores is bounded by validation, on SQLite and PostgreSQL alike: control
characters, ids beyond Telegram's range, totals beyond Numeric(12, 2), text that fits its limit only
after normalisation, and numbers with unbounded exponents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from storage.uow import SqlUnitOfWork
from tests.api.test_intake_api import ORDERS, QUOTES, Client, error_of, order_body, post, stored_orders

# One Hangul syllable written as three conjoining jamo: NFKC makes one character of three.
JAMO_SYLLABLE = "\u1100\u1161\u11a8"
CONTROL_MESSAGE = "the text holds a control character (such as a NUL byte) or a broken one; please remove it"
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ud800"]
# (where the value sits in the body, the field the error names)
TEXT_FIELDS: list[tuple[tuple[str | int, ...], str]] = [
    (("customer", "name"), "customer.name"),
    (("customer", "phone"), "customer.phone"),
    (("customer", "email"), "customer.email"),
    (("address", "country"), "address.country"),
    (("address", "city"), "address.city"),
    (("address", "street"), "address.street"),
    (("address", "postcode"), "address.postcode"),
    (("address", "region"), "address.region"),
    (("items", 0, "name"), "items[0].name"),
    (("items", 0, "sku"), "items[0].sku"),
    (("service",), "service"),
    (("payment", "method"), "payment.method"),
    (("payment", "currency"), "payment.currency"),
    (("remarks",), "remarks"),
    (("external_ref",), "external_ref"),
]


def with_value(body: dict[str, Any], where: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """The body with one nested value replaced."""
    node: Any = body
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    return body


def value_at(body: dict[str, Any], where: tuple[str | int, ...]) -> Any:
    """One nested value of the body."""
    node: Any = body
    for key in where:
        node = node[key]
    return node


async def test_the_example_order_is_accepted(client: Client) -> None:
    status, document, _ = await post(client, ORDERS, order_body())

    assert status == 201, document


def with_control(
    body: dict[str, Any], where: tuple[str | int, ...], field: str, control: str
) -> dict[str, Any]:
    """The body with a control character inside one text field's value."""
    text = "Berlin" if field == "address.region" else str(value_at(body, where))
    return with_value(body, where, text[:2] + control + text[2:])


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
async def test_a_control_character_in_any_text_field_is_a_field_error(
    client: Client, new_uow: Callable[[], SqlUnitOfWork], control: str
) -> None:
    body = order_body()
    for where, field in TEXT_FIELDS:
        body = with_control(body, where, field, control)

    status, document, _ = await post(client, ORDERS, body)

    assert status == 422, document
    refused = {error["field"] for error in document["errors"] if error["code"] == "text.control"}
    assert refused == {field for _, field in TEXT_FIELDS}
    assert error_of(document, "customer.name")["message"] == f"customer.name: {CONTROL_MESSAGE}"
    assert await stored_orders(new_uow) == []


@pytest.mark.parametrize("user_id", [0, -5, 2**52, 2**63, 10**30])
async def test_a_telegram_user_id_outside_telegrams_range_is_refused(client: Client, user_id: int) -> None:
    body = order_body()
    body["customer"]["telegram_user_id"] = user_id

    status, document, _ = await post(client, ORDERS, body)

    assert status == 422, document
    assert error_of(document, "customer.telegram_user_id")["code"] == "telegram_user_id.invalid"


async def test_a_telegram_user_id_in_the_body_is_ignored(
    client: Client, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    body = order_body()
    body["customer"]["telegram_user_id"] = 2**52 - 1

    status, document, _ = await post(client, ORDERS, body)

    # The platform cannot name who gets the order's messages (issue 12): the chat binds by link.
    assert status == 201, document
    [order] = await stored_orders(new_uow)
    assert order.customer.telegram_user_id is None


@pytest.mark.parametrize("path", [ORDERS, QUOTES])
async def test_a_total_beyond_what_the_amount_column_holds_is_refused(
    client: Client, new_uow: Callable[[], SqlUnitOfWork], path: str
) -> None:
    heavy = {"name": "Steel plates", "quantity": 10000, "weight_kg": 1000, "unit_value": 0}
    body = order_body(items=[dict(heavy) for _ in range(20)])
    body["payment"]["amount"] = "13000000045.50"

    status, document, _ = await post(client, path, body)

    assert status == 422, document
    error = error_of(document, "items")
    assert error["code"] == "order.total_too_large"
    assert "9,999,999,999.99" in error["message"]
    assert await stored_orders(new_uow) == []


async def test_text_is_checked_and_stored_in_the_same_normalised_form(
    client: Client, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    region = JAMO_SYLLABLE * 90  # 270 code points, 90 characters after NFKC: fits VARCHAR(200) only so
    method = JAMO_SYLLABLE * 14  # 42 code points for VARCHAR(32)
    body = order_body(remarks="ring" + " " * 4800 + "\n\n twice")
    body["address"]["region"] = region
    body["payment"]["method"] = method

    status, document, _ = await post(client, ORDERS, body)

    assert status == 201, document
    [order] = await stored_orders(new_uow)
    assert order.address.area == unicodedata.normalize("NFKC", region)
    assert order.payment_method == unicodedata.normalize("NFKC", method)
    assert order.remarks == "ring twice"


@pytest.mark.parametrize(
    ("where", "value", "field", "code"),
    [
        (("address", "region"), "r" * 101, "address.region", "area.too_long"),
        (("payment", "method"), "m" * 33, "payment.method", "payment_method.too_long"),
        (("remarks",), "r " * 250 + "r", "remarks", "remarks.too_long"),
        # NFKC makes 3 characters of each "㍱": 40 of them fit the limit raw but not as stored.
        (("customer", "name"), "㍱" * 40, "customer.name", "name.too_long"),
    ],
)
async def test_a_length_limit_is_checked_on_the_value_that_is_stored(
    client: Client, where: tuple[str | int, ...], value: str, field: str, code: str
) -> None:
    status, document, _ = await post(client, ORDERS, with_value(order_body(), where, value))

    assert status == 422, document
    assert error_of(document, field)["code"] == code


@pytest.mark.parametrize(
    ("where", "value", "field", "code"),
    [
        (("items", 0, "weight_kg"), "1e-20000000", "items[0].weight_kg", "item.too_precise"),
        (("items", 0, "weight_kg"), 1e-300, "items[0].weight_kg", "item.too_precise"),
        (("items", 0, "weight_kg"), "0.0001", "items[0].weight_kg", "item.too_precise"),
        (("items", 0, "weight_kg"), "1e999999999", "items[0].weight_kg", "item.weight_range"),
        (("items", 0, "weight_kg"), "1" * 41, "items[0].weight_kg", "item.weight_invalid"),
        (("items", 0, "unit_value"), "1e-20000000", "items[0].unit_value", "item.too_precise"),
        (("items", 0, "unit_value"), "1e999999999", "items[0].unit_value", "item.number_too_large"),
        (("items", 0, "quantity"), "1e-20000000", "items[0].quantity", "item.quantity_integer"),
        (("items", 0, "quantity"), "1e999999999", "items[0].quantity", "item.quantity_range"),
        (("items", 0, "quantity"), 10**30, "items[0].quantity", "item.quantity_range"),
        (("payment", "amount"), "1e-20000000", "payment.amount", "item.too_precise"),
        (("payment", "amount"), "1e999999999", "payment.amount", "amount.mismatch"),
    ],
)
async def test_numbers_are_bounded_in_digits_and_exponent(
    client: Client, where: tuple[str | int, ...], value: object, field: str, code: str
) -> None:
    status, document, _ = await post(client, ORDERS, with_value(order_body(), where, value))

    assert status == 422, document
    error = error_of(document, field)
    assert error["code"] == code
    assert len(error["message"]) < 300


async def test_a_weight_is_kept_to_the_gram_and_without_exponent(
    client: Client, new_uow: Callable[[], SqlUnitOfWork]
) -> None:
    body = order_body()
    body["items"][0]["weight_kg"] = "1.250"
    body["items"][1]["weight_kg"] = "1e-1"

    status, document, _ = await post(client, QUOTES, body)
    assert status == 200, document
    body["payment"]["amount"] = document["amount"]
    status, document, _ = await post(client, ORDERS, body)

    assert status == 201, document
    [order] = await stored_orders(new_uow)
    assert [str(item.weight_kg) for item in order.items] == ["1.250", "0.1"]
