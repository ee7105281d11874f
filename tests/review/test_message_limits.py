"""Every card and message about a huge order fits Telegram's limits by construction (issue 11, finding 1)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.i18n import create_i18n
from domain.orders.model import Item, Order
from domain.orders.status import Action, Role
from domain.review import RejectReason, ReviewPolicy, second_review_reasons
from handlers.orders import customer_card, staff_card
from presentation.execution_cards import card_text
from presentation.render import (
    CARD_LIMIT,
    MESSAGE_LIMIT,
    Html,
    confirmation_text,
    esc,
    fit,
    rejection_text,
    review_card_text,
    translator,
)
from tests.review.conftest import T0, TIMEZONE, make_order

POLICY = ReviewPolicy(Decimal(10000), "CNY")


def huge_order() -> Order:
    """100 goods lines of about 120 characters each and remarks padded with 4,800 spaces and newlines."""
    name = "Porcelain tea cup with hand-painted blue flowers " * 2 + "<b>&"
    items = [Item(f"{index:03d} {name}", 2, Decimal("0.5"), Decimal(10)) for index in range(100)]
    return make_order(items=items, remarks="please call first" + " " * 2400 + "\n" * 2400 + "ring twice")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_review_card_of_a_huge_order_fits_and_says_what_it_left_out(language: str) -> None:
    t = translator(create_i18n("en"), language)
    order = huge_order()

    text = review_card_text(order, second_review_reasons(order, POLICY), second=False, t=t)

    assert len(text) <= CARD_LIMIT
    assert "000 Porcelain" in text and "099 Porcelain" not in text
    assert "85" in text  # "... and 85 more (see /order)": 15 lines shown of 100
    assert "\n\n\n" not in text and "ring twice" in text
    assert "&lt;b&gt;&amp;" in text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_team_cards_confirmation_rejection_and_order_views_fit(language: str) -> None:
    t = translator(create_i18n("en"), language)
    order = huge_order()
    for step in range(600):
        order.note("x" * 900, actor_id=7, role=Role.ORDER_DESK, now=T0 + timedelta(minutes=step))
    order.number = "20260315001"

    texts = [
        card_text(order, Role.WAREHOUSE, t, TIMEZONE),
        confirmation_text(order, t),
        rejection_text(order, RejectReason.OTHER, "n" * 5000, t),
        staff_card(order, frozenset({Role.ORDER_DESK}), t, TIMEZONE),
        customer_card(order, t, TIMEZONE),
    ]

    assert all(len(text) <= MESSAGE_LIMIT for text in texts), [len(text) for text in texts]
    assert len(texts[0]) <= CARD_LIMIT


def test_fit_cuts_whole_lines_and_counts_them() -> None:
    t = translator(create_i18n("en"), "en")
    lines = [f"<b>line {index}</b> " + "y" * 90 for index in range(100)]

    text = fit(lines, t, limit=1000)

    assert len(text) <= 1000
    assert text.count("<b>") == text.count("</b>")
    assert text.endswith("more lines not shown")


def test_a_short_message_is_left_as_it_is() -> None:
    t = translator(create_i18n("en"), "en")
    order = make_order()
    order.apply(Action.APPROVE, actor_id=5, roles=frozenset({Role.ORDER_DESK}), now=T0)

    assert fit(["a", "b"], t) == "a\nb"
    assert "more lines not shown" not in staff_card(order, frozenset({Role.ORDER_DESK}), t, TIMEZONE)


def test_translated_templates_escape_their_values_by_construction() -> None:
    """Issue 11: a value forgotten unescaped cannot break a message; escaped parts are not escaped twice."""
    t = translator(create_i18n("en"), "zh")
    template = t("Order {reference}")

    filled = template.format(reference="<b>R-1</b> & co")
    kept = template.format(reference=esc("Tom & <Ops>"))
    marked = template.format(reference=Html("<code>R-1</code>"))

    assert "&lt;b&gt;R-1&lt;/b&gt; &amp; co" in filled
    assert "Tom &amp; &lt;Ops&gt;" in kept and "&amp;amp;" not in kept
    assert "<code>R-1</code>" in marked
    assert t("{count} more").format(count=3) == "3 more"
