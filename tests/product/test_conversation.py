"""Customers always get an answer, and write to a person (issue 18, R-X.3, R-5.2).

Through the production wiring, the outbox sender and the recording Bot API: free text goes to the
customer-service chat as a conversation card, a customer-service member answers by replying to it,
the answer reaches the customer, and the thread goes on; recognised intents get their buttons.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import remind_unanswered
from domain.orders.status import OrderStatus, Role
from storage.models import ConversationMessageRow
from tests.product.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    PICKER_ID,
    SERVICE_CHAT,
    SERVICE_ID,
    ZH_CUSTOMER_ID,
    Product,
    buttons,
    grant,
    store,
)
from tests.storage.factories import make_order


async def clocks(product: Product) -> list[tuple[bool, bool | None]]:
    """Every message's (from the customer, answered in time), oldest first."""
    async with product.sessions() as session:
        rows = (
            await session.scalars(select(ConversationMessageRow).order_by(ConversationMessageRow.id))
        ).all()
    return [(row.from_customer, row.met) for row in rows]


async def test_a_customer_and_customer_service_write_back_and_forth_through_the_card(
    product: Product,
) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)

    # The customer's free text: they are told a person answers, and the card reaches customer service.
    await product.say("Hello, can you ship a guitar to Canada?", user_id=CUSTOMER_ID)
    [told] = product.sent(CUSTOMER_ID)
    assert "customer service" in told.params["text"] and "within minutes" in told.params["text"]
    [card] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert int(card.params["chat_id"]) == SERVICE_CHAT
    assert "Emma Brown" in card.params["text"] and "ship a guitar to Canada" in card.params["text"]
    assert "No open orders." in card.params["text"]
    assert "Reply to this message" in card.params["text"] and "10:03" in card.params["text"]

    # Customer service replies to the card within the 3 minutes: the customer gets the answer.
    product.clock.advance(timedelta(minutes=1))
    await product.say(
        "Yes, by sea freight. <b>Pack it well</b>.", user_id=SERVICE_ID, chat_id=SERVICE_CHAT, reply_to=card
    )
    assert product.sent(SERVICE_CHAT)[-1].params["text"] == "✅ Sent to Emma Brown."
    [answer] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert int(answer.params["chat_id"]) == CUSTOMER_ID
    assert "Sam Service" in answer.params["text"]
    assert "Yes, by sea freight. &lt;b&gt;Pack it well&lt;/b&gt;." in answer.params["text"]

    # The thread goes on: the customer writes again, a new card, a late answer to it.
    await product.say("How long does it take?", user_id=CUSTOMER_ID)
    [second_card] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert "How long does it take?" in second_card.params["text"]
    product.clock.advance(timedelta(minutes=4))
    await product.say("About five weeks.", user_id=SERVICE_ID, chat_id=SERVICE_CHAT, reply_to=second_card)
    assert "after the 3-minute answer time" in product.sent(SERVICE_CHAT)[-1].params["text"]
    [second_answer] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert int(second_answer.params["chat_id"]) == CUSTOMER_ID
    assert "About five weeks." in second_answer.params["text"]

    # Each customer message opened the answer clock; each answer closed it, the second one late.
    assert await clocks(product) == [(True, True), (False, None), (True, False), (False, None)]


async def test_only_customer_service_answers_and_other_replies_are_left_alone(product: Product) -> None:
    await grant(product, Role.WAREHOUSE, PICKER_ID)
    await product.say("Do you have a shop in Berlin?", user_id=CUSTOMER_ID)
    [card] = [r for r in await product.deliver() if r.name == "sendMessage"]
    told = len(product.sent(CUSTOMER_ID))

    await product.say("We do!", user_id=PICKER_ID, chat_id=SERVICE_CHAT, reply_to=card)
    assert "Only customer service answers customers" in product.sent(SERVICE_CHAT)[-1].params["text"]
    # A reply to a bot message that is not a card changes nothing and is not answered.
    reply = product.sent(SERVICE_CHAT)[-1]
    await product.say("thanks", user_id=SERVICE_ID, chat_id=SERVICE_CHAT, reply_to=reply)

    assert await product.deliver() == []
    assert len(product.sent(CUSTOMER_ID)) == told
    assert product.sent(SERVICE_CHAT)[-1] is reply
    assert await clocks(product) == [(True, None)]


async def test_an_admin_answers_too(product: Product) -> None:
    await product.say("Hi", user_id=CUSTOMER_ID)
    [card] = [r for r in await product.deliver() if r.name == "sendMessage"]

    await product.say("Hello Emma", user_id=ADMIN_ID, chat_id=SERVICE_CHAT, reply_to=card)

    [answer] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert int(answer.params["chat_id"]) == CUSTOMER_ID and "Hello Emma" in answer.params["text"]


async def test_where_is_my_order_offers_each_open_order_and_shows_its_timeline(product: Product) -> None:
    order = await store(product, make_order(status=OrderStatus.PENDING_REVIEW, telegram_user_id=CUSTOMER_ID))
    await store(product, make_order(status=OrderStatus.CANCELLED, telegram_user_id=CUSTOMER_ID))

    await product.say("Where is my parcel?", user_id=CUSTOMER_ID)

    [question] = product.sent(CUSTOMER_ID)
    labels = buttons(question)
    assert list(labels) == [f"Order {order.reference}", "💬 Write to customer service"]
    await product.press(labels[f"Order {order.reference}"], user_id=CUSTOMER_ID, on=question)
    timeline = product.sent(CUSTOMER_ID)[-1].params["text"]
    assert order.reference in timeline and "being checked by our order desk" in timeline
    # Nothing went to customer service.
    assert await product.deliver() == []


async def test_a_chinese_cancel_request_leads_into_the_cancellation_of_the_order(product: Product) -> None:
    order = await store(product, make_order(status=OrderStatus.CONFIRMED, telegram_user_id=ZH_CUSTOMER_ID))
    order_id = order.reference

    await product.say("我想取消订单", user_id=ZH_CUSTOMER_ID, language_code="zh")

    # Issue 13: not a card for customer service, but the order's own Cancel button.
    [question] = product.sent(ZH_CUSTOMER_ID)
    assert "取消订单" in question.params["text"]
    labels = buttons(question)
    assert list(labels) == [f"✖ 取消 {order_id}", "💬 联系人工客服"]
    await product.press(labels[f"✖ 取消 {order_id}"], user_id=ZH_CUSTOMER_ID, on=question, language_code="zh")
    prompt = product.sent(ZH_CUSTOMER_ID)[-1]
    assert "订单正在备货" in prompt.params["text"] and "1 小时内" in prompt.params["text"]
    assert list(buttons(prompt)) == ["✖ 是的，取消", "↩️ 不，保留订单"]


async def test_a_problem_and_a_change_are_recognised_in_both_languages(product: Product) -> None:
    await store(product, make_order(status=OrderStatus.DELIVERED, telegram_user_id=ZH_CUSTOMER_ID))
    await store(product, make_order(status=OrderStatus.PICKED, telegram_user_id=CUSTOMER_ID))

    await product.say("包裹到了但是坏了", user_id=ZH_CUSTOMER_ID, language_code="zh")
    await product.say("I need to change my address", user_id=CUSTOMER_ID)
    await product.say("The box arrived damaged", user_id=CUSTOMER_ID)

    assert "是哪个订单出了问题" in product.sent(ZH_CUSTOMER_ID)[-1].params["text"]
    [change, problem] = [r.params["text"] for r in product.sent(CUSTOMER_ID)]
    assert change.startswith("You want to change an order.")
    assert problem.startswith("Sorry to hear that.")
    assert await product.deliver() == []


async def test_the_write_to_a_person_button_asks_for_the_message(product: Product) -> None:
    await product.say("where is it", user_id=CUSTOMER_ID)
    [question] = product.sent(CUSTOMER_ID)
    assert "no orders under way" in question.params["text"]

    await product.press(buttons(question)["💬 Write to customer service"], user_id=CUSTOMER_ID, on=question)

    assert "Write your message to customer service now" in product.sent(CUSTOMER_ID)[-1].params["text"]


async def test_a_customer_waiting_past_the_3_minutes_is_reminded_of_once_until_answered(
    product: Product,
) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await product.say("Do you ship batteries?", user_id=CUSTOMER_ID)
    [card] = [r for r in await product.deliver() if r.name == "sendMessage"]

    product.clock.advance(timedelta(minutes=2))
    assert await remind_unanswered(product.uow, product.workflow.conversation_setup) == 0
    product.clock.advance(timedelta(minutes=3))
    assert await remind_unanswered(product.uow, product.workflow.conversation_setup) == 1
    assert await remind_unanswered(product.uow, product.workflow.conversation_setup) == 0

    [reminder] = [r for r in await product.deliver() if r.name == "sendMessage"]
    assert int(reminder.params["chat_id"]) == SERVICE_CHAT
    assert "Emma Brown</b> has waited 2m past the answer time (2026-03-16 10:03)" in reminder.params["text"]
    assert "Do you ship batteries?" in reminder.params["text"]
    await product.say("Only in the device.", user_id=SERVICE_ID, chat_id=SERVICE_CHAT, reply_to=card)
    product.clock.advance(timedelta(minutes=10))
    assert await remind_unanswered(product.uow, product.workflow.conversation_setup) == 0
