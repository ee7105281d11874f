"""/exceptions, /improve and the monthly sweep through the production dispatcher and the recording Bot API.

The report's three messages (the summary, the chart as a photo, the XLSX) are queued in the outbox
and uploaded by the outbox sender; the workbook is opened with openpyxl. English and Chinese, the
latter as the management chat's language (R-X.4). Figures: tests/exception_report/conftest.py.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from io import BytesIO
from typing import Any

import openpyxl
import pytest
from aiogram import Dispatcher
from aiogram.types import BufferedInputFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.exception_report import ExceptionReportSetup, exception_report_sweep
from bot.app import StoredDocuments, chat_language_of
from bot.dispatcher import build_dispatcher
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.status import Role
from scheduler.jobs import EXCEPTION_REPORT_JOB
from storage.conversation_repository import SqlChatLanguages
from storage.models import ImprovementActionRow, OutboxRow
from storage.outbox_queue import SqlTeamChats
from tests.exception_report.conftest import (
    CLERK,
    HEAD,
    MANAGEMENT_CHAT,
    MANAGER,
    NOW,
    UowFactory,
    local,
    seed_march,
)
from tests.fixtures import grant_roles
from tests.mocked_bot import MockedBot
from tests.outbox.conftest import sender_on
from tests.review.conftest import Card, command, press
from tests.sla.test_jobs import wired_job

Sessions = async_sessionmaker[AsyncSession]

ORDER_DESK_CHAT = -1001
TEAM_CHATS = {"order_desk": ORDER_DESK_CHAT, "management": MANAGEMENT_CHAT}


@pytest.fixture
def setup(report_setup: ExceptionReportSetup) -> ExceptionReportSetup:
    """The report's setup reading each team chat's language from the database, as in production."""
    return dataclasses.replace(report_setup, chat_language=chat_language_of)


@pytest.fixture
def dispatcher(new_uow: UowFactory, setup: ExceptionReportSetup, clock: FixedClock) -> Dispatcher:
    """The production dispatcher with the exception report's wiring of the composition root."""
    dispatcher = build_dispatcher(uow_factory=new_uow, i18n=create_i18n("en"))
    dispatcher["exception_report_setup"] = setup
    dispatcher["team_chats"] = TEAM_CHATS
    dispatcher["clock"] = clock
    return dispatcher


async def staff(new_uow: UowFactory) -> None:
    """A manager, the order desk head and a clerk."""
    await grant_roles(
        new_uow, {Role.MANAGEMENT: [MANAGER], Role.ORDER_DESK_HEAD: [HEAD], Role.ORDER_DESK: [CLERK]}, at=NOW
    )


async def chinese_management_chat(session_factory: Sessions) -> None:
    """The management chat chose Chinese with /lang."""
    async with session_factory() as session:
        await SqlTeamChats(session).seed("management", MANAGEMENT_CHAT, NOW)
        await SqlChatLanguages(session).set_language(MANAGEMENT_CHAT, "zh")
        await session.commit()


async def queued(session_factory: Sessions) -> list[OutboxRow]:
    """The outbox rows, oldest first."""
    async with session_factory() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def delivered(session_factory: Sessions, new_uow: UowFactory, clock: FixedClock) -> MockedBot:
    """Runs the outbox sender to a recording Bot API until nothing is pending; returns what it got."""
    bot = MockedBot()
    stored = StoredDocuments(new_uow)
    sender = sender_on(session_factory, bot, clock, documents=stored, reports=stored)
    for _ in range(6):
        await sender.run_once()
        clock.advance(timedelta(seconds=5))
    bot.assert_no_violations()
    return bot


def workbook_of(bot: MockedBot) -> Any:
    """The XLSX the bot uploaded, opened."""
    (request,) = bot.requests_for("sendDocument")
    (upload,) = request.files.values()
    assert isinstance(upload, BufferedInputFile) and upload.filename is not None
    assert upload.filename.endswith(".xlsx")
    return openpyxl.load_workbook(BytesIO(upload.data))


def rows(sheet: Any) -> list[list[Any]]:
    """A worksheet's table rows (header included), below the title and subtitle."""
    return [
        [cell.value for cell in row]
        for row in sheet.iter_rows(min_row=4)
        if any(c.value is not None for c in row)
    ]


def replies(bot: MockedBot) -> list[str]:
    """The texts the bot sent or edited in, in order."""
    return [
        request.params["text"]
        for request in bot.requests
        if request.name in ("sendMessage", "editMessageText")
    ]


async def test_exceptions_on_demand_sends_the_summary_the_chart_and_the_xlsx(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, session_factory: Sessions, clock: FixedClock
) -> None:
    await seed_march(new_uow)
    await staff(new_uow)

    await dispatcher.feed_update(
        bot, command(1, "/exceptions 2026-03", chat_id=MANAGEMENT_CHAT, user_id=MANAGER)
    )

    assert replies(bot) == [
        "⚠️ The exception report of 2026-03 is being prepared: the summary, the chart and the XLSX "
        "arrive here in a moment."
    ]
    assert [(row.chat_id, row.method) for row in await queued(session_factory)] == [
        (MANAGEMENT_CHAT, "sendMessage"),
        (MANAGEMENT_CHAT, "sendPhoto"),
        (MANAGEMENT_CHAT, "sendDocument"),
    ]
    telegram = await delivered(session_factory, new_uow, clock)
    (summary,) = [request.params["text"] for request in telegram.requests_for("sendMessage")]
    for line in (
        "⚠️ <b>Exception report 2026-03</b>",
        "Cases opened: 2 · closed: 2",
        "Damaged goods: 0 · 1 · 0.00 % (0 / 1) · 4d",
        "Delay: 2 · 1 · 100.00 % (1 / 1) · 6h",
        "<b>Resolved within the limits</b>: 50.00 % (1 / 2 cases closed)",
        "damage or loss evidence: 0.00 % (0 / 1)",
        "<b>Compensation paid</b>: 500.00 CNY · payouts: 1",
        "<b>Satisfaction with the handling</b>: 100.00 % (1 / 1) · target ≥ 90 % · ✅ met",
        "1. Delay · Weather: 2 (100.00 %)",
        "    ↳ Book a second carrier for typhoon weeks (Olivia Desk, 03-03)",
        "🔁 Delay · Weather: Watch the typhoon forecast · recurred: 2 cases",
        "✅ Damaged goods · Packing: Double boxes for glass · did not recur",
    ):
        assert line in summary.split("\n"), line
    (photo,) = telegram.requests_for("sendPhoto")
    (png,) = photo.files.values()
    assert isinstance(png, BufferedInputFile)
    assert png.filename == "exception-report-2026-03-en.png" and png.data.startswith(b"\x89PNG")
    assert photo.params["caption"] == "Exception report 2026-03: chart"
    workbook = workbook_of(telegram)
    assert workbook.sheetnames[:3] == ["Cases by type", "Cases by type and cause", "Steps within their limit"]
    assert rows(workbook["Cases by type"])[1:] == [
        ["Damaged goods", 0, 1, 0, 0, 96, 96],
        ["Delay", 2, 1, 1, 100, 6, 6],
    ]
    assert rows(workbook["Compensation paid"])[1:] == [["delay compensation", "CNY", 500, 1]]
    assert rows(workbook["Last month's actions"])[1:] == [
        ["2026-02-10 10:00", "user 305", "Delay", "Weather", "Watch the typhoon forecast", 2, "yes"],
        ["2026-02-20 10:00", "user 305", "Damaged goods", "Packing", "Double boxes for glass", 0, "no"],
    ]


async def test_the_monthly_sweep_queues_last_months_report_once_in_the_chinese_management_chat(
    new_uow: UowFactory, session_factory: Sessions, setup: ExceptionReportSetup, clock: FixedClock
) -> None:
    await seed_march(new_uow)
    await chinese_management_chat(session_factory)

    clock.current = local(4, 1, 8, 59)
    assert await exception_report_sweep(new_uow, setup) is False  # not due before 09:00 on the 1st
    clock.current = local(4, 1, 9)
    assert await exception_report_sweep(new_uow, setup) is True
    assert await exception_report_sweep(new_uow, setup) is False  # a rerun, or another instance
    clock.current = local(4, 20)
    assert await exception_report_sweep(new_uow, setup) is False

    assert [row.method for row in await queued(session_factory)] == [
        "sendMessage",
        "sendPhoto",
        "sendDocument",
    ]
    telegram = await delivered(session_factory, new_uow, clock)
    (summary,) = [request.params["text"] for request in telegram.requests_for("sendMessage")]
    assert summary.startswith("⚠️ <b>异常报告 2026-03</b>\n新开异常：2 · 已关闭：2")
    assert "<b>异常处理满意度</b>：100.00 %（1 / 1）· 目标 ≥ 90 % · ✅ 达标" in summary
    assert telegram.requests_for("sendPhoto")[0].params["caption"] == "异常报告 2026-03：图表"
    workbook = workbook_of(telegram)
    assert workbook.sheetnames[0] == "按类型统计的异常"
    assert rows(workbook["按类型统计的异常"])[2][:3] == ["延误", 2, 1]


async def test_a_restart_after_the_first_at_nine_catches_the_report_up(
    new_uow: UowFactory, session_factory: Sessions, setup: ExceptionReportSetup, clock: FixedClock
) -> None:
    await seed_march(new_uow)
    clock.current = local(4, 3, 14)  # the bot was down from Mar 31 to Apr 3

    assert await exception_report_sweep(new_uow, setup) is True

    (summary, *_files) = await queued(session_factory)
    assert summary.params["text"].startswith("⚠️ <b>Exception report 2026-03</b>")
    assert summary.dedup_key == f"exception-report:2026-03:{MANAGEMENT_CHAT}:summary"


async def test_the_sweep_runs_with_the_sla_sweeps_interval() -> None:
    job = wired_job(EXCEPTION_REPORT_JOB, exception_report=True)
    assert job.trigger.interval == timedelta(seconds=60)
    assert (job.coalesce, job.max_instances) == (True, 1)


@pytest.mark.parametrize(
    ("text", "user_id", "reply"),
    [
        ("/exceptions", CLERK, "/exceptions is for management, the order desk head and administrators."),
        ("/exceptions 2026-13", MANAGER, "Write the month as YYYY-MM, e.g. /exceptions 2026-03."),
        ("/exceptions March", HEAD, "Write the month as YYYY-MM, e.g. /exceptions 2026-03."),
        ("/exceptions 2026-05", MANAGER, "2026-05 has not begun yet; ask for 2026-04 or an earlier month."),
        ("/improve weather Check the forecast", MANAGER, "/improve is for the order desk and its head."),
    ],
)
async def test_refusals_and_a_malformed_month_get_a_specific_reply(
    dispatcher: Dispatcher,
    bot: MockedBot,
    new_uow: UowFactory,
    session_factory: Sessions,
    text: str,
    user_id: int,
    reply: str,
) -> None:
    await staff(new_uow)

    await dispatcher.feed_update(bot, command(1, text, chat_id=MANAGEMENT_CHAT, user_id=user_id))

    assert replies(bot) == [reply]
    assert await queued(session_factory) == []


async def stored_actions(session_factory: Sessions) -> list[tuple[str, str, str, int]]:
    """The improvement actions stored: type, cause, text, who."""
    async with session_factory() as session:
        found = await session.scalars(select(ImprovementActionRow).order_by(ImprovementActionRow.id))
        return [(row.exception_type, row.cause, row.action, row.recorded_by) for row in found]


async def test_improve_with_its_cause_records_the_action(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, session_factory: Sessions
) -> None:
    await staff(new_uow)

    await dispatcher.feed_update(
        bot, command(1, "/improve weather  Book a <second> carrier", chat_id=ORDER_DESK_CHAT, user_id=CLERK)
    )

    assert replies(bot) == [
        "✅ Improvement action recorded against <b>Delay · Weather</b>: Book a &lt;second&gt; carrier\n"
        "The next exception report lists it."
    ]
    assert await stored_actions(session_factory) == [("delay", "weather", "Book a <second> carrier", CLERK)]


async def test_improve_without_a_cause_asks_for_the_type_then_the_cause_then_the_text(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, session_factory: Sessions
) -> None:
    await staff(new_uow)

    await dispatcher.feed_update(bot, command(1, "/improve", chat_id=ORDER_DESK_CHAT, user_id=HEAD))
    asked = bot.requests_for("sendMessage")[-1]
    assert asked.params["text"] == "Which exception type is the cause of? Choose it, then the cause."
    types = [
        button["callback_data"] for row in asked.decoded("reply_markup")["inline_keyboard"] for button in row
    ]
    assert types == ["impr:delay:", "impr:damaged:", "impr:wrong_shipment:"]
    card = Card(ORDER_DESK_CHAT, 900, asked.params["text"])

    await dispatcher.feed_update(bot, press(2, "impr:damaged:", user_id=HEAD, card=card))
    edited = bot.requests_for("editMessageText")[-1]
    assert edited.params["text"] == "Choose the cause (Damaged goods):"
    causes = [
        button["callback_data"] for row in edited.decoded("reply_markup")["inline_keyboard"] for button in row
    ]
    assert causes == ["impr:damaged:packing", "impr:damaged:other"]

    await dispatcher.feed_update(bot, press(3, "impr:damaged:packing", user_id=HEAD, card=card))
    assert bot.requests_for("editMessageText")[-1].params["text"] == (
        "Write the improvement action against <b>Damaged goods · Packing</b> in one message "
        "(at most 500 characters)."
    )
    await dispatcher.feed_update(bot, command(4, "x" * 501, chat_id=ORDER_DESK_CHAT, user_id=HEAD))
    assert (
        replies(bot)[-1] == "The action is 501 characters long; shorten it to at most 500 and send it again."
    )
    await dispatcher.feed_update(
        bot, command(5, "Double boxes for glass", chat_id=ORDER_DESK_CHAT, user_id=HEAD)
    )

    assert replies(bot)[-1].startswith(
        "✅ Improvement action recorded against <b>Damaged goods · Packing</b>"
    )
    assert await stored_actions(session_factory) == [("damaged", "packing", "Double boxes for glass", HEAD)]
    assert all(
        request.name != "answerCallbackQuery" or "text" not in request.params for request in bot.requests
    )
    assert len(bot.requests_for("answerCallbackQuery")) == 2


async def test_a_cause_of_several_types_is_chosen_by_buttons_keeping_the_action(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, session_factory: Sessions
) -> None:
    await staff(new_uow)

    await dispatcher.feed_update(
        bot,
        command(
            1,
            "/improve other Call the customer first",
            chat_id=ORDER_DESK_CHAT,
            user_id=CLERK,
            language_code="zh",
        ),
    )
    asked = bot.requests_for("sendMessage")[-1]
    assert asked.params["text"] == "请选择原因（延误 · 货物破损 · 错发）："
    buttons = [button for row in asked.decoded("reply_markup")["inline_keyboard"] for button in row]
    assert [button["text"] for button in buttons] == [
        "延误 · 其他原因",
        "货物破损 · 其他原因",
        "错发 · 其他原因",
    ]

    card = Card(ORDER_DESK_CHAT, 901, asked.params["text"])
    await dispatcher.feed_update(
        bot, press(2, "impr:wrong_shipment:other", user_id=CLERK, card=card, language_code="zh")
    )

    assert replies(bot)[-1].startswith(
        "✅ 已记录针对<b>错发 · 其他原因</b>的改进措施：Call the customer first"
    )
    assert await stored_actions(session_factory) == [
        ("wrong_shipment", "other", "Call the customer first", CLERK)
    ]


async def test_a_button_pressed_by_someone_without_the_role_changes_nothing(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, session_factory: Sessions
) -> None:
    await staff(new_uow)
    card = Card(ORDER_DESK_CHAT, 902, "Which exception type is the cause of?")

    await dispatcher.feed_update(bot, press(1, "impr:delay:weather", user_id=MANAGER, card=card))

    (answer,) = bot.requests_for("answerCallbackQuery")
    assert answer.params["text"] == "/improve is for the order desk and its head."
    assert await stored_actions(session_factory) == []
