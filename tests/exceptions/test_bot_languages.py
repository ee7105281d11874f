"""Exceptions end to end through the fake Bot API in the other language (issue 14, R-6, R-6.5).

test_bot.py walks a delay in English and a customs hold in Chinese; this file adds the delay in
Chinese (customer and team chats), the customs hold in English ending with the goods returned and
the order desk's company cancellation, and the "other" type in both languages.
"""

from __future__ import annotations

import pytest

from domain.exceptions.case import CaseResult, FileKind
from domain.orders.status import OrderStatus, Role
from domain.sla.clocks import running_clock
from domain.sla.policy import Stage
from tests.exceptions.test_bot import (
    LOGISTICS_ID,
    deliver_all,
    held_at_customs,
    last,
    order_of,
    product,
    send_file,
    texts,
    the_case,
    toasts,
)
from tests.product.conftest import (
    ADMIN_ID,
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
)
from tests.product.conftest import product as wired
from tests.product.test_team_language import set_language

__all__ = ["product", "wired"]

# What staff and customers read of the "other" type, from locales/<lang>/LC_MESSAGES/exceptions.po.
OTHER_TEXTS = {
    "en": {
        "menu": "Mark an exception on order",
        "type": "Other exception",
        "cause": "Customer's request",
        "marked": "Exception marked on",
        "alert": "Exception on order",
        "customer": "There is a problem with your order",
        "resolve": "✅ Resolved, go on",
        "closed": "closed: the order goes on",
        "question": "Are you satisfied with how we handled it?",
        "record": "Complete the exception record within 24 h",
    },
    "zh": {
        "menu": "标记异常：发生了什么？",
        "type": "其他异常",
        "cause": "客户要求",
        "marked": "已为订单",
        "alert": "出现异常",
        "customer": "出现问题，我们的团队正在处理",
        "resolve": "✅ 已解决，继续",
        "closed": "的异常已关闭：订单继续处理",
        "question": "您对我们的处理满意吗？",
        "record": "请在 24 小时内完成异常记录",
    },
}


async def chinese_team_chats(product: Product) -> None:
    """The admin sets the logistics, customer service and order desk chats to Chinese (/lang).

    The cards and alerts queued for these chats follow the chat's language (R-X.4); the replies to a
    member's own command or press follow that member's language, so the staff here use Chinese too.
    """
    for chat_id in (LOGISTICS_CHAT, SERVICE_CHAT, DESK_CHAT):
        assert "中文" in await set_language(product, chat_id, ADMIN_ID, "zh")


async def test_a_delay_is_marked_told_closed_and_answered_in_chinese(product: Product) -> None:
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    await chinese_team_chats(product)
    order = await order_of(product, OrderStatus.IN_TRANSIT, ZH_CUSTOMER_ID, "zh")
    assert order.number is not None
    shown = order.number

    # Marking in the Chinese logistics chat: the type, the cause and the note.
    await product.say(f"/exception {shown}", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT, language_code="zh")
    menu = last(product.sent(LOGISTICS_CHAT))
    assert f"为订单 {shown} 标记异常：发生了什么？" in menu.params["text"]
    await product.press(buttons(menu)["延误"], user_id=LOGISTICS_ID, on=menu, language_code="zh")
    causes = last(product.bot.requests_for("editMessageText"))
    assert f"订单 {shown} 的延误：原因是什么？" in causes.params["text"]
    await product.press(buttons(causes)["天气"], user_id=LOGISTICS_ID, on=menu, language_code="zh")
    await product.say("台风关闭了转运中心", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT, language_code="zh")
    assert (
        f"已为订单 {shown} 标记异常：延误。已通知订单管理部和客服部。" in texts(product, LOGISTICS_CHAT)[-1]
    )
    stored = await product.order(shown)
    assert stored.status is OrderStatus.EXCEPTION
    assert running_clock(stored, Stage.DELAY_NOTICE) is not None

    await deliver_all(product)
    (desk_alert,) = [t for t in texts(product, DESK_CHAT) if f"订单 {shown} 出现异常" in t]
    assert "延误" in desk_alert and "原因：天气" in desk_alert and "备注：台风关闭了转运中心" in desk_alert
    assert any(f"您的订单 {shown} 出现问题" in t for t in texts(product, ZH_CUSTOMER_ID))
    logistics_alert = last([r for r in product.sent(LOGISTICS_CHAT) if "出现异常" in r.params["text"]])

    # Logistics records the cause and the new time; customer service gets the Chinese draft.
    await product.press(
        buttons(logistics_alert)["🔎 记录原因和新时间"],
        user_id=LOGISTICS_ID,
        on=logistics_alert,
        language_code="zh",
    )
    cause_menu = last(product.sent(LOGISTICS_CHAT))
    await product.press(buttons(cause_menu)["天气"], user_id=LOGISTICS_ID, on=cause_menu, language_code="zh")
    assert "新的预计送达时间是什么时候？" in texts(product, LOGISTICS_CHAT)[-1]
    await product.say("2026-03-20 18:00", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT, language_code="zh")
    assert f"已记录订单 {shown} 的原因和新时间" in texts(product, LOGISTICS_CHAT)[-1]
    await deliver_all(product)
    draft = last([r for r in product.sent(SERVICE_CHAT) if "发给客户的消息" in r.params["text"]])
    assert f"订单 {shown} 延误" in draft.params["text"]
    assert "新的预计送达时间为 2026-03-20 18:00" in draft.params["text"]

    # Customer service sends it: the customer reads it in Chinese; delay_notice closes met.
    await product.press(buttons(draft)["✉️ 发送给客户"], user_id=SERVICE_ID, on=draft, language_code="zh")
    assert f"已发送给订单 {shown} 的客户" in toasts(product)[-1]
    await deliver_all(product)
    told = texts(product, ZH_CUSTOMER_ID)[-1]
    assert f"非常抱歉：您的订单 {shown} 出现延误（天气）。新的预计送达时间为 2026-03-20 18:00" in told
    stored = await product.order(shown)
    assert running_clock(stored, Stage.DELAY_NOTICE) is None
    assert any(c.stage == Stage.DELAY_NOTICE and c.met for c in stored.clocks)

    # Closing: the order goes on, the customer taps Satisfied, the desk saves the record.
    service_alert = last([r for r in product.sent(SERVICE_CHAT) if "出现异常" in r.params["text"]])
    await product.press(
        buttons(service_alert)["✅ 已解决，继续"], user_id=SERVICE_ID, on=service_alert, language_code="zh"
    )
    assert f"订单 {shown} 的异常已关闭：订单继续处理" in toasts(product)[-1]
    stored = await product.order(shown)
    assert stored.status is OrderStatus.IN_TRANSIT
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is not None
    await deliver_all(product)
    question = last(product.sent(ZH_CUSTOMER_ID))
    assert f"您的订单 {shown} 的异常已处理：订单继续处理。您对我们的处理满意吗？" in question.params["text"]
    await product.press(buttons(question)["👍 满意"], user_id=ZH_CUSTOMER_ID, on=question, language_code="zh")
    assert toasts(product)[-1] == "感谢您的回复。"
    record_card = last(
        [r for r in product.sent(DESK_CHAT) if "请在 24 小时内完成异常记录" in r.params["text"]]
    )
    await product.press(
        buttons(record_card)["🗂 保存记录"], user_id=DESK_ID, on=record_card, language_code="zh"
    )
    assert f"订单 {shown} 的异常记录已保存" in toasts(product)[-1]
    case = await the_case(product, order.id)
    assert case.result is CaseResult.RESUMED and case.satisfied is True
    assert case.recorded_by == DESK_ID
    stored = await product.order(shown)
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is None
    assert any(c.stage == Stage.EXCEPTION_RECORD and c.met for c in stored.clocks)


async def test_a_customs_hold_ends_returned_and_cancelled_by_the_company_in_english(product: Product) -> None:
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    order = await order_of(product, OrderStatus.ARRIVED, CUSTOMER_ID, "en")
    assert order.number is not None
    shown = order.number

    alert = await held_at_customs(product, shown, "Restricted goods", "Lithium batteries")
    assert "Lithium batteries" in alert.params["text"]

    # What customs needs: logistics writes it, customer service sends the drafted English request.
    await product.press(buttons(alert)["📝 What customs needs"], user_id=LOGISTICS_ID, on=alert)
    assert f"What does customs need for order {shown}?" in texts(product, LOGISTICS_CHAT)[-1]
    await product.say("Battery safety data sheet", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT)
    assert (
        f"Recorded for {shown}; customer service will ask the customer." in texts(product, LOGISTICS_CHAT)[-1]
    )
    await deliver_all(product)
    draft = last([r for r in product.sent(SERVICE_CHAT) if "the request to the customer" in r.params["text"]])
    assert "needs: Battery safety data sheet" in draft.params["text"]
    await product.press(buttons(draft)["✉️ Send to the customer"], user_id=SERVICE_ID, on=draft)
    await deliver_all(product)
    request = last(product.sent(CUSTOMER_ID))
    assert (
        f"Customs is holding your order {shown} and needs: Battery safety data sheet."
        in request.params["text"]
    )

    # The customer uploads a photo of the document; logistics gets it, the case keeps it.
    await product.press(buttons(request)["📎 Upload documents"], user_id=CUSTOMER_ID, on=request)
    assert (
        f"Send the document for order {shown} here as a photo or a PDF file."
        in texts(product, CUSTOMER_ID)[-1]
    )
    await send_file(product, CUSTOMER_ID, FileKind.PHOTO, "AgACAgIAAxk-photo-en-1", language_code="en")
    assert f"Thank you, we have your document for order {shown}" in texts(product, CUSTOMER_ID)[-1]
    await deliver_all(product)
    (sent_photo,) = product.bot.requests_for("sendPhoto")
    assert sent_photo.params["photo"] == "AgACAgIAAxk-photo-en-1"
    assert int(sent_photo.params["chat_id"]) == LOGISTICS_CHAT
    assert "The customer sent a document for order" in sent_photo.params["caption"]
    case = await the_case(product, order.id)
    assert [(f.file_id, f.from_customer) for f in case.evidence.files] == [("AgACAgIAAxk-photo-en-1", True)]

    # Customs returns the goods: the case closes, the order stays in exception for the desk's card.
    await product.press(buttons(alert)["↩️ Returned"], user_id=LOGISTICS_ID, on=alert)
    assert "closed: customs returns the goods" in toasts(product)[-1]
    case = await the_case(product, order.id)
    assert case.result is CaseResult.RETURNED and not case.open
    assert (await product.order(shown)).status is OrderStatus.EXCEPTION
    await deliver_all(product)
    cancel_card = last([r for r in product.sent(DESK_CHAT) if "Cancel it as the company" in r.params["text"]])
    assert f"Order {shown}: customs returns the goods." in cancel_card.params["text"]

    # Only the desk cancels; the order becomes the company's cancellation, the record card follows.
    await product.press(buttons(cancel_card)["⛔ Cancel by the company"], user_id=CUSTOMER_ID, on=cancel_card)
    assert toasts(product)[-1] == "Your role does not allow this."
    assert (await product.order(shown)).status is OrderStatus.EXCEPTION
    await product.press(buttons(cancel_card)["⛔ Cancel by the company"], user_id=DESK_ID, on=cancel_card)
    assert f"Order {shown} is cancelled as the company" in toasts(product)[-1]
    stored = await product.order(shown)
    assert stored.status is OrderStatus.CANCELLATION_REQUESTED
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is not None
    assert running_clock(stored, Stage.CANCEL_CHECK) is not None
    # Customer service gets the company cancellation's card with the reason, to offer the alternatives.
    await deliver_all(product)
    assert "customs returns the goods: Lithium batteries" in texts(product, SERVICE_CHAT)[-1]
    record_card = last(
        [r for r in product.sent(DESK_CHAT) if "Complete the exception record" in r.params["text"]]
    )
    await product.press(buttons(record_card)["🗂 Save the record"], user_id=DESK_ID, on=record_card)
    case = await the_case(product, order.id)
    assert case.recorded_by == DESK_ID and "result: returned" in case.record
    assert running_clock(await product.order(shown), Stage.EXCEPTION_RECORD) is None


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_an_other_exception_is_alerted_and_resolved(product: Product, language: str) -> None:
    words = OTHER_TEXTS[language]
    await grant(product, Role.LOGISTICS, LOGISTICS_ID)
    await grant(product, Role.CUSTOMER_SERVICE, SERVICE_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    customer = CUSTOMER_ID if language == "en" else ZH_CUSTOMER_ID
    if language == "zh":
        await chinese_team_chats(product)
    order = await order_of(product, OrderStatus.IN_TRANSIT, customer, language)
    assert order.number is not None
    shown = order.number

    await product.say(
        f"/exception {shown}", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT, language_code=language
    )
    menu = last(product.sent(LOGISTICS_CHAT))
    assert words["menu"] in menu.params["text"]
    await product.press(buttons(menu)[words["type"]], user_id=LOGISTICS_ID, on=menu, language_code=language)
    causes = last(product.bot.requests_for("editMessageText"))
    await product.press(
        buttons(causes)[words["cause"]], user_id=LOGISTICS_ID, on=menu, language_code=language
    )
    await product.say(
        "Wants it held at the hub", user_id=LOGISTICS_ID, chat_id=LOGISTICS_CHAT, language_code=language
    )
    assert words["marked"] in texts(product, LOGISTICS_CHAT)[-1]
    assert words["type"] in texts(product, LOGISTICS_CHAT)[-1]
    stored = await product.order(shown)
    assert stored.status is OrderStatus.EXCEPTION

    # The order desk (the type's department) and customer service are alerted; the customer is told.
    await deliver_all(product)
    for chat_id in (DESK_CHAT, SERVICE_CHAT):
        alerts = [r for r in product.sent(chat_id) if words["alert"] in r.params["text"]]
        assert len(alerts) == 1, (chat_id, texts(product, chat_id))
        text = alerts[0].params["text"]
        assert words["type"] in text and words["cause"] in text and "Wants it held at the hub" in text
        assert list(buttons(alerts[0])) == [words["resolve"]]
    assert any(words["customer"] in t for t in texts(product, customer))
    desk_alert = last([r for r in product.sent(DESK_CHAT) if words["alert"] in r.params["text"]])

    # The desk resolves it: the order goes on, the customer is asked, the record clock runs.
    await product.press(
        buttons(desk_alert)[words["resolve"]], user_id=DESK_ID, on=desk_alert, language_code=language
    )
    assert words["closed"] in toasts(product)[-1]
    stored = await product.order(shown)
    assert stored.status is OrderStatus.IN_TRANSIT
    assert running_clock(stored, Stage.EXCEPTION_RECORD) is not None
    case = await the_case(product, order.id)
    assert case.result is CaseResult.RESUMED and not case.open
    await deliver_all(product)
    assert words["question"] in texts(product, customer)[-1]
    assert any(words["record"] in t for t in texts(product, DESK_CHAT))
