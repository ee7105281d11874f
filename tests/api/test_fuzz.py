"""Issue 11 acceptance: arbitrary JSON at every API endpoint, on SQLite and PostgreSQL (R-1.1, R-2).

Every answer is below 500, documented in the OpenAPI document with a body that fits its schema,
and nothing is logged as an error (the API logs an unhandled exception before answering 500).
Bodies are arbitrary JSON, the valid example with arbitrary values put anywhere in it, and raw bytes.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.openapi import ORDER_EXAMPLE
from tests.api.conftest import KEYS
from tests.api.openapi_check import check_answer
from tests.api.test_intake_api import ORDER, ORDERS, QUOTES, SERVICES, Client

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OPENAPI = "/api/v1/openapi.json"

# Values that broke storage or formatting once (issue 11): control characters, surrogates, huge and tiny
# numbers, numbers as text with unbounded exponents, text that NFKC shrinks or grows.
NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "Anna\x00Schmidt",
        "\ud800",
        "\x1b[31m",
        "\u202eDE",
        "1e-20000000",
        "1e999999999",
        "9" * 60,
        "NaN",
        "-0",
        "0E-999999",
        "\u1100\u1161\u11a8" * 90,
        "㍱" * 40,
        " " * 5000,
        "德" * 300,
    ]
)
NASTY_NUMBERS = st.sampled_from([2**63, 10**30, -(2**63), 2**52, 0, -1, 1e308, 1e-300, -0.0, 10**4000])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    NASTY_TEXT,
    NASTY_NUMBERS,
)
JSON = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON value, itself included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


EXAMPLE_PATHS = [path for path in _paths(ORDER_EXAMPLE) if path]
# Fields the example leaves out, and one that does not exist.
EXTRA_PATHS: list[tuple[str | int, ...]] = [
    ("address", "region"),
    ("customer", "telegram_user_id"),
    ("items", 0, "weight_kg"),
    ("payment", "amount"),
    ("surprise",),
]


def _value_at(value: Any, path: tuple[str | int, ...]) -> Any:
    """The value at one place of a JSON value."""
    for key in path:
        value = value[key]
    return value


def _mutated(mutations: list[tuple[tuple[str | int, ...], Any]]) -> dict[str, Any]:
    """The valid example with values replaced (or added) at the given places."""
    body = copy.deepcopy(ORDER_EXAMPLE)
    for path, value in mutations:
        node: Any = body
        for key in path[:-1]:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                break
        else:
            if isinstance(node, dict) and isinstance(path[-1], str):
                node[path[-1]] = value
            elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
                node[path[-1]] = value
    return body


MUTATED = st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS + EXTRA_PATHS), JSON), min_size=1, max_size=3).map(
    _mutated
)
# Arbitrary text where the example has text: often still valid, so odd text reaches storage.
TEXT_PATHS = [path for path in EXAMPLE_PATHS if isinstance(_value_at(ORDER_EXAMPLE, path), str)]
MUTATED_TEXT = st.lists(
    st.tuples(st.sampled_from([*TEXT_PATHS, ("address", "region")]), st.text(min_size=1) | NASTY_TEXT),
    min_size=1,
    max_size=3,
).map(_mutated)
BODIES = st.one_of(JSON, MUTATED, MUTATED_TEXT)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Asserts that nothing was logged at ERROR or above (an unhandled exception is)."""
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not errors, [record.getMessage() for record in errors]


async def post_checked(client: Client, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    """Posts a body; asserts the answer is below 500 and documented; returns its status and document."""
    response = await client.post(path, json=body, headers=headers)
    assert response.status < 500, await response.text()
    document = await response.json()
    check_answer("POST", path, response.status, document)
    return response.status, document


@FUZZ
@given(body=BODIES, idempotency_key=st.none() | st.none() | HEADER_TEXT)
async def test_arbitrary_json_is_never_a_server_error(
    client: Client, caplog: pytest.LogCaptureFixture, body: Any, idempotency_key: str | None
) -> None:
    caplog.clear()
    headers = {"Authorization": f"Bearer {KEYS['shop-a']}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key

    status, document = await post_checked(client, QUOTES, body, headers)
    if status == 200 and isinstance(body.get("payment"), dict):
        # Paying the quote lets the arbitrary values through to storage.
        body["payment"]["amount"] = document["amount"]
    await post_checked(client, ORDERS, body, headers)

    no_errors_logged(caplog)


@FUZZ
@given(raw=st.binary(max_size=200) | JSON.map(lambda value: json.dumps(value).encode()[: -1 or None]))
async def test_arbitrary_bytes_are_never_a_server_error(
    client: Client, caplog: pytest.LogCaptureFixture, raw: bytes
) -> None:
    caplog.clear()
    headers = {"Authorization": f"Bearer {KEYS['shop-b']}", "Content-Type": "application/json"}

    response = await client.post(ORDERS, data=raw, headers=headers)

    assert response.status < 500, await response.text()
    check_answer("POST", ORDERS, response.status, await response.json())
    no_errors_logged(caplog)


@FUZZ
@given(
    # Short enough for the request line (aiohttp refuses longer lines itself, see test_http_log).
    reference=st.text(min_size=1, max_size=40) | NASTY_TEXT.filter(lambda text: len(text) < 100),
    route=st.sampled_from([ORDER, SERVICES, OPENAPI]),
    authorization=st.sampled_from([f"Bearer {KEYS['shop-a']}", ""]) | HEADER_TEXT,
)
async def test_arbitrary_reads_are_never_a_server_error(
    client: Client, caplog: pytest.LogCaptureFixture, reference: str, route: str, authorization: str
) -> None:
    caplog.clear()
    url = route.replace("{reference}", quote(reference.encode("utf-8", "surrogatepass"), safe=""))

    response = await client.get(url, headers={"Authorization": authorization})

    assert response.status < 500, await response.text()
    check_answer("GET", route, response.status, await response.json())
    no_errors_logged(caplog)
