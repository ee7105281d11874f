"""End to end (issue 11 finding 2): a full order flow at LOG_LEVEL=DEBUG logs no personal data and no secret.

The real bot process on SQLite takes one order through the chat wizard and one through the
platform API, both for the same Telegram customer; order-desk staff approve both on their review
cards and the customer gets the confirmations. The whole log is then searched for the customers'
names, phones, emails and streets (as typed and as stored), the bot token, the API key and the
Telegram Payments provider token (the wizard's order is paid through the emulated invoice).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from api.openapi import ORDER_EXAMPLE
from sandbox.server import FakeBotApi, FakeUser, Json
from tests.e2e.conftest import TOKEN, BotProcess, free_port, post_order

pytestmark = pytest.mark.e2e

StartBot = Callable[..., Coroutine[Any, Any, BotProcess]]

API_KEY = "key-shop-7f3a9c2e5b1d"
PAYMENT_TOKEN = "284685063:TEST:payments-4d1c9e"
# What the customer types into the wizard, and what the platform sends for its order.
WIZARD_PERSON = ("Annabelle Quist", "+49 1512 3456789", "+4915123456789", "Unter den Linden 77")
WIZARD_EMAIL = "annabelle.quist@example.com"
API_PERSON = ("Bruno Keller-Vogt", "+49 1523 7654321", "+4915237654321", "Friedrichstrasse 43")
API_EMAIL = "bruno.keller@example.org"


def is_invoice(message: Json) -> bool:
    """Matches an invoice message."""
    return "invoice" in message


def containing(words: str) -> Callable[[Json], bool]:
    """Matches a bot message whose text or caption contains the words."""
    return lambda message: words in (message.get("text") or message.get("caption") or "")


async def answer(telegram: FakeBotApi, user: FakeUser, text: str, next_question: str) -> Json:
    """Sends a wizard answer and waits for the next question."""
    telegram.send_text(user, None, text)
    return await telegram.wait_for_bot_message(user.id, containing(next_question), timeout=60)


async def press(telegram: FakeBotApi, user: FakeUser, message: Json, label: str, next_question: str) -> Json:
    """Presses a button of the wizard and waits for the next question."""
    telegram.press_button(user, message, text=label)
    return await telegram.wait_for_bot_message(user.id, containing(next_question), timeout=60)


async def order_in_the_wizard(telegram: FakeBotApi, customer: FakeUser) -> None:
    """Places an order in the chat wizard, every answer typed or pressed as a customer would."""
    name, phone, _, street = WIZARD_PERSON
    telegram.send_text(customer, None, "/neworder")
    await telegram.wait_for_bot_message(customer.id, containing("full name"), timeout=60)
    await answer(telegram, customer, name, "Where do the goods go?")
    await answer(telegram, customer, "DE", "Phone number")
    await answer(telegram, customer, phone, "Email address")
    await answer(telegram, customer, WIZARD_EMAIL, "City in")
    await answer(telegram, customer, "Berlin", "Street address")
    await answer(telegram, customer, street, "Postcode in")
    await answer(telegram, customer, "10117", "what are the goods?")
    await answer(telegram, customer, "Cotton T-shirts", "How many pieces")
    await answer(telegram, customer, "2", "Weight of one piece")
    await answer(telegram, customer, "0.5", "Declared value")
    more = await answer(telegram, customer, "40", "another goods line")
    service = await press(telegram, customer, more, "No, continue »", "Which service")
    payment = await press(telegram, customer, service, "✈ Air freight + customs agency", "How will you pay")
    await press(telegram, customer, payment, "Bank card", "Any remarks")
    preview = await answer(telegram, customer, f"please call {name} first", "Please check the order")
    await press(telegram, customer, preview, "✔ Confirm order", "R-")
    # Payment (issue 12): Telegram's invoice (emulated), paid; the bot checks it and records it.
    invoice = await telegram.wait_for_bot_message(customer.id, is_invoice, timeout=60)
    telegram.pay_invoice(customer, invoice)
    await telegram.wait_for_bot_message(customer.id, containing("received for your order"), timeout=60)


async def order_through_the_api(port: int, customer: FakeUser) -> str:
    """Places an order for the customer through the platform API; returns its telegram_link."""
    name, phone, _, street = API_PERSON
    body = copy.deepcopy(ORDER_EXAMPLE)
    body["customer"] = {"name": name, "phone": phone, "email": API_EMAIL}
    body["address"]["street"] = street
    body["remarks"] = f"ask for {name}"
    document = await post_order(port, API_KEY, body)
    return str(document["telegram_link"])


async def open_link(telegram: FakeBotApi, customer: FakeUser, link: str) -> None:
    """Opens the order's one-time t.me link as the customer: /start <token> binds their chat (issue 12)."""
    telegram.send_text(customer, None, f"/start {link.rpartition('?start=')[2]}")
    await telegram.wait_for_bot_message(customer.id, containing("come to this chat"), timeout=30)


async def approve(telegram: FakeBotApi, clerk: FakeUser, desk_id: int, person: str) -> None:
    """Approves the review card that names the person and waits for the card to show the verdict."""
    card = await telegram.wait_for_bot_message(desk_id, containing(person), timeout=30)
    query = telegram.press_button(clerk, card, text="Approve")
    answered = await telegram.wait_for_callback_answer(query, timeout=60)
    assert "Approved" in answered.get("text", ""), answered


async def test_a_full_order_flow_at_debug_logs_no_personal_data_and_no_secret(
    telegram: FakeBotApi, start_bot: StartBot
) -> None:
    admin = telegram.create_user("Ada Admin")
    clerk = telegram.create_user("Chen Clerk")
    customer = telegram.create_user("Annabelle", language_code="en")
    desk = telegram.create_group("Order desk", [admin, clerk])
    api_port = free_port()
    bot = await start_bot(
        ORDER_DESK_CHAT_ID=str(desk.id),
        ADMIN_IDS=str(admin.id),
        API_PORT=str(api_port),
        API_KEYS=f"shop:{API_KEY}",
        LOG_LEVEL="DEBUG",
        PAYMENT_PROVIDER_TOKEN=PAYMENT_TOKEN,
    )
    await telegram.wait_for_call("getUpdates", timeout=30)
    telegram.send_text(admin, desk, f"/staff add {clerk.id} order_desk")
    await telegram.wait_for_bot_message(desk, containing(str(clerk.id)), timeout=60)

    await order_in_the_wizard(telegram, customer)
    await approve(telegram, clerk, desk.id, WIZARD_PERSON[0])
    await telegram.wait_for_bot_message(customer.id, containing("Order confirmation"), timeout=30)
    await open_link(telegram, customer, await order_through_the_api(api_port, customer))
    await approve(telegram, clerk, desk.id, API_PERSON[0])
    await telegram.wait_for_bot_message(customer.id, containing("Order confirmation"), timeout=30)
    await bot.stop()

    log = bot.log
    assert " DEBUG " in log and "aiogram" in log, "the bot did not log at DEBUG"
    secrets = [TOKEN, TOKEN.split(":")[1], API_KEY, PAYMENT_TOKEN]
    personal = [*WIZARD_PERSON, WIZARD_EMAIL, *API_PERSON, API_EMAIL, "Quist", "Keller-Vogt"]
    found = [value for value in [*secrets, *personal] if value in log]
    assert found == [], f"the log holds {found}"
