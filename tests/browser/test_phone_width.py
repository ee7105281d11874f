"""The demo page at phone width (420 px), and a customer writing to customer service (issue 18, R-X.3)."""

# The page and demo fixtures are imported from the demo page's tests, so their names are reused here.
# ruff: noqa: F811

from __future__ import annotations

from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.test_demo_page import (  # noqa: F401 - pytest finds the fixtures by name
    act_as,
    bot_messages,
    browser,
    demo_url,
    open_demo,
    page,
    screenshot,
    send,
)

EMMA = 8001
CHLOE_CARE = 7006
PHONE: ViewportSize = {"width": 420, "height": 860}


def no_sideways_scroll(tab: Page) -> None:
    """Nothing is wider than the screen: the page never scrolls sideways."""
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_at_phone_width_a_customer_writes_to_customer_service_and_the_card_arrives(
    page: Page,
    demo_url: str,
) -> None:
    page.set_viewport_size(PHONE)
    open_demo(page, demo_url)

    act_as(page, EMMA)
    send(page, "Hello, can you ship a guitar to Canada?")
    expect(bot_messages(page).last).to_contain_text("customer service")
    expect(page.locator("#composer-input")).to_be_in_viewport()
    no_sideways_scroll(page)
    screenshot(page, "phone-customer")

    act_as(page, CHLOE_CARE)
    expect(page.locator(".tab.active")).to_have_attribute("data-chat-key", "customer_service")
    card = bot_messages(page).filter(has_text="ship a guitar to Canada").last
    expect(card).to_contain_text("Emma Brown")
    expect(card).to_contain_text("Reply to this message")
    no_sideways_scroll(page)
    screenshot(page, "phone-customer-service-card")

    # Chloe answers by replying to the card; Emma gets the answer in her chat.
    card.locator(".reply-action").click()
    expect(page.locator("#replying")).to_contain_text("Replying to")
    send(page, "Yes, by sea freight; about five weeks.")
    expect(bot_messages(page).last).to_contain_text("Sent to Emma Brown")
    act_as(page, EMMA)
    expect(bot_messages(page).last).to_contain_text("Yes, by sea freight; about five weeks.")
    expect(bot_messages(page).last).to_contain_text("Customer service (Chloe Care)")
    no_sideways_scroll(page)
    screenshot(page, "phone-customer-answered")
