"""Arbitrary text at every free-text step never breaks the wizard; every reply is valid for Telegram."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.intake.validation import CITY_MAX, ITEM_NAME_MAX, NAME_MAX, REMARKS_MAX, STREET_MAX
from handlers.intake_states import CUSTOMER, OFFLINE, WIZARD_ITEMS_MAX, OrderWizard
from tests.intake.conftest import ChatFactory
from tests.mocked_bot import MockedBot
from tests.telegram import BOT_ID

APOLOGY = "Something went wrong on our side"
# A complete customer order; each example removes the answer of the step under test.
COMPLETE: dict[str, Any] = {
    "mode": CUSTOMER,
    "draft": {
        "name": "Ann Smith",
        "country": "DE",
        "phone": "+4915123456789",
        "email": None,
        "city": "Berlin",
        "street": "Unter den Linden 1",
        "postcode": "10117",
        "items": [{"name": "Tea set", "quantity": 1, "weight_kg": "1", "declared_value": "50"}],
        "items_done": True,
        "service": "air_freight",
        "payment_method": "alipay",
        "remarks": None,
    },
    "index": 0,
}
DRAFT_STEPS = ("name", "country", "phone", "email", "city", "street", "postcode", "remarks")
ITEM_FIELDS = {"name": "name", "quantity": "quantity", "weight": "weight_kg", "value": "declared_value"}
# Each free-text step: where its answer lives in the wizard's data, and under which key.
TEXT_STEPS: dict[str, tuple[str, str]] = {
    **{step: ("draft", step) for step in DRAFT_STEPS},
    **{f"item_{field}": ("item", key) for field, key in ITEM_FIELDS.items()},
    "received_at": ("offline", "received_at"),
}
SPECIALS = "<>&\"'\u200b\u200c\u200d\u200e\u200f\u202e\u2066\u0627\u05d0 \n\t0123456789+-.,:/@"
texts = st.one_of(
    st.text(min_size=1, max_size=200),
    st.text(alphabet=SPECIALS, min_size=1, max_size=60),
    st.builds(
        lambda seed: (seed * 5000)[:5000], st.text(alphabet=SPECIALS + "abcXYZ德国", min_size=1, max_size=8)
    ),
    st.sampled_from(["<b>", "&amp;", "</i>", "\u202eDE", "\u200b10117\u200b", "x" * 5000, "德" * 5000]),
)


def data_at(step: str) -> dict[str, Any]:
    """The wizard's data with every answer but the step's."""
    data = copy.deepcopy(COMPLETE)
    kind, key = TEXT_STEPS[step]
    if kind == "offline":
        data["mode"] = OFFLINE
        data["draft"].update(channel="hotline", urgent=False, confirmed=False)
    elif kind == "item":
        del data["draft"]["items"][0][key]
    else:
        del data["draft"][key]
    data["step"] = step if kind != "item" else f"{step}.0"
    return data


@pytest.mark.parametrize("step", sorted(TEXT_STEPS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
async def test_any_text_at_any_free_text_step_gets_a_valid_reply(
    step: str, text: str, chat: ChatFactory, dispatcher: Dispatcher, mocked_bot: MockedBot
) -> None:
    user = chat(user_id=100, language_code="zh" if len(text) % 2 else "en")
    key = StorageKey(bot_id=BOT_ID, chat_id=user.user_id, user_id=user.user_id)
    await dispatcher.fsm.storage.set_state(key, getattr(OrderWizard, step))
    await dispatcher.fsm.storage.set_data(key, data_at(step))
    user.seen = len(mocked_bot.requests)
    # Hypothesis runs many examples in one test; each is judged on its own replies.
    mocked_bot.violations.clear()

    replies = await user.send(text)

    assert not mocked_bot.violations, mocked_bot.violations
    sent = [request.params.get("text", "") for request in replies if request.name == "sendMessage"]
    assert not any(APOLOGY in message or "抱歉" in message for message in sent)
    if not text.startswith("/"):
        assert sent, f"no reply to {text[:40]!r} at {step}"


async def test_the_largest_order_the_wizard_allows_fits_one_preview_message(
    chat: ChatFactory, dispatcher: Dispatcher, mocked_bot: MockedBot
) -> None:
    data = data_at("remarks")
    data["draft"].update(
        name="a&" * (NAME_MAX // 2),
        email="a" * 64 + "@" + "b" * 60 + ".com",
        city="a&" * (CITY_MAX // 2),
        street="a&" * (STREET_MAX // 2),
    )
    item = {
        "name": "a&" * (ITEM_NAME_MAX // 2),
        "quantity": 10000,
        "weight_kg": "1000",
        "declared_value": "9999999999.99",
        # Heavy lines have their size (issue 19).
        "length_cm": "10",
        "width_cm": "10",
        "height_cm": "10",
    }
    data["draft"]["items"] = [dict(item) for _ in range(WIZARD_ITEMS_MAX)]
    user = chat(user_id=100)
    key = StorageKey(bot_id=BOT_ID, chat_id=user.user_id, user_id=user.user_id)
    await dispatcher.fsm.storage.set_state(key, OrderWizard.remarks)
    await dispatcher.fsm.storage.set_data(key, data)

    await user.send("a&" * (REMARKS_MAX // 2))

    assert "Please check the order" in user.text
    assert not mocked_bot.violations
