"""A cancellation on the demo page in Chromium (issue 13, R-6.1): the README's guided scenario, step 12.

Emma places and pays an order, the order desk approves it, Emma presses Cancel under /track and
confirms; the warehouse sees the order on hold, customer service checks the request, the order desk
cancels it, and Emma is told. Screenshot: tests/artifacts/demo-cancellation.png.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_demo_page import (
    EMMA,
    OLIVIA_DESK,
    WANG_WEI_WAREHOUSE,
    act_as,
    approve_as_order_desk,
    bot_messages,
    browser,
    card,
    demo_url,
    last_bot_message,
    page,
    place_order,
    press_on_card,
    screenshot,
    send,
)

# The fixtures of the demo page's tests serve here too.
__all__ = ["browser", "demo_url", "page"]
CHLOE_CARE = 7006


def test_a_customer_cancels_a_confirmed_order_on_the_demo_page(page: Page, demo_url: str) -> None:
    page.goto(demo_url)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    reference = place_order(page)
    number = approve_as_order_desk(page, reference)

    act_as(page, EMMA)
    # The confirmation and its PDF come through the outbox; the cancellation's messages follow them.
    pdf = bot_messages(page).filter(has_text=f"Order confirmation {number}").last
    expect(pdf).to_be_visible(timeout=20_000)
    send(page, f"/track {number}")
    last_bot_message(page, f"Order {number}").locator(".inline-button", has_text="✖ Cancel").click()
    prompt = last_bot_message(page, "customer service checks your request within 1 hour")
    prompt.locator(".inline-button", has_text="Yes, cancel it").click()
    # The reply and the outbox's status update ("we have your request") may come in either order.
    expect(bot_messages(page).filter(has_text="is stopped").last).to_contain_text(number)

    act_as(page, WANG_WEI_WAREHOUSE)
    page.locator(".tab[data-chat-key='warehouse']").click()
    expect(page.locator("#messages .message.from-bot", has_text="On hold").last).to_contain_text(number)

    act_as(page, CHLOE_CARE)
    page.locator(".tab[data-chat-key='customer_service']").click()
    press_on_card(page, number, "Checked: to the order desk")

    act_as(page, OLIVIA_DESK)
    page.locator(".tab[data-chat-key='order_desk']").click()
    desk = card(page, number, "Cancel the order")
    expect(desk).to_contain_text("Refund due")
    desk.locator(".inline-button", has_text="Cancel the order").click()
    last_bot_message(page, "Done")

    act_as(page, EMMA)
    expect(page.locator("#messages .message.from-bot", has_text="is cancelled").last).to_contain_text(number)
    screenshot(page, "cancellation")
    expect(page.locator("#violation-count")).to_have_text("0")
