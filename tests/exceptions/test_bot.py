"""Exceptions end to end through the production wiring and the recording Bot API (issue 14, R-6, R-6.5).

A delay in English: logistics marks it with /exception, records the cause and the new time; customer
service sends the drafted notice and offers a coupon the customer accepts; the case closes, the
customer taps Satisfied and the desk saves the record. A customs hold in Chinese: logistics marks
it and records what customs needs, customer service asks, the customer uploads a photo and a PDF,
logistics records the release and the order is back in clearance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram.types import Update

from application.finance import record_paid
from application.services import Actor
from domain.exceptions.case import CaseResult, FileKind
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role
from domain.sla.clocks import running_clock
from domain.sla.policy import Stage
from scheduler.outbox_sender import OutboxSender
from storage.outbox_queue import SqlOutboxQueue
from storage.uow import SqlUnitOfWork
from tests.exceptions.conftest import order_at
from tests.mocked_bot import RecordedRequest
from tests.product.conftest import (
    CUSTOMER_ID,
    DESK_CHAT,
    DESK_ID,
    LOGISTICS_CHAT,
    SERVICE_CHAT,
    SERVICE_ID,
    ZH_CUSTOMER_ID,
    Product,
    buttons,
    grant,
    store,
)
from tests.product.conftest import product as wired

__all__ = ["wired"]
LOGISTICS_ID = 501
FINANCE_ID = 601


@pytest.fixture
async def product(wired: Product) -> AsyncIterator[Product]:
    """The wired product whose outbox sender waits on the test's clock (one round sends every chat's turn)."""

    async def sleep(seconds: float) -> None:
        wired.clock.advance(timedelta(seconds=seconds))

    wired.sender = OutboxSender(
        SqlOutboxQueue(wired.sessions),
        wired.bot,
        wired.clock,
        overall_per_second=1000,
        group_per_minute=1000,
        private_per_second=1000,
        sleep=sleep,
    )
    yield wired


async def deliver_all(product: Product) -> None:
    """Runs the outbox sender until nothing is left (a chat's second message waits for its turn)."""
    for _ in range(5):
        if not await product.deliver():
            return


def last(requests: list[RecordedRequest]) -> RecordedRequest:
    """The newest of some requests."""
    assert requests, "nothing was sent"
    return requests[-1]


def texts(product: Product, chat_id: int) -> list[str]:
    """Every text sent to a chat."""
    return [str(request.params["text"]) for request in product.sent(chat_id)]


def toasts(product: Product) -> list[str]:
    """The texts of the answered presses."""
    return [str(r.params.get("text", "")) for r in product.bot.requests_for("answerCallbackQuery")]


async def send_file(
    product: Product, user_id: int, kind: FileKind, file_id: str, *, language_code: str = "zh"
) -> None:
    """The customer sends a photo or a PDF in their chat (their Telegram set to language_code)."""
    message: dict[str, Any] = {
        "message_id": next(product.message_ids),
        "date": int(product.clock.now().timestamp()),
        "chat": {"id": user_id, "type": "private", "first_name": "Customer"},
        "from": {"id": user_id, "is_bot": False, "first_name": "Customer", "language_code": language_code},
    }
    if kind is FileKind.PHOTO:
        message["photo"] = [{"file_id": file_id, "file_unique_id": file_id[-6:], "width": 800, "height": 600}]
    else:
        message["document"] = {
            "file_id": file_id,
            "file_unique_id": file_id[-6:],
            "file_name": "invoice.pdf",
            "mime_type": "application/pdf",
        }
    update = Update.model_validate({"update_id": next(product.update_ids), "message": message})
    await product.dispatcher.feed_update(product.bot, update)


async def order_of(product: Product, status: OrderStatus, customer_id: int, language: str) -> Order:
    """Stores an order walked to the status for a customer who reads the language."""
    order = order_at(status, telegram_user_id=customer_id)
    order.customer.language = language
    return await store(product, order)


async def held_at_customs(product: Product, number: str, cause: str, note: str) -> RecordedRequest:
    """Logistics marks a customs hold with /exception, which pauses the clearance clock; returns its alert."""
    await product.say(f"/exception {number}", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    menu = last(product.sent(LOGISTICS_CHAT))
    await product.press(buttons(menu)["Customs hold"], user_id=LOGISTICS_ID, on=menu)
    causes = last(product.bot.requests_for("editMessageText"))
    await product.press(buttons(causes)[cause], user_id=LOGISTICS_ID, on=menu)
    await product.say(note, user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    await deliver_all(product)
    stored = await product.order(number)
    assert stored.status is OrderStatus.EXCEPTION
    clearance = running_clock(stored, Stage.CLEARANCE)
    assert clearance is not None and clearance.paused_at is not None
    return last([r for r in product.sent(LOGISTICS_CHAT) if "Customs holds order" in r.params["text"]])


async def the_case(product: Product, order_id: str) -> Any:
    """The order's only case as stored."""
    async with SqlUnitOfWork(product.sessions) as uow:
        (case,) = await uow.exceptions.of_order(order_id)
    return case


async def test_a_delay_is_marked_told_compensated_closed_and_recorded_in_english(product: Product) -> None:
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    await grant(product, Role.FINANCE, FINANCE_ID)
    order = await order_of(product, OrderStatus.IN_TRANSIT, CUSTOMER_ID, "en")
    assert order.number is not None

    # Marking: /exception, the type, the cause, the note.
    await product.say(f"/exception {order.number}", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    menu = last(product.sent(LOGISTICS_CHAT))
    assert "Mark an exception on order" in menu.params["text"]
    await product.press(buttons(menu)["Delay"], user_id=LOGISTICS_ID, on=menu)
    causes = last(product.bot.requests_for("editMessageText"))
    assert "Delay on order" in causes.params["text"]
    await product.press(buttons(causes)["Weather"], user_id=LOGISTICS_ID, on=menu)
    await product.say("Typhoon closed the hub", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "Exception marked on" in texts(product, LOGISTICS_CHAT)[-1]
    stored = await product.order(order.number)
    assert stored.status is OrderStatus.EXCEPTION
    assert running_clock(stored, Stage.DELAY_NOTICE) is not None

    await deliver_all(product)
    (desk_alert,) = [t for t in texts(product, DESK_CHAT) if "Exception on order" in t]
    assert "Delay" in desk_alert and "Weather" in desk_alert and "Typhoon closed the hub" in desk_alert
    assert any("There is a problem with your order" in t for t in texts(product, CUSTOMER_ID))
    logistics_alert = last(
        [r for r in product.sent(LOGISTICS_CHAT) if "Exception on order" in r.params["text"]]
    )

    # Logistics records the cause and the new expected time (delay_cause), customer service gets the draft.
    await product.press(
        buttons(logistics_alert)["🔎 Record cause and new time"], user_id=LOGISTICS_ID, on=logistics_alert
    )
    cause_menu = last(product.sent(LOGISTICS_CHAT))
    await product.press(buttons(cause_menu)["Weather"], user_id=LOGISTICS_ID, on=cause_menu)
    await product.say("20-03-2026", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "YYYY-MM-DD HH:MM" in texts(product, LOGISTICS_CHAT)[-1]
    await product.say("2026-03-20 18:00", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "Cause and new time recorded" in texts(product, LOGISTICS_CHAT)[-1]
    await deliver_all(product)
    draft = last([r for r in product.sent(SERVICE_CHAT) if "the message to the customer" in r.params["text"]])
    assert "The new expected delivery time is 2026-03-20 18:00" in draft.params["text"]
    assert "compensation threshold" in draft.params["text"]

    # Customer service sends it: the customer is told; delay_notice closes.
    await product.press(buttons(draft)["✉️ Send to the customer"], user_id=SERVICE_ID, on=draft)
    await deliver_all(product)
    assert f"your order {order.number} is delayed (Weather)" in texts(product, CUSTOMER_ID)[-1]
    stored = await product.order(order.number)
    assert running_clock(stored, Stage.DELAY_NOTICE) is None
    assert any(c.stage == Stage.DELAY_NOTICE and c.met for c in stored.clocks)

    # A long delay: a coupon within customer service's limit, accepted with a button.
    await product.press(buttons(draft)["🎟 Offer a coupon"], user_id=SERVICE_ID, on=draft)
    await product.say("50", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    assert "above your limit of 24.58" in texts(product, SERVICE_CHAT)[-1]
    await product.say("20", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    assert "Offer sent" in texts(product, SERVICE_CHAT)[-1]
    await deliver_all(product)
    offer = last(product.sent(CUSTOMER_ID))
    assert "we offer a coupon of 20 EUR" in offer.params["text"]
    await product.press(buttons(offer)["✅ Accept"], user_id=CUSTOMER_ID, on=offer)
    assert "is accepted" in toasts(product)[-1]
    case = await the_case(product, order.id)
    assert case.compensation.accepted_at is not None
    # Finance owes it as a payout on its own clock (application/finance.py owe(), issue 13).
    async with SqlUnitOfWork(product.sessions) as uow:
        (owed,) = await uow.finance.for_order(order.id)
    assert (owed.kind.value, owed.amount, owed.reason.value, owed.case_id) == (
        "payout",
        Decimal("20"),
        "delay_compensation",
        case.id,
    )
    # Followed up until applied: finance records it paid, the case says so.
    assert owed.id is not None
    await record_paid(
        SqlUnitOfWork(product.sessions),
        owed.id,
        actor=Actor(FINANCE_ID, frozenset({Role.FINANCE})),
        reference="PAY-0001",
        paid_at=None,
        clock=product.clock,
        handlers=product.workflow.event_handlers,
        sla=product.workflow.sla,
    )
    case = await the_case(product, order.id)
    assert case.compensation.applied_at is not None
    assert case.steps[-1].kind.value == "compensation_applied"

    # Closing: the order goes on; the customer taps once; the desk saves the prefilled record.
    await product.press(
        buttons(logistics_alert)["✅ Resolved, go on"], user_id=CUSTOMER_ID, on=logistics_alert
    )
    assert "Your role does not allow this." in toasts(product)[-1]
    service_alert = last([r for r in product.sent(SERVICE_CHAT) if "Exception on order" in r.params["text"]])
    await product.press(buttons(service_alert)["✅ Resolved, go on"], user_id=SERVICE_ID, on=service_alert)
    await product.press(buttons(service_alert)["✅ Resolved, go on"], user_id=SERVICE_ID, on=service_alert)
    assert "This case was closed by Sam Service" in toasts(product)[-1]
    assert (await product.order(order.number)).status is OrderStatus.IN_TRANSIT
    await deliver_all(product)
    question = last(product.sent(CUSTOMER_ID))
    assert "Are you satisfied with how we handled it?" in question.params["text"]
    await product.press(buttons(question)["👍 Satisfied"], user_id=CUSTOMER_ID, on=question)
    record_card = last(
        [r for r in product.sent(DESK_CHAT) if "Complete the exception record" in r.params["text"]]
    )
    assert "cause: weather" in record_card.params["text"]
    await product.press(buttons(record_card)["🗂 Save the record"], user_id=DESK_ID, on=record_card)
    case = await the_case(product, order.id)
    assert case.result is CaseResult.RESUMED and case.satisfied is True
    assert case.recorded_by == DESK_ID and "result: resumed" in case.record
    stored = await product.order(order.number)
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is None


async def test_a_customs_hold_is_asked_documented_and_released_in_chinese(product: Product) -> None:
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    order = await order_of(product, OrderStatus.ARRIVED, ZH_CUSTOMER_ID, "zh")
    assert order.number is not None

    alert = await held_at_customs(product, order.number, "Documents missing", "Invoice missing")
    assert any("海关" in t for t in texts(product, ZH_CUSTOMER_ID))

    # Logistics records what customs needs; customer service sends the drafted request in Chinese.
    await product.press(buttons(alert)["📝 What customs needs"], user_id=LOGISTICS_ID, on=alert)
    await product.say("Commercial invoice", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    await deliver_all(product)
    draft = last([r for r in product.sent(SERVICE_CHAT) if "the request to the customer" in r.params["text"]])
    assert "需要：Commercial invoice" in draft.params["text"]
    await product.press(buttons(draft)["✏️ Edit"], user_id=SERVICE_ID, on=draft)
    await product.say("您的订单被海关扣留，请上传商业发票。", user_id=SERVICE_ID, chat_id=SERVICE_CHAT)
    await deliver_all(product)
    request = last(product.sent(ZH_CUSTOMER_ID))
    assert request.params["text"] == "您的订单被海关扣留，请上传商业发票。"

    # The customer uploads a photo and a PDF; logistics sees both; the file ids are kept on the case.
    await product.press(
        buttons(request)["📎 上传文件"], user_id=ZH_CUSTOMER_ID, on=request, language_code="zh"
    )
    assert "请在此以照片或 PDF 文件发送" in texts(product, ZH_CUSTOMER_ID)[-1]
    await product.say("稍等", user_id=ZH_CUSTOMER_ID, language_code="zh")
    assert "不要发送文字" in texts(product, ZH_CUSTOMER_ID)[-1]
    await send_file(product, ZH_CUSTOMER_ID, FileKind.PHOTO, "AgACAgIAAxk-photo-1")
    assert "谢谢，我们已收到您订单" in texts(product, ZH_CUSTOMER_ID)[-1]
    await product.press(
        buttons(request)["📎 上传文件"], user_id=ZH_CUSTOMER_ID, on=request, language_code="zh"
    )
    await send_file(product, ZH_CUSTOMER_ID, FileKind.DOCUMENT, "BQACAgIAAxk-pdf-2")
    await deliver_all(product)
    assert [r.params["photo"] for r in product.bot.requests_for("sendPhoto")] == ["AgACAgIAAxk-photo-1"]
    assert [r.params["document"] for r in product.bot.requests_for("sendDocument")][-1] == "BQACAgIAAxk-pdf-2"
    case = await the_case(product, order.id)
    assert [f.file_id for f in case.evidence.files] == ["AgACAgIAAxk-photo-1", "BQACAgIAAxk-pdf-2"]
    assert all(f.from_customer for f in case.evidence.files)

    # Logistics records the release: back to clearance, the clock runs again; the customer is asked.
    await product.press(buttons(alert)["✅ Released"], user_id=LOGISTICS_ID, on=alert)
    stored = await product.order(order.number)
    assert stored.status is OrderStatus.ARRIVED
    clearance = running_clock(stored, Stage.CLEARANCE)
    assert clearance is not None and clearance.paused_at is None
    await deliver_all(product)
    question = last(product.sent(ZH_CUSTOMER_ID))
    assert "海关已放行" in question.params["text"] and "您对我们的处理满意吗？" in question.params["text"]
    await product.press(
        buttons(question)["👎 不满意"], user_id=ZH_CUSTOMER_ID, on=question, language_code="zh"
    )
    case = await the_case(product, order.id)
    assert case.result is CaseResult.RELEASED and case.satisfied is False


async def test_bad_input_gets_a_clear_reply(product: Product) -> None:
    """Who may mark, a missing or unknown number, a forged button, a long note: said, not crashed."""
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    order = order_at(OrderStatus.IN_TRANSIT, telegram_user_id=CUSTOMER_ID)
    await store(product, order)
    await product.say(f"/exception {order.number}", user_id=CUSTOMER_ID)
    assert texts(product, CUSTOMER_ID)[-1] == "Your role does not allow this."
    await product.say("/exception", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert texts(product, LOGISTICS_CHAT)[-1] == "Usage: /exception &lt;order number or reference&gt;"
    await product.say("/exception OD-20990101-0001", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "No order OD-20990101-0001 was found" in texts(product, LOGISTICS_CHAT)[-1]
    await product.say(f"/exception {order.number}", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    menu = last(product.sent(LOGISTICS_CHAT))
    forged = buttons(menu)["Delay"].replace(":delay:", ":flood:")
    await product.press(forged, user_id=LOGISTICS_ID, on=menu)
    assert toasts(product)[-1] == "This exception case is not known."
    await product.press("xc:99999:s:-1", user_id=LOGISTICS_ID, on=menu)
    assert toasts(product)[-1] == "This exception case is not known."
    await product.press(buttons(menu)["Delay"], user_id=LOGISTICS_ID, on=menu)
    causes = last(product.bot.requests_for("editMessageText"))
    await product.press(buttons(causes)["Not known yet"], user_id=LOGISTICS_ID, on=menu)
    await product.say("x" * 1001, user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "at most 1000 characters" in texts(product, LOGISTICS_CHAT)[-1]
    await product.say("/skip", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert "Exception marked on" in texts(product, LOGISTICS_CHAT)[-1]
    assert order.number is not None
    assert (await product.order(order.number)).status is OrderStatus.EXCEPTION
