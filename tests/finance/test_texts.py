"""Finance's texts in both languages: labels, never enum values; Chinese throughout (issue 13, issue 18)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.i18n import create_i18n
from domain.finance import REASON_KINDS, MoneyKind, MoneyOwed, MoneyOwedPaid, OwedReason
from presentation.finance_texts import owed_card_text, page_line, paid_notice_text
from presentation.render import MESSAGE_LIMIT, translator
from tests.storage.factories import make_order

T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
CJK = re.compile(r"[\u4e00-\u9fff]")
RAW = re.compile(r"\b[a-z]+_[a-z_]+\b")
I18N = create_i18n("en")


def record(reason: OwedReason) -> MoneyOwed:
    """A record of the reason's kind."""
    return MoneyOwed(
        "o1", REASON_KINDS[reason], reason, Decimal("12.50"), "CNY", "wechat_pay", T0, T0 + timedelta(days=3)
    )


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("reason", list(OwedReason))
def test_every_reason_reads_as_words_in_the_card_the_list_and_the_notice(
    language: str, reason: OwedReason
) -> None:
    t = translator(I18N, language)
    order = make_order()
    order.customer.name = "A" * 5000
    owed = record(reason)
    card = owed_card_text(order, replace(owed, note="x" * 5000), t, "Asia/Shanghai")
    line = page_line(1, owed, order, timedelta(hours=-3), t, "Asia/Shanghai")
    paid = MoneyOwedPaid("e", "o1", T0, 1, owed.kind, reason, owed.amount, "CNY", owed.method, "R-1", T0, 5)
    notice = paid_notice_text(order, paid, t)

    for text in (card, line, notice):
        assert not RAW.search(text), text
        assert len(text) <= MESSAGE_LIMIT
        if language == "zh":
            assert CJK.search(text)
    assert ("WeChat Pay" if language == "en" else "微信支付") in card
    assert ("overdue by 3h" if language == "en" else "已超时 3h") in line
    kind_word = {MoneyKind.REFUND: ("Refund", "退款"), MoneyKind.PAYOUT: ("Payout", "赔付")}[owed.kind]
    assert kind_word[language == "zh"] in line
