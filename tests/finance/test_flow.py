"""Refunds and payouts end to end through the production wiring, recording bot (issue 13, R-6.1, R-6.4).

A record owed by another use case reaches the finance chat as a card; finance records it paid with
the provider's reference; the customer is told; a late one alerts finance and escalates; a Chinese
finance chat reads it all in Chinese.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from application.customer_channels import EMAIL_METHOD, channel_chat_id
from application.finance import owe, record_paid
from application.services import Actor, commit_change
from domain.finance import MoneyKind, MoneyOwed, OwedReason, OwedStatus
from domain.orders.status import OrderStatus, Role
from presentation.finance_texts import OwedAction, OwedStep
from tests.finance.conftest import (
    DESK_CHAT,
    FIN2_ID,
    FIN_ID,
    FINANCE_CHAT,
    MANAGEMENT_CHAT,
    owe_now,
    paid_cancelled_order,
)
from tests.mocked_bot import RecordedRequest
from tests.product.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK_ID,
    HEAD_ID,
    NOW,
    ZH_CUSTOMER_ID,
    Product,
    buttons,
    grant,
    team_language_sweeper,
)
from tests.product.test_team_language import set_language
from tests.storage.factories import make_order
from tests.wiring import StoredState, production

CJK = re.compile(r"[\u4e00-\u9fff]")


def plain(request: RecordedRequest) -> str:
    """A sent message's text without its HTML tags."""
    text = str(request.params.get("text", ""))
    return re.sub(r"<[^>]+>", "", text).replace("&amp;", "&")


def edits_of(product: Product, request: RecordedRequest) -> list[RecordedRequest]:
    """The edits of the message a request of the bot made."""
    message_id = product.bot.answer_to(request).message_id
    return [
        r
        for r in product.bot.requests_for("editMessageText")
        if int(r.params["chat_id"]) == FINANCE_CHAT and int(r.params["message_id"]) == message_id
    ]


def toasts(product: Product) -> list[str]:
    """The texts of every answered press, in order."""
    return [str(r.params.get("text", "")) for r in product.bot.requests_for("answerCallbackQuery")]


async def stored_record(product: Product, record_id: int) -> MoneyOwed:
    """A record as the database has it."""
    async with product.uow() as uow:
        record = await uow.finance.get(record_id)
    assert record is not None
    return record


async def test_a_refund_card_is_paid_once_with_the_providers_reference_and_the_customer_is_told(
    product: Product,
) -> None:
    await grant(product, Role.FINANCE, FIN_ID, FIN2_ID)
    await grant(product, Role.ORDER_DESK, DESK_ID)
    order = await paid_cancelled_order(product, customer_id=CUSTOMER_ID)
    record = await owe_now(product, order, note="cancelled before outbound")

    await product.deliver()

    [card] = product.sent(FINANCE_CHAT)
    text = plain(card)
    for expected in (
        "Refund owed to the customer",
        "Order: 20260315007",
        "Customer: Li Wei",
        "Amount: 245.80 EUR",
        "Reason: order cancelled",
        "Paid with: Bank card",
        "Telegram Payments charge (provider): prov-charge-77",
        "Note: cancelled before outbound",
        "Pay by: 2026-03-19 10:00",
    ):
        assert expected in text, text
    pay = OwedAction(act=OwedStep.PAY, value=record.id or 0).pack()
    assert buttons(card) == {"✅ Record as paid": pay}

    # The order desk may not record it: the role is read from the database, not the button.
    await product.press(pay, user_id=DESK_ID, on=card)
    assert toasts(product)[-1] == "Only finance records refunds and payouts as paid."

    await product.press(pay, user_id=FIN_ID, on=card)
    prompt = product.sent(FINANCE_CHAT)[-1]
    assert "reply with the provider's refund reference" in plain(prompt)
    assert "prov-charge-77" in plain(prompt) and prompt.decoded("reply_markup") == {"force_reply": True}
    await product.say("re_3Nf8Kq", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=prompt)
    question = product.sent(FINANCE_CHAT)[-1]
    assert "When was it paid?" in plain(question)
    [now_button] = buttons(question).values()

    # Someone else cannot finish this one's dialog; the one who typed the reference can.
    await product.press(now_button, user_id=FIN2_ID, on=question)
    assert toasts(product)[-1] == "Press Record as paid on the card first."
    product.clock.advance(timedelta(hours=2))
    paid_at = product.clock.now()
    await product.press(now_button, user_id=FIN_ID, on=question)

    [edit] = edits_of(product, question)
    assert "✅ Refund of 245.80 EUR recorded as paid by Fiona Finance at 2026-03-16 12:00" in plain(edit)
    assert "reference re_3Nf8Kq" in plain(edit)
    # The card shows it is paid and loses its button.
    [closed] = edits_of(product, card)
    assert "Amount: 245.80 EUR" in plain(closed)
    assert "✅ Paid: reference re_3Nf8Kq, recorded by Fiona Finance at 2026-03-16 12:00." in plain(closed)
    assert "reply_markup" not in closed.params
    paid = await stored_record(product, record.id or 0)
    assert (paid.status, paid.paid_reference, paid.paid_by) == (OwedStatus.PAID, "re_3Nf8Kq", FIN_ID)

    # A stale button pressed again: nothing changes, the presser learns who and when.
    await product.press(pay, user_id=FIN2_ID, on=card)
    assert (
        toasts(product)[-1]
        == "Already recorded as paid by Fiona Finance at 2026-03-16 12:00 (reference re_3Nf8Kq)."
    )
    stored = await product.order(order.reference)
    assert [line.action for line in stored.audit].count("refund_paid") == 1
    [clock] = [c for c in stored.clocks if c.stage == "refund"]
    assert (clock.finished_at, clock.met) == (paid_at, True)

    await product.deliver()
    [told] = product.sent(CUSTOMER_ID)
    assert "We refunded 245.80 EUR for your order 20260315007 to your Bank card." in plain(told)
    assert "Payment reference: re_3Nf8Kq" in plain(told)

    await product.say("/refunds", user_id=FIN_ID, chat_id=FINANCE_CHAT)
    assert plain(product.sent(FINANCE_CHAT)[-1]) == "No refund or payout is waiting to be paid."


async def test_refunds_lists_the_open_ones_oldest_due_first_with_lateness_and_pages(product: Product) -> None:
    await grant(product, Role.FINANCE, FIN_ID)
    await grant(product, Role.MANAGEMENT, HEAD_ID)
    order = await paid_cancelled_order(product, customer_id=CUSTOMER_ID, telegram_charge=False)
    start = product.clock.now()
    for minutes in range(7):
        await owe_now(
            product,
            order,
            amount="10.00",
            reason=OwedReason.PRICE_DIFFERENCE,
            at=start + timedelta(minutes=minutes),
        )
    product.clock.current = start + timedelta(days=4)

    await product.say("/refunds", user_id=HEAD_ID, chat_id=MANAGEMENT_CHAT)
    page = product.sent(MANAGEMENT_CHAT)[-1]
    text = plain(page)
    assert "Open refunds and payouts: 7 (oldest due first; 1–5 shown)" in text
    lines = [line for line in text.splitlines() if re.match(r"\d\. ", line)]
    assert len(lines) == 5
    assert lines[0].startswith(
        "1. Refund 10.00 EUR, order 20260315007 (Li Wei): lower price after a service change"
    )
    assert "pay by 2026-03-19 10:00, overdue by" in lines[0]
    labels = buttons(page)
    assert "Next ▶" in labels and "◀ Previous" not in labels
    await product.press(labels["Next ▶"], user_id=HEAD_ID, on=page)
    [edit] = product.bot.requests_for("editMessageText")
    assert "6–7 shown" in plain(edit) and "6. Refund" in plain(edit)

    await product.say("/refunds", user_id=DESK_ID, chat_id=DESK_CHAT)
    assert plain(product.sent(DESK_CHAT)[-1]) == "/refunds is for finance, management and administrators."


async def test_a_late_refund_alerts_finance_and_escalates(product: Product) -> None:
    await grant(product, Role.FINANCE, FIN_ID)
    await grant(product, Role.ORDER_DESK_HEAD, HEAD_ID)
    order = await paid_cancelled_order(product, customer_id=CUSTOMER_ID)
    await owe_now(product, order)
    sweeper = team_language_sweeper(product)
    # Thursday 10:01 in Shanghai: a minute past the three working days.
    product.clock.current = datetime(2026, 3, 19, 2, 1, tzinfo=UTC)
    report = await sweeper.sweep()
    product.clock.advance(timedelta(minutes=31))
    await sweeper.sweep()
    product.clock.advance(timedelta(hours=4))
    await sweeper.sweep()

    assert report.breaches == 1
    finance = [m for m in await product.outbox(FINANCE_CHAT) if m.order_id == order.id]
    [breach] = [m.params["text"] for m in finance if "SLA breach" in m.params["text"]]
    assert "stage refund (finance) is 1m late (due 03-19 10:00)" in breach
    desk = [m.params["text"] for m in await product.outbox(DESK_CHAT)]
    assert any("order desk head" in text for text in desk), desk
    management = [m.params["text"] for m in await product.outbox(MANAGEMENT_CHAT)]
    assert any("Escalation to management" in text for text in management), management


async def test_a_chinese_finance_chat_reads_the_card_the_list_and_the_dialog_in_chinese(
    product: Product,
) -> None:
    await grant(product, Role.FINANCE, FIN_ID)
    assert CJK.search(await set_language(product, FINANCE_CHAT, ADMIN_ID, "zh"))
    order = await paid_cancelled_order(
        product, customer_id=ZH_CUSTOMER_ID, language="zh", telegram_charge=False
    )
    record = await owe_now(
        product, order, kind=MoneyKind.PAYOUT, reason=OwedReason.DELAY_COMPENSATION, amount="30.00"
    )

    await product.deliver()

    [card] = [r for r in product.sent(FINANCE_CHAT) if "赔付" in plain(r)]
    text = plain(card)
    assert "💸 应付客户的赔付" in text and "订单：20260315007" in text and "原因：延误赔付" in text
    assert "付款期限：2026-03-19 10:00" in text and "原付款方式：银行卡" in text
    assert list(buttons(card)) == ["✅ 登记已付"]

    await product.say("/refunds", user_id=FIN_ID, chat_id=FINANCE_CHAT, language_code="en")
    page = product.sent(FINANCE_CHAT)[-1]
    assert "待付退款和赔付：1 笔" in plain(page) and "剩余" in plain(page)
    [pay] = buttons(page).values()
    await product.press(pay, user_id=FIN_ID, on=page)
    prompt = product.sent(FINANCE_CHAT)[-1]
    assert "请回复银行的付款流水号" in plain(prompt)
    await product.say("WX20260316-88", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=prompt)
    question = product.sent(FINANCE_CHAT)[-1]
    assert "何时付款的" in plain(question)
    await product.say("明天", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=question)
    assert "无法识别时间“明天”" in plain(product.sent(FINANCE_CHAT)[-1])
    # The typed text is escaped, so Telegram shows it as typed instead of reading it as HTML.
    await product.say("<b>明天", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=question)
    assert "无法识别时间“&lt;b&gt;明天”" in plain(product.sent(FINANCE_CHAT)[-1])
    await product.say("23:59", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=question)
    assert "该时间尚未到来" in plain(product.sent(FINANCE_CHAT)[-1])
    await product.say("09:30", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=question)
    assert "该时间早于应付款产生的时间" in plain(product.sent(FINANCE_CHAT)[-1])
    product.clock.advance(timedelta(hours=1))
    await product.say("10:30", user_id=FIN_ID, chat_id=FINANCE_CHAT, reply_to=question)
    done = plain(product.sent(FINANCE_CHAT)[-1])
    assert (
        "✅ 赔付 30.00 EUR 已由 Fiona Finance 于 2026-03-16 10:30 登记已付，付款流水号 WX20260316-88。"
        in done
    )

    paid = await stored_record(product, record.id or 0)
    assert paid.status is OwedStatus.PAID and paid.paid_at == datetime(2026, 3, 16, 2, 30, tzinfo=UTC)
    # The list is not turned into a card; the card's button, pressed later, says who paid it and when.
    assert edits_of(product, page) == []
    await product.press(buttons(card)["✅ 登记已付"], user_id=FIN_ID, on=card)
    assert toasts(product)[-1] == "Fiona Finance 已于 2026-03-16 11:00 登记已付（付款流水号 WX20260316-88）。"
    await product.deliver()
    told = plain(product.sent(ZH_CUSTOMER_ID)[-1])
    assert (
        "我们已就您的订单 20260315007 向您赔付 30.00 EUR：延误赔付。" in told
        and "付款流水号：WX20260316-88" in told
    )


async def test_two_finance_members_recording_the_same_refund_give_one_payment(product: Product) -> None:
    await grant(product, Role.FINANCE, FIN_ID, FIN2_ID)
    order = await paid_cancelled_order(product, customer_id=CUSTOMER_ID, telegram_charge=False)
    record = await owe_now(product, order, amount="100.00", reason=OwedReason.PRICE_DIFFERENCE)
    await product.deliver()
    [card] = product.sent(FINANCE_CHAT)
    pay = buttons(card)["✅ Record as paid"]

    questions = {}
    for user_id, reference in ((FIN_ID, "BANK-A"), (FIN2_ID, "BANK-B")):
        await product.press(pay, user_id=user_id, on=card)
        prompt = product.sent(FINANCE_CHAT)[-1]
        assert "reply with the payment's reference from the bank" in plain(prompt)
        await product.say(reference, user_id=user_id, chat_id=FINANCE_CHAT, reply_to=prompt)
        questions[user_id] = product.sent(FINANCE_CHAT)[-1]
    product.clock.advance(timedelta(minutes=30))
    await product.say("10:20", user_id=FIN2_ID, chat_id=FINANCE_CHAT, reply_to=questions[FIN2_ID])
    assert "recorded as paid by Frank Ledger at 2026-03-16 10:20, reference BANK-B" in plain(
        product.sent(FINANCE_CHAT)[-1]
    )
    [now_button] = buttons(questions[FIN_ID]).values()
    await product.press(now_button, user_id=FIN_ID, on=questions[FIN_ID])

    [edit] = edits_of(product, questions[FIN_ID])
    assert plain(edit) == "Already recorded as paid by Frank Ledger at 2026-03-16 10:30 (reference BANK-B)."
    paid = await stored_record(product, record.id or 0)
    assert (paid.paid_reference, paid.paid_by) == ("BANK-B", FIN2_ID)
    stored = await product.order(order.reference)
    assert [line.action for line in stored.audit].count("refund_paid") == 1
    await product.deliver()
    assert len(product.sent(CUSTOMER_ID)) == 1


async def test_a_customer_without_a_chat_is_told_by_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with production(
        tmp_path / "mail.sqlite3",
        monkeypatch,
        NOW,
        admin_ids=[ADMIN_ID],
        finance_chat_id=FINANCE_CHAT,
        smtp_host="smtp.example.com",
    ) as wiring:
        state = StoredState()
        state.sessions = wiring.sessions
        order = make_order(status=OrderStatus.CANCELLED, created_at=NOW - timedelta(days=1))
        order.customer.telegram_user_id = None
        order.customer.language = "en"
        order.paid, order.number = True, "20260315008"
        async with state.uow() as uow:
            await uow.orders.add(order)
            loaded = await uow.orders.get(order.id)
            record = await owe(
                uow,
                loaded,
                kind=MoneyKind.REFUND,
                amount=Decimal("245.80"),
                currency="EUR",
                reason=OwedReason.CANCELLATION,
                note="",
                now=NOW,
                sla=wiring.workflow.sla,
            )
            await commit_change(loaded, uow, NOW, wiring.workflow.event_handlers, wiring.workflow.sla)
        await record_paid(
            state.uow(),
            record.id or 0,
            actor=Actor(FIN_ID, frozenset({Role.FINANCE})),
            reference="SWIFT-991",
            paid_at=None,
            clock=wiring.clock,
            handlers=wiring.workflow.event_handlers,
            sla=wiring.workflow.sla,
        )

        [mail] = await state.outbox(channel_chat_id(EMAIL_METHOD, "li.wei@example.com"))
        assert mail.params["to"] == "li.wei@example.com"
        assert "We refunded 245.80 EUR for your order 20260315008 to your Bank card." in mail.params["text"]
        assert "SWIFT-991" in mail.params["text"]
