"""The exception report's message fits Telegram's limit by construction, and user text is escaped (R-6.5)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest

from bot.i18n import create_i18n
from domain.exception_report import (
    CaseFact,
    Cause,
    ExceptionFacts,
    ImprovementAction,
    PayoutFact,
    exception_report,
)
from domain.kpi import Month
from presentation.exception_report import ExceptionReportTexts
from presentation.render import MESSAGE_LIMIT
from tests.exception_report.conftest import ZONE, local

MARCH = Month(2026, 3)
TYPES = ("delay", "damaged", "wrong_shipment", "lost", "customs_hold", "other")


def crowded_month() -> ExceptionFacts:
    """A month with every type, forty causes, long actions with markup, many currencies and follow-ups."""
    cases = [
        CaseFact(
            index,
            TYPES[index % len(TYPES)],
            f"cause_{index % 40}",
            local(3, 1 + index % 27),
            local(3, 1 + index % 27) + timedelta(hours=index % 50),
        )
        for index in range(400)
    ]
    long_text = "<script>alert('x')</script> " + "Check every parcel twice & label it. " * 20
    actions = [
        ImprovementAction(
            index, Cause(TYPES[index % len(TYPES)], f"cause_{index % 40}"), long_text, 301, local(3, 2)
        )
        for index in range(200)
    ]
    previous = [
        ImprovementAction(1000 + index, Cause("delay", f"cause_{index}"), long_text, 305, local(2, 10))
        for index in range(60)
    ]
    payouts = [
        PayoutFact("delay_compensation", Decimal("12.34"), f"C{index:02d}", local(3, 5))
        for index in range(30)
    ]
    return ExceptionFacts(cases, payouts, actions, previous)


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_crowded_month_still_fits_one_message_with_user_text_escaped(locale: str) -> None:
    report = exception_report(MARCH, crowded_month(), zone=ZONE, now=local(4, 2))
    texts = ExceptionReportTexts(create_i18n("en"), "Asia/Shanghai")

    summary = texts.summary(report, locale)

    assert len(summary) <= MESSAGE_LIMIT
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    more = {"en": "and 55 more (see the XLSX)", "zh": "另有 55 项（见 XLSX）"}[locale]
    assert more in summary
    assert summary.endswith({"en": "The chart and the XLSX follow.", "zh": "图表和 XLSX 随后发送。"}[locale])


def test_the_workbook_keeps_every_action_whole() -> None:
    report = exception_report(MARCH, crowded_month(), zone=ZONE, now=local(4, 2))
    texts = ExceptionReportTexts(create_i18n("en"), "Asia/Shanghai")

    (chart, workbook) = texts.files(report, "en")

    assert chart.photo and chart.document.content.startswith(b"\x89PNG")

    sheet = openpyxl.load_workbook(BytesIO(workbook.document.content))["This month's actions"]
    texts_kept = [row[4].value for row in sheet.iter_rows(min_row=5)]
    assert len(texts_kept) == 200 and texts_kept[0].startswith("<script>") and len(texts_kept[0]) > 700
