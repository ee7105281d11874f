"""Cancellations end to end (issue 13, R-6.1): the production wiring, the outbox sender, the recording bot.

A customer presses Cancel under their order, customer service and the order desk press the cards'
buttons in their team chats, the outbox delivers each card, and the refund reaches finance; in English
and in Chinese (a Chinese customer, a team chat that chose Chinese with /lang).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from domain.orders.status import OrderStatus, Role
from presentation.execution_cards import ExecAction, ExecStep
from storage.models import CancellationRow, MoneyOwedRow
from tests.mocked_bot import RecordedRequest
from tests.product.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    LOGISTICS_CHAT,
    PICKER_ID,
    SERVICE_CHAT,
    SERVICE_ID,
    WAREHOUSE_CHAT,
    ZH_CUSTOMER_ID,
    Product,
    buttons,
    card_message,
    grant,
    store,
)
from tests.product.test_team_language import set_language
from tests.storage.factories import make_order

LOGISTICS_ID = 501


@pytest.fixture
def product(product: Product) -> Product:
    """The product, its sender waiting out the overall limit on the test clock (several cards at once)."""

    async def wait(seconds: float) -> None:
        product.clock.advance(timedelta(seconds=seconds))

    product.sender._sleep = wait
    return product


async def paid_order(
    product: Product, status: OrderStatus, customer: int, language: str = "en", currency: str | None = None
) -> str:
    """A paid, numbered order of the customer in the status; returns its number."""
    order = make_order(status=status, telegram_user_id=customer)
    order.currency = currency or order.currency
    order.paid, order.number = True, "20260316007"
    order.customer.language = language
    order.shipment.waybill = "784-12345675" if status is not OrderStatus.CONFIRMED else None
    await store(product, order)
    return order.number


def card_in(requests: list[RecordedRequest], chat_id: int) -> RecordedRequest:
    """The one message delivered to a chat."""
    [card] = [r for r in requests if r.name == "sendMessage" and int(r.params["chat_id"]) == chat_id]
    return card


async def stored_state(product: Product, number: str) -> tuple[OrderStatus, list[Decimal], str]:
    """The order's status, the refunds owed and its cancellation's state."""
    async with product.uow() as uow:
        order = await uow.orders.find(number)
    assert order is not None
    async with product.sessions() as session:
        owed = (
            await session.scalars(select(MoneyOwedRow.amount).where(MoneyOwedRow.order_id == order.id))
        ).all()
        state = await session.scalar(
            select(CancellationRow.state).where(CancellationRow.order_id == order.id)
        )
    return order.status, list(owed), state or ""


async def test_a_held_order_is_checked_by_customer_service_and_cancelled_by_the_desk(
    product: Product,
) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    number = await paid_order(product, OrderStatus.CONFIRMED, CUSTOMER_ID)

    await product.say(f"/track {number}", user_id=CUSTOMER_ID)
    tracked = product.sent(CUSTOMER_ID)[-1]
    assert list(buttons(tracked)) == [
        "✖ Cancel",
        "📍 Change address",
        "☎️ Change contact",
        "🚚 Change service",
    ]
    await product.press(buttons(tracked)["✖ Cancel"], user_id=CUSTOMER_ID, on=tracked)
    prompt = product.sent(CUSTOMER_ID)[-1]
    assert "customer service checks your request within 1 hour" in prompt.params["text"]
    assert "245.80" in prompt.params["text"]
    await product.press(buttons(prompt)["✖ Yes, cancel it"], user_id=CUSTOMER_ID, on=prompt)
    assert "is stopped" in product.sent(CUSTOMER_ID)[-1].params["text"]
    # A second press of the same Yes changes nothing.
    await product.press(buttons(prompt)["✖ Yes, cancel it"], user_id=CUSTOMER_ID, on=prompt)
    assert product.bot.requests_for("answerCallbackQuery")[-1].params.get("show_alert") in (True, "true")

    delivered = await product.deliver()
    service_card = card_in(delivered, SERVICE_CHAT)
    assert "Cancellation request: 20260316007" in service_card.params["text"]
    assert "On hold" in card_in(delivered, WAREHOUSE_CHAT).params["text"]
    assert (
        "stop" in card_in(delivered, CUSTOMER_ID).params["text"]
        or "cancel" in card_in(delivered, CUSTOMER_ID).params["text"]
    )

    await product.press(
        buttons(service_card)["✅ Checked: to the order desk"], user_id=SERVICE_ID, on=service_card
    )
    desk_card = card_in(await product.deliver(), DESK_CHAT)
    assert "Refund due: 245.80" in desk_card.params["text"]
    # Customer service may not cancel in the desk's place; the desk does.
    await product.press(buttons(desk_card)["✖ Cancel the order"], user_id=SERVICE_ID, on=desk_card)
    assert (await stored_state(product, number))[0] is OrderStatus.CANCELLATION_REQUESTED
    await product.press(buttons(desk_card)["✖ Cancel the order"], user_id=DESK_ID, on=desk_card)

    status, owed, state = await stored_state(product, number)
    assert (status, owed, state) == (OrderStatus.CANCELLED, [Decimal("245.80")], "cancelled")
    delivered = await product.deliver()
    assert "do not ship it" in card_in(delivered, WAREHOUSE_CHAT).params["text"]
    assert "is cancelled" in card_in(delivered, CUSTOMER_ID).params["text"]


async def test_a_chinese_customer_declines_and_then_accepts_recall_terms(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    # The customer-service chat chose Chinese (issue 18); the administrator sets it.
    assert "中文" in await set_language(product, SERVICE_CHAT, ADMIN_ID, "zh")
    number = await paid_order(product, OrderStatus.IN_TRANSIT, ZH_CUSTOMER_ID, "zh")

    async def ask() -> RecordedRequest:
        await product.say(f"/cancel {number}", user_id=ZH_CUSTOMER_ID, language_code="zh")
        prompt = product.sent(ZH_CUSTOMER_ID)[-1]
        assert "订单已出库，需要召回" in prompt.params["text"]
        await product.press(
            buttons(prompt)["✖ 是的，取消"], user_id=ZH_CUSTOMER_ID, on=prompt, language_code="zh"
        )
        card = card_in(await product.deliver(), SERVICE_CHAT)
        assert "取消申请：20260316007" in card.params["text"] and "50% 运费" in card.params["text"]
        return card

    card = await ask()
    await product.press(buttons(card)["📨 提议承担 50% 运费"], user_id=SERVICE_ID, on=card)
    terms = card_in(await product.deliver(), ZH_CUSTOMER_ID)
    assert "您承担 50% 运费" in terms.params["text"] and "122.90" in terms.params["text"]
    await product.press(buttons(terms)["↩️ 保留订单"], user_id=ZH_CUSTOMER_ID, on=terms, language_code="zh")
    assert (await stored_state(product, number))[:2] == (OrderStatus.IN_TRANSIT, [])
    # The stale Accept under the declined terms does nothing.
    await product.press(buttons(terms)["✅ 接受并取消"], user_id=ZH_CUSTOMER_ID, on=terms, language_code="zh")
    assert (await stored_state(product, number))[0] is OrderStatus.IN_TRANSIT
    await product.deliver()

    # Asked again, with another share typed by customer service.
    card = await ask()
    await product.press(buttons(card)["✏️ 其他比例"], user_id=SERVICE_ID, on=card)
    await product.say("20", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    terms = card_in(await product.deliver(), ZH_CUSTOMER_ID)
    assert "您承担 20% 运费" in terms.params["text"]
    await product.press(buttons(terms)["✅ 接受并取消"], user_id=ZH_CUSTOMER_ID, on=terms, language_code="zh")
    recall = card_in(await product.deliver(), LOGISTICS_CHAT)
    assert "Recall task" in recall.params["text"] and "784-12345675" in recall.params["text"]
    await product.press(buttons(recall)["📦 Goods are back"], user_id=LOGISTICS_ID, on=recall)

    status, owed, _state = await stored_state(product, number)
    assert (status, owed) == (OrderStatus.CANCELLED, [Decimal("196.64")])


async def test_the_company_cannot_serve_and_the_customer_chooses_cancellation(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    number = await paid_order(product, OrderStatus.PICKED, CUSTOMER_ID)

    await product.say(f"/order {number}", user_id=DESK_ID, chat_id=DESK_CHAT)
    staff_card = product.sent(DESK_CHAT)[-1]
    await product.press(buttons(staff_card)["⛔ Service cannot be provided"], user_id=DESK_ID, on=staff_card)
    await product.say("x", user_id=DESK_ID, chat_id=DESK_CHAT)
    assert "at least 3 characters" in product.sent(DESK_CHAT)[-1].params["text"]
    await product.say("The airline stopped taking lithium batteries", user_id=DESK_ID, chat_id=DESK_CHAT)
    delivered = await product.deliver()
    service_card = card_in(delivered, SERVICE_CHAT)
    assert "lithium batteries" in service_card.params["text"]

    await product.press(
        buttons(service_card)["📨 Tell the customer, offer the alternatives"],
        user_id=SERVICE_ID,
        on=service_card,
    )
    offer = card_in(await product.deliver(), CUSTOMER_ID)
    assert "cannot provide the service" in offer.params["text"]
    assert list(buttons(offer)) == ["🔁 Another service (new quote)", "✖ Cancel, full refund"]
    await product.press(buttons(offer)["✖ Cancel, full refund"], user_id=CUSTOMER_ID, on=offer)

    assert await stored_state(product, number) == (OrderStatus.CANCELLED, [Decimal("245.80")], "cancelled")


async def test_someone_elses_order_is_answered_like_an_unknown_one(product: Product) -> None:
    number = await paid_order(product, OrderStatus.CONFIRMED, ZH_CUSTOMER_ID)

    await product.say(f"/cancel {number}", user_id=CUSTOMER_ID)
    mine = product.sent(CUSTOMER_ID)[-1].params["text"]
    await product.say("/cancel 20991231999", user_id=CUSTOMER_ID)

    assert mine == f"I found no order {number} of yours. Check the reference, or see /myorders."
    assert product.sent(CUSTOMER_ID)[-1].params["text"].startswith("I found no order 20991231999 of yours")


async def test_customer_service_files_for_a_caller_and_the_warehouse_button_says_why_it_is_blocked(
    product: Product,
) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.WAREHOUSE, PICKER_ID)
    number = await paid_order(product, OrderStatus.CONFIRMED, CUSTOMER_ID)
    async with product.uow() as uow:
        order = await uow.orders.find(number)
    assert order is not None

    # The customer called the hotline: customer service files it from the order card, by phone consent.
    await product.say(f"/order {number}", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    staff_card = product.sent(SERVICE_CHAT)[-1]
    assert "⛔ Service cannot be provided" not in buttons(staff_card)
    await product.press(
        buttons(staff_card)["☎️ The customer agreed by phone: cancel"], user_id=SERVICE_ID, on=staff_card
    )
    assert "Filed for the customer" in product.sent(SERVICE_CHAT)[-1].params["text"]
    async with product.uow() as uow:
        held = await uow.orders.get(order.id)
    assert held.status is OrderStatus.CANCELLATION_REQUESTED
    assert held.audit[-1].note == "consent: customer agreed by phone"
    service_card = card_in(await product.deliver(), SERVICE_CHAT)
    assert "Customer service for the customer" in service_card.params["text"]

    # The warehouse's Picked on the card it had: the press says the order is on hold, and why.
    picked = ExecAction(order_id=order.id, step=ExecStep.PICK).pack()
    await product.press(picked, user_id=PICKER_ID, on=card_message(WAREHOUSE_CHAT, f"Warehouse: {number}"))
    toast = product.bot.requests_for("answerCallbackQuery")[-1].params
    assert "On hold: the customer asked to cancel" in toast["text"] and toast.get("show_alert") in (
        True,
        "true",
    )


async def test_the_company_cannot_serve_and_the_customer_chooses_another_service(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    # Priced in the tariff's currency, so the change flow can quote the other services.
    number = await paid_order(product, OrderStatus.CONFIRMED, CUSTOMER_ID, currency="CNY")
    await product.say(f"/order {number}", user_id=DESK_ID, chat_id=DESK_CHAT)
    staff_card = product.sent(DESK_CHAT)[-1]
    await product.press(buttons(staff_card)["⛔ Service cannot be provided"], user_id=DESK_ID, on=staff_card)
    await product.say("No air freight to this destination this month", user_id=DESK_ID, chat_id=DESK_CHAT)
    service_card = card_in(await product.deliver(), SERVICE_CHAT)
    await product.press(
        buttons(service_card)["📨 Tell the customer, offer the alternatives"],
        user_id=SERVICE_ID,
        on=service_card,
    )
    offer = card_in(await product.deliver(), CUSTOMER_ID)

    await product.press(buttons(offer)["🔁 Another service (new quote)"], user_id=CUSTOMER_ID, on=offer)

    reply = product.sent(CUSTOMER_ID)[-1]
    assert "Choose the new service" in reply.params["text"]
    # The change flow's own button (issue 13, R-6.2) takes the new service and its quote from here.
    assert buttons(reply)["🚚 Change service"].endswith(":service")
    assert (await stored_state(product, number))[:2] == (OrderStatus.CONFIRMED, [])
    desk = card_in(await product.deliver(), DESK_CHAT)
    assert "chose another service" in desk.params["text"]
    # The offer's Cancel, pressed after the choice, changes nothing.
    await product.press(buttons(offer)["✖ Cancel, full refund"], user_id=CUSTOMER_ID, on=offer)
    assert (await stored_state(product, number))[0] is OrderStatus.CONFIRMED
    # The change flow takes it on: the other services with their new quotes.
    await product.press(buttons(reply)["🚚 Change service"], user_id=CUSTOMER_ID, on=reply)
    choices = product.sent(CUSTOMER_ID)[-1]
    assert f"Change the service of order {number}" in choices.params["text"]
    assert any(label.startswith("International sea freight") for label in buttons(choices))


async def test_customer_service_files_with_the_cancel_command_and_a_stranger_cannot(product: Product) -> None:
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    number = await paid_order(product, OrderStatus.PENDING_REVIEW, CUSTOMER_ID)

    await product.say(f"/cancel {number}", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    prompt = product.sent(SERVICE_CHAT)[-1]
    assert "Only with their consent" in prompt.params["text"]
    # A customer pressing the staff prompt's button is refused; the order stays as it is.
    await product.press(
        buttons(prompt)["☎️ The customer agreed by phone: cancel"], user_id=CUSTOMER_ID, on=prompt
    )
    assert (await stored_state(product, number))[0] is OrderStatus.PENDING_REVIEW
    await product.press(
        buttons(prompt)["☎️ The customer agreed by phone: cancel"], user_id=SERVICE_ID, on=prompt
    )

    # Not confirmed yet: cancelled at once, and what was paid is owed back.
    assert await stored_state(product, number) == (OrderStatus.CANCELLED, [Decimal("245.80")], "cancelled")
