"""The demo page: Emma changes the address of her confirmed order, the order desk applies it (issue 13).

Played in Debian's Chromium like the guided scenario (tests/browser/test_demo_page.py): /change, the
Change address button, the new address step by step (a wrong postcode first: the intake's sentence),
Send, then the order desk's Apply on the change card, and the warehouse's updated card.
"""

# The page and demo fixtures are imported from the demo page's tests, so their names are reused here.
# ruff: noqa: F811

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_demo_page import (  # noqa: F401 - pytest finds the fixtures by name
    EMMA,
    OLIVIA_DESK,
    WANG_WEI_WAREHOUSE,
    act_as,
    answer,
    approve_as_order_desk,
    bot_messages,
    browser,
    card,
    choose,
    demo_url,
    into_view,
    last_bot_message,
    open_demo,
    page,
    place_order,
    screenshot,
    send,
)


def test_an_address_change_on_the_demo_page(page: Page, demo_url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_demo(page, demo_url)
    reference = place_order(page)
    number = approve_as_order_desk(page, reference)

    act_as(page, EMMA)
    # The confirmation and its PDF come through the outbox first; the change's questions follow them.
    pdf = bot_messages(page).filter(has_text=f"Order confirmation {number}").last
    expect(pdf).to_be_visible(timeout=20_000)
    send(page, f"/change {number}")
    choose(page, "what would you like to change", "Change address")
    answer(page, "Country of the destination", "Canada")
    answer(page, "City", "Toronto")
    answer(page, "Street and house number", "100 Queen Street West")
    answer(page, "Postcode", "12345")
    last_bot_message(page, "Postcode")
    send(page, "M5H 2N2")
    confirm = last_bot_message(page, "Change of the delivery address", "Toronto")
    screenshot(page, "address-change-confirm")
    confirm.locator(".inline-button", has_text="Send the change").click()
    last_bot_message(page, "is with our order desk")

    act_as(page, OLIVIA_DESK)
    change = card(page, number, "Apply change")
    expect(change).to_contain_text("Toronto")
    into_view(change)
    screenshot(page, "address-change-desk-card")
    change.locator(".inline-button", has_text="Apply change").click()
    expect(page.locator("#messages .message.from-bot", has_text="Applied").last).to_contain_text(number)

    act_as(page, EMMA)
    last_bot_message(page, "is changed", "Toronto")
    act_as(page, WANG_WEI_WAREHOUSE)
    expect(page.locator("#messages .message.from-bot", has_text="Toronto").last).to_contain_text(
        number, timeout=20_000
    )
    screenshot(page, "address-change-warehouse")
    expect(page.locator("#violation-count")).to_have_text("0")
    assert bot_messages(page).count() > 0
