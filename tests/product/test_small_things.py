"""The small things a user notices (issue 18): /todo for every team, unknown commands, /cancel, labels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.i18n import create_i18n
from domain.intake.errors import InvalidInput
from domain.intake.validation import normalize_email, normalize_phone
from domain.orders.status import OrderStatus, Role
from presentation.field_errors import describe
from tests.product.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK_ID,
    NOW,
    SERVICE_CHAT,
    SERVICE_ID,
    Product,
    buttons,
    grant,
    store,
)
from tests.storage.factories import make_order

FINANCE_ID = 501
MANAGER_ID = 601


async def test_todo_tells_customer_service_finance_desk_and_management_their_work(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.FINANCE, FINANCE_ID)
    await grant(product, Role.MANAGEMENT, MANAGER_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    unpaid = await store(product, make_order(status=OrderStatus.CONFIRMED))
    await product.say("Do you ship on Sundays?", user_id=CUSTOMER_ID)

    await product.say("/todo", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    service = product.sent(SERVICE_CHAT)[-1].params["text"]
    await product.say("/todo", user_id=FINANCE_ID)
    finance = product.sent(FINANCE_ID)[-1].params["text"]
    await product.say("/todo", user_id=MANAGER_ID)
    await product.say("/todo", user_id=DESK_ID)

    assert "Customer messages waiting for an answer (1)" in service
    assert "Emma Brown at 2026-03-16 10:00: Do you ship on Sundays?" in service
    assert "Orders under way not paid yet (1)" in finance and unpaid.reference in finance
    assert "/sla (overdue steps) and /kpi" in product.sent(MANAGER_ID)[-1].params["text"]
    assert "warehouse or logistics chat" in product.sent(DESK_ID)[-1].params["text"]
    assert all("/todo is for staff" not in r.params["text"] for r in product.bot.requests_for("sendMessage"))


async def test_todo_is_in_the_help_of_customer_service(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)

    await product.say("/help", user_id=SERVICE_ID)

    assert "/todo" in product.sent(SERVICE_ID)[-1].params["text"]


async def test_an_unknown_command_gets_the_users_commands(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)

    await product.say("/frobnicate now", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    await product.say("/whatever", user_id=CUSTOMER_ID)

    unknown, commands = [r.params["text"] for r in product.sent(SERVICE_CHAT)]
    assert unknown == "I do not know the command /frobnicate."
    assert commands.startswith("Commands you can use:") and "/todo" in commands
    customer_unknown, customer_commands = [r.params["text"] for r in product.sent(CUSTOMER_ID)]
    assert customer_unknown == "I do not know the command /whatever."
    assert "/neworder" in customer_commands and "/todo" not in customer_commands


async def test_a_command_for_another_bot_of_the_group_is_left_alone(product: Product) -> None:
    await product.say("/frobnicate@other_bot", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)

    assert product.sent(SERVICE_CHAT) == []


async def test_cancel_outside_the_wizard_offers_the_open_orders(product: Product) -> None:
    order = await store(product, make_order(status=OrderStatus.CONFIRMED, telegram_user_id=CUSTOMER_ID))

    await product.say("/cancel", user_id=CUSTOMER_ID)

    [reply] = product.sent(CUSTOMER_ID)
    assert reply.params["text"].startswith("You are not entering an order, so there is nothing to cancel")
    # The order's own Cancel button leads into its cancellation (issue 13, R-6.1).
    assert list(buttons(reply)) == [f"✖ Cancel {order.reference}", "💬 Write to customer service"]


async def test_staff_free_text_in_a_private_chat_points_to_help(product: Product) -> None:
    await grant(product, Role.FINANCE, FINANCE_ID)

    await product.say("hello bot", user_id=FINANCE_ID)

    assert product.sent(FINANCE_ID)[-1].params["text"] == (
        "I did not understand that. Send /help for the commands you can use."
    )
    # Nothing went to customer service.
    assert await product.deliver() == []


async def test_start_during_the_wizard_keeps_the_draft_and_says_how_to_drop_it(product: Product) -> None:
    await product.say("/neworder", user_id=CUSTOMER_ID)
    await product.say("Emma Brown", user_id=CUSTOMER_ID)
    asked = product.sent(CUSTOMER_ID)[-1].params["text"]

    await product.say("/start", user_id=CUSTOMER_ID)

    assert (
        product.sent(CUSTOMER_ID)[-1].params["text"].startswith("You are in the middle of entering an order")
    )
    # The wizard goes on where it was: the next answer is taken for the question asked before /start.
    await product.say("Germany", user_id=CUSTOMER_ID)
    assert product.sent(CUSTOMER_ID)[-1].params["text"] != asked
    assert "destination" not in product.sent(CUSTOMER_ID)[-1].params["text"].lower()


async def test_myorders_pages_through_every_order(product: Product) -> None:
    stored = [
        await store(product, make_order(telegram_user_id=CUSTOMER_ID, created_at=NOW - timedelta(days=day)))
        for day in range(23)
    ]

    await product.say("/myorders", user_id=CUSTOMER_ID)
    first = product.sent(CUSTOMER_ID)[-1]
    await product.press(buttons(first)["Older orders ▶"], user_id=CUSTOMER_ID, on=first)
    second = product.sent(CUSTOMER_ID)[-1]
    await product.press(buttons(second)["Older orders ▶"], user_id=CUSTOMER_ID, on=second)
    third = product.sent(CUSTOMER_ID)[-1]

    pages = [first.params["text"], second.params["text"], third.params["text"]]
    for order in stored:
        assert sum(order.reference in page for page in pages) == 1, order.reference
    assert stored[0].reference in pages[0] and stored[22].reference in pages[2]
    # The last page has no "Older orders", only its orders' requests (issue 13).
    assert "Older orders ▶" not in buttons(third)
    assert sorted(buttons(third)) == sorted(f"✖ Cancel {order.reference}" for order in stored[20:])


def described(code_of: Callable[[], object], locale: str) -> str:
    """The reply a wizard gives for the input the function refuses."""
    i18n = create_i18n("en")
    with pytest.raises(InvalidInput) as refused:
        code_of()
    [error] = refused.value.errors
    with i18n.context(), i18n.use_locale(locale):
        return describe(error, locale)


def test_a_phone_number_with_a_letter_is_refused_with_the_letter_named() -> None:
    text = described(lambda: normalize_phone("+86 138 0013 8000x", "CN"), "en")

    assert "holds only digits, spaces, + - ( ) and dots, not x" in text
    assert "电话号码只能包含数字" in described(lambda: normalize_phone("+86 138 0013 8000x", "CN"), "zh")
    assert normalize_phone("+86 138 0013 8000", "CN") == "+8613800138000"


@pytest.mark.parametrize(
    ("address", "english", "chinese"),
    [
        ("emma.example.com", "it has no @-sign", "缺少 @ 符号"),
        ("emma@@example.com", "it has more than one @-sign", "有不止一个 @ 符号"),
        ("emma@example", "the part after the @-sign is not a domain name", "不是有效的域名"),
    ],
)
def test_an_email_error_says_what_is_wrong_in_full_and_in_the_users_language(
    address: str, english: str, chinese: str
) -> None:
    text = described(lambda: normalize_email(address), "en")

    assert f"this is not a valid email address ({english}); please check it, e.g. name@example.com." in text
    assert "…" not in text
    assert chinese in described(lambda: normalize_email(address), "zh")


async def test_staff_list_names_everyone_who_wrote_and_says_who_has_not(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.FINANCE, FINANCE_ID)
    await product.say("/start", user_id=SERVICE_ID)

    await product.say("/staff list", user_id=ADMIN_ID)

    listing = product.sent(ADMIN_ID)[-1].params["text"]
    assert f"<code>{SERVICE_ID}</code> (Sam Service): customer service" in listing
    assert (
        f"<code>{FINANCE_ID}</code> (name not known yet: they have not written to the bot): finance"
        in listing
    )
