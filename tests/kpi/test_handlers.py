"""/kpi, /report, /checks and management's /sla through the production dispatcher and the recording bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import BufferedInputFile
from sqlalchemy import select

from application.kpi import KpiSetup
from application.reports import REPORT_DOCUMENT_ID, ReportSetup
from bot.app import kpi_queries_of
from bot.dispatcher import build_bot, build_dispatcher
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.status import Role
from presentation.reports import SupervisionDocuments
from storage.models import OutboxRow
from tests.fixtures import grant_roles
from tests.kpi.conftest import (
    CLERK,
    HEAD,
    MANAGEMENT_CHAT,
    MANAGER,
    NOW,
    PICKER,
    SLA,
    March,
    Sessions,
    UowFactory,
    management_chat,
    seed_march,
)
from tests.mocked_bot import MockedSession
from tests.review.conftest import command

ORDER_DESK_CHAT, WAREHOUSE_CHAT = -1001, -1002
TEAM_CHATS = {"order_desk": ORDER_DESK_CHAT, "warehouse": WAREHOUSE_CHAT, "management": MANAGEMENT_CHAT}


@pytest.fixture
async def bot() -> AsyncIterator[Any]:
    """The production bot on the recording session; fails the test on any Bot API violation."""
    session = MockedSession()
    recording = build_bot("42:TEST", "https://api.telegram.org", session=session)
    yield recording
    assert session.violations == []


@pytest.fixture
def dispatcher(new_uow: UowFactory, clock: FixedClock, documents: SupervisionDocuments) -> Dispatcher:
    """The production dispatcher with the KPI and report wiring of the composition root."""
    dispatcher = build_dispatcher(uow_factory=new_uow, i18n=create_i18n("en"))
    kpi = KpiSetup(kpi_queries_of, SLA, clock)
    dispatcher["kpi_setup"] = kpi
    dispatcher["report_setup"] = ReportSetup(kpi, kpi_queries_of, documents, management_chat, locale="en")
    dispatcher["team_chats"] = TEAM_CHATS
    dispatcher["sla"] = SLA
    dispatcher["clock"] = clock
    return dispatcher


@pytest.fixture
async def march(new_uow: UowFactory, session_factory: Sessions) -> March:
    """The fixed month, a manager, the order desk head, a clerk and a picker."""
    seeded = await seed_march(new_uow, session_factory)
    await grant_roles(
        new_uow,
        {
            Role.MANAGEMENT: [MANAGER],
            Role.ORDER_DESK_HEAD: [HEAD],
            Role.ORDER_DESK: [CLERK],
            Role.WAREHOUSE: [PICKER],
        },
        at=NOW,
    )
    return seeded


def texts(bot: Any) -> list[str]:
    """The texts the bot sent, in order."""
    return [request.params["text"] for request in bot.session.requests if request.name == "sendMessage"]


def photos(bot: Any) -> list[Any]:
    """The sendPhoto requests, in order."""
    return [request for request in bot.session.requests if request.name == "sendPhoto"]


@pytest.mark.parametrize(
    ("chat_id", "user_id", "shown", "not_shown"),
    [
        (
            MANAGEMENT_CHAT,
            MANAGER,
            [
                "📊 <b>KPIs 2026-03</b> · company",
                "<b>Accuracy</b>: 66.67 % (6 / 9) · target ≥ 99.5 % · ❌ missed",
                "= orders received with no error in entry, review or execution / orders received",
                "<b>On-time</b>: 62.50 % (5 / 8) · target ≥ 98 % · ❌ missed",
                "<b>Complaint rate</b>: 50.00 % (2 / 4) · target ≤ 1 % · ❌ missed",
                "warehouse: 77.78 % ❌ · 50.00 % ❌ · —",
                "first review: 75.00 % (3 / 4)",
            ],
            [],
        ),
        (
            WAREHOUSE_CHAT,
            HEAD,
            [
                "📊 <b>KPIs 2026-03</b> · warehouse",
                "<b>Accuracy</b>: 77.78 % (7 / 9)",
                "<b>On-time</b>: 50.00 % (1 / 2)",
                "<b>Exception satisfaction</b>: — (0 / 0) · target ≥ 90 % · — no data yet",
                "<b>Complaint rate (company)</b>: 50.00 % (2 / 4)",
                "picking: 50.00 % (1 / 2)",
            ],
            ["first review"],
        ),
    ],
    ids=["management-sees-the-company", "a-team-chat-sees-that-team"],
)
@pytest.mark.usefixtures("march")
async def test_kpi_shows_the_chats_figures_with_their_formulas_and_a_chart(
    dispatcher: Dispatcher, bot: Any, chat_id: int, user_id: int, shown: list[str], not_shown: list[str]
) -> None:
    await dispatcher.feed_update(bot, command(1, "/kpi 2026-03", chat_id=chat_id, user_id=user_id))

    (text,) = texts(bot)
    assert text.startswith(shown[0])
    for fragment in shown:
        assert fragment in text, fragment
    for fragment in not_shown:
        assert fragment not in text, fragment
    (photo,) = photos(bot)
    assert photo.params["caption"] == "KPI chart 2026-03"
    (upload,) = photo.files.values()
    assert isinstance(upload, BufferedInputFile)
    assert upload.filename == "kpi-2026-03.png" and upload.data.startswith(b"\x89PNG")


@pytest.mark.usefixtures("march")
async def test_kpis_read_in_chinese_for_a_chinese_manager(dispatcher: Dispatcher, bot: Any) -> None:
    await dispatcher.feed_update(
        bot, command(1, "/kpi 2026-03", chat_id=MANAGEMENT_CHAT, user_id=MANAGER, language_code="zh-hans")
    )

    (text,) = texts(bot)
    assert text.startswith("📊 <b>KPI 2026-03</b> · 全公司")
    assert "<b>准确率</b>：66.67 %（6 / 9）· 目标 ≥ 99.5 % · ❌ 未达标" in text
    assert photos(bot)[0].params["caption"] == "KPI 图表 2026-03"


@pytest.mark.usefixtures("march")
@pytest.mark.parametrize(
    ("text", "user_id", "reply"),
    [
        ("/kpi", PICKER, "/kpi is for management and the department heads."),
        ("/kpi 2026-13", MANAGER, "Write the month as YYYY-MM, e.g. /kpi 2026-04."),
        ("/kpi March", MANAGER, "Write the month as YYYY-MM, e.g. /kpi 2026-04."),
        ("/kpi 2026-05", MANAGER, "2026-05 has not begun yet; ask for 2026-04 or an earlier month."),
        ("/report 2026-03", HEAD, "/report is for management."),
        ("/report 03/2026", MANAGER, "Write the month as YYYY-MM, e.g. /report 2026-04."),
        ("/checks", PICKER, "/checks is for the order desk and management."),
        ("/checks 16.03.2026", CLERK, "Write the day as YYYY-MM-DD, e.g. /checks 2026-04-02."),
        ("/checks 2026-04-03", CLERK, "2026-04-03 has not come yet."),
    ],
)
async def test_refusals_and_bad_input_get_a_specific_reply(
    dispatcher: Dispatcher, bot: Any, session_factory: Sessions, text: str, user_id: int, reply: str
) -> None:
    await dispatcher.feed_update(bot, command(1, text, chat_id=MANAGEMENT_CHAT, user_id=user_id))

    assert texts(bot) == [reply]
    assert photos(bot) == []
    async with session_factory() as session:
        assert (await session.scalars(select(OutboxRow))).all() == []


@pytest.mark.usefixtures("march")
async def test_report_on_demand_queues_the_summary_pdf_and_xlsx_for_the_chat(
    dispatcher: Dispatcher, bot: Any, session_factory: Sessions
) -> None:
    await dispatcher.feed_update(bot, command(1, "/report 2026-03", chat_id=MANAGEMENT_CHAT, user_id=MANAGER))

    assert texts(bot) == [
        "📑 The supervision report of 2026-03 is being prepared: the summary, the PDF and the XLSX arrive "
        "here in a moment."
    ]
    async with session_factory() as session:
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
    assert [(row.chat_id, row.method) for row in rows] == [(MANAGEMENT_CHAT, "sendMessage")] + [
        (MANAGEMENT_CHAT, "sendDocument")
    ] * 2
    assert rows[0].params["text"].startswith("📑 <b>Supervision report 2026-03</b>")
    assert all(REPORT_DOCUMENT_ID in row.params for row in rows[1:])


@pytest.mark.usefixtures("march")
async def test_report_without_a_month_is_last_months(
    dispatcher: Dispatcher, bot: Any, session_factory: Sessions
) -> None:
    await dispatcher.feed_update(bot, command(1, "/report", chat_id=MANAGEMENT_CHAT, user_id=MANAGER))

    async with session_factory() as session:
        summary = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).first()
    assert summary is not None and "Supervision report 2026-03" in summary.params["text"]


async def test_checks_lists_the_days_progress_checks_and_chases(
    dispatcher: Dispatcher, bot: Any, march: March
) -> None:
    def ref(name: str) -> str:
        return march.orders[name].reference

    await dispatcher.feed_update(
        bot, command(1, "/checks 2026-03-16", chat_id=ORDER_DESK_CHAT, user_id=CLERK)
    )
    await dispatcher.feed_update(
        bot, command(2, "/checks 2026-03-17", chat_id=ORDER_DESK_CHAT, user_id=CLERK)
    )

    busy, quiet = texts(bot)
    assert busy.splitlines() == [
        "📋 <b>Progress checks 2026-03-16</b>: 2 of 2 held.",
        "✅ 09:00: 0 overdue, 1 at risk",
        "✅ 15:00: 2 overdue, 1 at risk",
        "",
        "🔔 <b>Chases</b> (5):",
        f"10:05 🚨 breach · <b>{ref('O6')}</b> · picking (warehouse)",
        f"10:20 ✅ acknowledged by Wang Wei · <b>{ref('O6')}</b> · picking (warehouse)",
        f"11:00 🚨 breach · <b>{ref('O3')}</b> · first review (order desk)",
        f"12:00 ⚠️ warning · <b>{ref('O7')}</b> · booking and customs declaration (logistics)",
        f"12:00 🔺 escalated to management · <b>{ref('O3')}</b> · first review (order desk)",
    ]
    assert quiet.splitlines() == [
        "📋 <b>Progress checks 2026-03-17</b>: 0 of 2 held.",
        "❌ 09:00: not held",
        "❌ 15:00: not held",
        "",
        "🔔 <b>Chases</b> (0):",
        "No chases that day.",
    ]


async def test_management_sla_lists_the_overdue_steps_of_every_department(
    dispatcher: Dispatcher, bot: Any, march: March
) -> None:
    await dispatcher.feed_update(bot, command(1, "/sla", chat_id=MANAGEMENT_CHAT, user_id=MANAGER))

    (text,) = texts(bot)
    lines = text.splitlines()
    assert lines[0] == "⏱ Every department: 1 overdue, 0 at risk."
    assert lines[1] == "<b>warehouse</b>: 1 overdue"
    assert lines[2].startswith(f"🚨 <b>{march.orders['O8'].reference}</b> · outbound scan · 13d ")
    assert "within its time limit" not in text


async def test_management_sla_says_all_clear_only_when_no_department_is_overdue(
    dispatcher: Dispatcher, bot: Any, new_uow: UowFactory
) -> None:
    await grant_roles(new_uow, {Role.MANAGEMENT: [MANAGER]}, at=NOW)

    await dispatcher.feed_update(bot, command(1, "/sla", chat_id=MANAGEMENT_CHAT, user_id=MANAGER))

    assert texts(bot) == ["✅ Every department: every step is within its time limit."]


@pytest.mark.usefixtures("march")
async def test_help_lists_the_kpi_commands_for_management(dispatcher: Dispatcher, bot: Any) -> None:
    await dispatcher.feed_update(bot, command(1, "/help", chat_id=MANAGEMENT_CHAT, user_id=MANAGER))

    (text,) = texts(bot)
    assert "/kpi — Show the KPIs against their targets: /kpi [YYYY-MM]" in text
    assert "/report — Send the monthly supervision report: /report [YYYY-MM]" in text
    assert "/checks — List the progress checks and chases of a day: /checks [YYYY-MM-DD]" in text
