"""Issue 11 (findings 3, 4; R-1.2, R-2): control characters and unbounded numbers in the wizard.

Through the production dispatcher on SQLite and PostgreSQL (whose JSONB refuses a NUL byte, so a
NUL that reached the wizard's stored answers used to end in "Something went wrong").
"""

from __future__ import annotations

import pytest
from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import FixedClock
from tests.intake.conftest import (
    Chat,
    ChatFactory,
    answer_air_freight,
    answer_customer_and_address,
    answer_goods_line,
    stored_orders_of,
    wizard_dispatcher,
)


@pytest.fixture
def dispatcher(session_factory: async_sessionmaker[AsyncSession], clock: FixedClock) -> Dispatcher:
    """The production dispatcher on a real database: PostgreSQL's JSONB is what refuses a NUL."""
    return wizard_dispatcher(session_factory, clock)


APOLOGY = "Something went wrong"
CONTROL_ERROR = "invisible control character"


async def start_order(chat: Chat) -> None:
    """Opens the wizard at its first question, the customer's name."""
    await chat.send("/neworder")
    assert "name" in chat.text.lower()


@pytest.mark.parametrize("name", ["Ann\x00Smith", "Ann Smith\x1b[31m", "\x7fAnn", "Ann\x9bSmith"])
async def test_a_control_character_in_the_name_is_a_field_error(chat: ChatFactory, name: str) -> None:
    ann = chat()
    await start_order(ann)

    await ann.send(name)

    assert APOLOGY not in ann.text
    assert CONTROL_ERROR in ann.text and "Name" in ann.text
    # The same question again; a clean answer moves on.
    await ann.send("Ann Smith")
    assert "country" in ann.text.lower()


async def test_a_control_character_in_goods_and_remarks_is_a_field_error(
    chat: ChatFactory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ann = chat()
    await start_order(ann)
    await answer_customer_and_address(ann)

    await ann.send("Tea\x00set")

    assert APOLOGY not in ann.text and CONTROL_ERROR in ann.text
    await answer_goods_line(ann, "Tea set", quantity="2", weight="0.5", value="40")
    await answer_air_freight(ann)
    await ann.send("ring\x00twice")
    assert APOLOGY not in ann.text and CONTROL_ERROR in ann.text and "Remarks" in ann.text
    await ann.send("ring " + " " * 4800 + "\n\n twice")
    assert "Please check the order" in ann.text
    await ann.press("Confirm")

    [order] = await stored_orders_of(session_factory, ann.user_id)
    # The limit is checked on what is stored: whitespace collapsed, as the check counted it.
    assert order.remarks == "ring twice"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("weight", "words"),
    [
        ("1e-20000000", "at most 3 decimal places"),
        ("0.0001", "at most 3 decimal places"),
        ("1e999999999", "at most 1000 kg"),
        ("1" * 41, "must be a number of kilograms"),
    ],
)
async def test_an_unbounded_weight_is_refused_by_the_shared_parser(
    chat: ChatFactory, weight: str, words: str
) -> None:
    ann = chat()
    await start_order(ann)
    await answer_customer_and_address(ann)
    await ann.send("Tea set")
    await ann.send("2")

    await ann.send(weight)

    assert words in ann.text, ann.text
    assert len(ann.text) < 1000
