"""The survey end to end through the fake Bot API in English and Chinese: link, rating, comment, complaint."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.clock import FixedClock
from tests.aftersales.conftest import (
    CS_CHAT,
    CUSTOMER_ID,
    DELIVERED_AT,
    Uows,
    aftersales,
    dispatcher_for,
    outbox,
    surveyed,
)
from tests.mocked_bot import MockedBot
from tests.review.conftest import command, press
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401

TEXTS = {
    "en": (
        "How satisfied are you",
        "Thank you! You rated",
        "Is this a complaint?",
        "Customer service has your complaint",
    ),
    "zh": ("您对订单", "谢谢！您给订单", "这是投诉吗？", "客服已收到您关于订单"),
}


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_customer_answers_the_survey_in_their_language(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
    bot: MockedBot,
    language: str,
) -> None:
    clock = FixedClock(DELIVERED_AT)
    setup = aftersales(clock, tmp_path)
    order_id = await surveyed(new_uow, clock, setup)
    async with new_uow() as uow:
        record = await uow.aftersales.get(order_id)
    assert record is not None and record.survey_token
    dispatcher = dispatcher_for(new_uow, setup)
    question, thanks, ask, complaint = TEXTS[language]

    await dispatcher.feed_update(
        bot, command(1, f"/start survey-{record.survey_token}", user_id=CUSTOMER_ID, language_code=language)
    )
    opened = bot.requests_for("sendMessage")[-1]
    assert question in opened.params["text"]
    (row,) = opened.decoded("reply_markup")["inline_keyboard"]
    rating_two = row[1]["callback_data"]
    from tests.review.conftest import Card

    card = Card(CUSTOMER_ID, 500, opened.params["text"])
    await dispatcher.feed_update(
        bot, press(2, rating_two, user_id=CUSTOMER_ID, card=card, language_code=language)
    )
    assert thanks in bot.requests_for("sendMessage")[-1].params["text"]
    await dispatcher.feed_update(
        bot, command(3, "the box was crushed", user_id=CUSTOMER_ID, language_code=language)
    )
    asked = bot.requests_for("sendMessage")[-1]
    assert asked.params["text"] == ask
    yes = asked.decoded("reply_markup")["inline_keyboard"][0][0]["callback_data"]
    await dispatcher.feed_update(bot, press(4, yes, user_id=CUSTOMER_ID, card=card, language_code=language))
    assert complaint in bot.requests_for("editMessageText")[-1].params["text"]
    # Every callback query was answered, and every request fits the Bot API.
    assert len(bot.requests_for("answerCallbackQuery")) == 2
    bot.assert_no_violations()
    async with new_uow() as uow:
        answer = await uow.aftersales.answer_of(order_id)
    assert answer is not None and (answer.rating, answer.comment, answer.marked_complaint) == (
        2,
        "the box was crushed",
        True,
    )
    cards = [row.params["text"] for row in await outbox(new_uow, CS_CHAT)]
    assert len(cards) == 2 and "the box was crushed" in cards[1]
