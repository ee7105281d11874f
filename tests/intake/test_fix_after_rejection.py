"""Fixing a rejected order (issue 4 part 5, R-3.1): Fix opens the wizard filled in, the same order goes back.

Everything runs through the production dispatcher on a real database: the customer places an order
in the wizard, the order desk rejects its review card, the customer presses Fix on the rejection
(an outbox message, as the sender would deliver it), corrects the order and confirms.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Update

from application.intake import resubmit_order
from application.ports import OutboxMessage
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.errors import NotPermitted
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role, Service
from domain.review import ReviewPolicy
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from presentation.callbacks import OrderFix, ReviewAction, ReviewStep
from presentation.notifications import build_review_setup
from tests import telegram
from tests.fakes import FakeDatabase
from tests.intake.conftest import (
    NOW,
    TIMEZONE,
    Chat,
    ChatFactory,
    answer_customer_and_address,
    answer_goods_line,
    answer_up_to_preview,
    assert_small_order_in,
    find_order,
    grant,
    orders_of,
    reference_in,
)
from tests.mocked_bot import MockedBot
from tests.review.conftest import buttons, outbox
from tests.telegram import BOT_ID

DESK_ID = 701
DESK_CHAT = -1001000000001
STRANGER_ID = 333
PRICE = re.compile(r"Price: ([\d.]+) CNY")


@pytest.fixture
def dispatcher(dispatcher: Dispatcher, clock: FixedClock) -> Dispatcher:
    """The wizard's production dispatcher wired as bot/app.py does: review setup, event handlers, SLA."""
    sla = SlaContext(load_policy(), BusinessCalendar())
    setup = build_review_setup(
        i18n=create_i18n("en"),
        clock=clock,
        timezone=TIMEZONE,
        order_desk_chat_id=DESK_CHAT,
        policy=ReviewPolicy(Decimal(10000), "CNY"),
        sla=sla,
    )
    dispatcher["review_setup"] = setup
    dispatcher["event_handlers"] = setup.handlers
    dispatcher["sla"] = sla
    return dispatcher


@pytest.fixture
async def desk(database: FakeDatabase) -> int:
    """An order-desk clerk in the database."""
    await grant(database, DESK_ID, Role.ORDER_DESK)
    return DESK_ID


async def press_as_desk(
    dispatcher: Dispatcher, bot: MockedBot, update_ids: Iterator[int], data: str, card_text: str
) -> None:
    """The clerk presses a button on a review card in the order-desk chat."""
    update_id = next(update_ids)
    desk_chat = telegram.chat(DESK_CHAT, title="Order desk")
    query = telegram.callback_query(
        f"cb{update_id}",
        data,
        sender=telegram.user(DESK_ID, "Dora"),
        message=telegram.bot_message(500 + update_id, card_text, chat=desk_chat, date=NOW),
        chat_instance="desk",
    )
    await dispatcher.feed_update(
        bot, Update.model_validate({"update_id": update_id, "callback_query": query})
    )


async def press_act(chat: Chat, act: str, value: str | None = None) -> list[Any]:
    """Presses the wizard button doing this (language-independent: matched on the callback data).

    Without a value any button doing it matches (Confirm carries its preview's token).
    """
    matches = [
        data
        for _, data in chat.buttons()
        if data.split(":")[2] == act and (value is None or data.split(":")[3] == value)
    ]
    assert matches, f"no {act}:{value} button in {chat.buttons()}"
    return await chat.press_data(matches[0])


async def place_in_chat(chat: Chat) -> str:
    """Places the small order of answer_up_to_preview (air freight, Alipay); returns its reference."""
    if chat.language_code.startswith("zh"):
        await chat.send("/neworder")
        await answer_customer_and_address(chat, name="李雷", country="德国", city="柏林", skip="跳过")
        await answer_goods_line(chat, "Cotton T-shirts", quantity="2", weight="0.5", value="40")
        await press_act(chat, "pick", "done")
        await press_act(chat, "pick", Service.AIR_FREIGHT.value)
        await press_act(chat, "pick", "alipay")
        await press_act(chat, "skip")
    else:
        await answer_up_to_preview(chat)
    await press_act(chat, "confirm")
    return reference_in(chat.text)


def desk_cards(messages: list[OutboxMessage], order: Order) -> list[OutboxMessage]:
    """The review cards of an order queued for the order-desk chat."""
    return [
        message
        for message in messages
        if message.chat_id == DESK_CHAT
        and message.order_id == order.id
        and (message.dedup_key or "").startswith("review-card:")
    ]


async def reject(
    dispatcher: Dispatcher,
    bot: MockedBot,
    update_ids: Iterator[int],
    database: FakeDatabase,
    reference: str,
    reason: ReviewStep,
) -> tuple[Order, str]:
    """The clerk rejects the order's review card for a reason; returns the order and the Fix button's data."""
    order = await stored_order(database, reference)
    [card] = desk_cards(await outbox(database), order)
    text = re.sub(r"<[^>]+>", "", card.params["text"])
    await press_as_desk(
        dispatcher, bot, update_ids, ReviewAction(order_id=order.id, action=reason).pack(), text
    )
    rejected = await stored_order(database, reference)
    assert rejected.status is OrderStatus.REJECTED
    [rejection] = [
        message
        for message in await outbox(database, order.customer.telegram_user_id)
        if (message.dedup_key or "").startswith("rejection:")
    ]
    [fix] = [data for data in buttons(rejection) if data.startswith("fix:")]
    return rejected, fix


Rejecter = Callable[..., Awaitable[tuple[Chat, str, Order, str]]]


@pytest.fixture
def rejected(
    chat: ChatFactory,
    dispatcher: Dispatcher,
    mocked_bot: MockedBot,
    update_ids: Iterator[int],
    database: FakeDatabase,
    desk: int,
) -> Rejecter:
    """Places the small order in a customer's chat (Ann's unless given) and has the clerk reject it.

    Returns the customer's chat, the order's reference, the rejected order and the Fix button's data.
    """

    async def place_and_reject(
        reason: ReviewStep, customer: Chat | None = None
    ) -> tuple[Chat, str, Order, str]:
        customer = customer or chat()
        reference = await place_in_chat(customer)
        order, fix = await reject(dispatcher, mocked_bot, update_ids, database, reference, reason)
        return customer, reference, order, fix

    return place_and_reject


async def stored_order(database: FakeDatabase, reference: str) -> Order:
    """The order with this reference as it is stored now."""
    order = await find_order(database, reference)
    assert order is not None
    return order


async def test_cannot_serve_fix_changes_the_service_and_sends_the_same_order_back(
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    ann, reference, order, fix = await rejected(ReviewStep.CANNOT_SERVE)
    assert OrderFix.unpack(fix).field == "service"

    replies = await ann.press_data(fix)

    sent = [request.params["text"] for request in replies if request.name == "sendMessage"]
    assert f"Let’s fix your order <b>{reference}</b>" in sent[0]
    assert "Which service do you need?" in ann.text
    assert "Now: <i>✈ Air freight + customs agency</i>" in ann.text

    await ann.press("Sea freight")

    preview = ann.text
    assert f"You are correcting order <b>{reference}</b>" in preview
    assert_small_order_in(preview)
    assert "Service type: 🚢 Sea freight + customs agency" in preview
    assert "Payment method: Alipay" in preview
    match = PRICE.search(preview)
    assert match
    new_price = Decimal(match.group(1))
    assert new_price != order.amount

    await ann.press("Confirm order")

    assert f"Your order <b>{reference}</b> was corrected" in ann.text
    assert f"Amount: {new_price:.2f} CNY." in ann.text
    [stored] = await orders_of(database, ann.user_id)
    assert (stored.id, stored.reference) == (order.id, reference)
    assert stored.status is OrderStatus.PENDING_REVIEW
    assert stored.service is Service.SEA_FREIGHT
    assert stored.amount == new_price
    assert (stored.customer.name, stored.customer.phone, stored.payment_method) == (
        "Ann Smith",
        "+4915123456789",
        "alipay",
    )
    assert [(item.name, item.quantity) for item in stored.items] == [("Cotton T-shirts", 2)]
    assert [event.action for event in stored.audit] == [
        "submit",
        "pass_validation",
        "reject",
        "resubmit",
        "pass_validation",
    ]
    resubmit = next(event for event in stored.audit if event.action == "resubmit")
    assert (resubmit.actor_id, resubmit.actor_role) == (ann.user_id, Role.CUSTOMER)
    assert (resubmit.from_status, resubmit.to_status) == (OrderStatus.REJECTED, OrderStatus.SUBMITTED)
    assert "service: air_freight → sea_freight" in resubmit.note
    assert f"amount: {order.amount:.2f} CNY → {new_price:.2f} CNY" in resubmit.note
    assert "name:" not in resubmit.note
    cards = desk_cards(await outbox(database), stored)
    assert len(cards) == 2
    assert cards[0].dedup_key != cards[1].dedup_key
    assert reference in cards[1].params["text"]
    assert "sea freight" in cards[1].params["text"].lower()
    assert [running.stage for running in stored.clocks if running.running] == ["first_review"]


async def test_inconsistent_fix_opens_the_preview_where_any_field_can_change(
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    ann, reference, order, fix = await rejected(ReviewStep.INCONSISTENT)

    await ann.press_data(fix)

    assert "Please check the order" in ann.text
    assert f"You are correcting order <b>{reference}</b>" in ann.text
    await ann.press("Change a field")
    await press_act(ann, "field", "name")
    assert "Now: <i>Ann Smith</i>" in ann.text
    await ann.send("Ann Smythe")
    assert "Name: Ann Smythe" in ann.text
    await ann.press("Confirm order")

    stored = await stored_order(database, reference)
    assert stored.id == order.id
    assert stored.status is OrderStatus.PENDING_REVIEW
    assert stored.customer.name == "Ann Smythe"
    assert stored.amount == order.amount
    resubmit = next(event for event in stored.audit if event.action == "resubmit")
    assert resubmit.note == "corrected by the customer: name: Ann Smith → Ann Smythe"


async def test_a_stranger_pressing_fix_changes_nothing(
    chat: ChatFactory,
    dispatcher: Dispatcher,
    mocked_bot: MockedBot,
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    ann, reference, order, fix = await rejected(ReviewStep.CANNOT_SERVE)
    stranger = chat(user_id=STRANGER_ID, first_name="Eve", seen=len(mocked_bot.requests))

    replies = await stranger.press_data(fix)
    ann.seen = len(mocked_bot.requests)
    forged = await ann.press_data(OrderFix(order_id="no-such-order", field="service").pack())

    for answered in (replies, forged):
        assert [request.name for request in answered] == ["answerCallbackQuery"]
        assert answered[0].params["text"] == "This is not your order."
    key = StorageKey(bot_id=BOT_ID, chat_id=STRANGER_ID, user_id=STRANGER_ID)
    assert await dispatcher.storage.get_state(key) is None
    after = await stored_order(database, reference)
    assert (after.status, after.version, len(after.audit)) == (
        OrderStatus.REJECTED,
        order.version,
        len(order.audit),
    )


async def test_the_customer_only_may_resubmit(
    database: FakeDatabase,
    rejected: Rejecter,
    clock: FixedClock,
) -> None:
    _, reference, order, _ = await rejected(ReviewStep.NOT_PAID)
    draft = OrderDraft(
        customer=CustomerDraft(name="Eve", phone="+4915123456789", telegram_user_id=STRANGER_ID),
        address=AddressDraft(country="DE", city="Berlin", street="Unter den Linden 1", postcode="10117"),
        items=[ItemDraft(name="Cotton T-shirts", quantity=2, weight_kg="0.5", declared_value="40")],
        service="sea_freight",
        payment_method="alipay",
    )

    with pytest.raises(NotPermitted):
        await resubmit_order(database.unit_of_work(), order.id, draft, clock, actor_id=STRANGER_ID)

    after = await stored_order(database, reference)
    assert (after.status, after.customer.name, after.version) == (
        OrderStatus.REJECTED,
        "Ann Smith",
        order.version,
    )


async def test_fix_on_an_order_that_moved_on_is_refused_politely(
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    ann, reference, order, fix = await rejected(ReviewStep.CANNOT_SERVE)
    [rejection] = [
        message
        for message in await outbox(database, ann.user_id)
        if (message.dedup_key or "").startswith("rejection:")
    ]
    [cancel] = [data for data in buttons(rejection) if data.startswith("co:")]
    # The wizard is open when the order is cancelled from the rejection message.
    await ann.press_data(fix)
    await ann.press("Sea freight")
    confirm = ann.button_data("Confirm order")

    await ann.press_data(cancel)
    await ann.press_data(confirm)

    assert (
        ann.text == f"Order {reference} is no longer waiting for a fix (now: cancelled); nothing was changed."
    )
    replies = await ann.press_data(fix)
    assert [request.name for request in replies] == ["answerCallbackQuery"]
    assert replies[0].params["text"] == ann.text
    stored = await stored_order(database, reference)
    assert stored.status is OrderStatus.CANCELLED
    assert stored.service is Service.AIR_FREIGHT
    assert "resubmit" not in [event.action for event in stored.audit]
    assert len(desk_cards(await outbox(database), order)) == 1


async def test_cancelling_the_fix_wizard_keeps_the_rejected_order(
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    ann, reference, order, fix = await rejected(ReviewStep.NOT_PAID)
    await ann.press_data(fix)

    await ann.press("Cancel order")

    assert f"Order {reference} stays rejected" in ann.text
    stored = await stored_order(database, reference)
    assert (stored.status, stored.version) == (OrderStatus.REJECTED, order.version)


async def test_a_chinese_customer_fixes_the_payment_in_chinese(
    chat: ChatFactory,
    database: FakeDatabase,
    rejected: Rejecter,
) -> None:
    li = chat(user_id=101, language_code="zh-hans", first_name="李")
    _, reference, order, fix = await rejected(ReviewStep.NOT_PAID, li)
    assert OrderFix.unpack(fix).field == "payment"

    replies = await li.press_data(fix)

    sent = [request.params["text"] for request in replies if request.name == "sendMessage"]
    assert f"我们来修改您的订单 <b>{reference}</b>" in sent[0]
    assert "您将如何付款？" in li.text
    await li.press("微信支付")
    assert f"您正在修改订单 <b>{reference}</b>" in li.text
    assert "请核对订单" in li.text
    await press_act(li, "confirm")

    assert f"您的订单 <b>{reference}</b> 已修改" in li.text
    stored = await stored_order(database, reference)
    assert (stored.id, stored.status, stored.payment_method) == (
        order.id,
        OrderStatus.PENDING_REVIEW,
        "wechat_pay",
    )
    assert stored.customer.name == "李雷"
    assert stored.customer.language == "zh"
