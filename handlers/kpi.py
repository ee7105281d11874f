"""/kpi, /report and /checks: KPIs and their chart (R-8.2), the supervision report (R-8.1), the R-5.1 record.

Handler data this router needs besides `uow`, `roles` and `locale`: `kpi_setup`
(application.kpi.KpiSetup), `report_setup` (application.reports.ReportSetup) and `team_chats`
(department value -> chat id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from application.kpi import KpiSetup, month_kpis
from application.ports import UnitOfWork
from application.reports import ReportSetup, day_checks, send_report
from domain.kpi import Month, MonthError, requested_month
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from domain.sla.alerts import departments_of_chat
from handlers.common import CommandSpec
from presentation.keyboards import N_
from presentation.kpi import checks_texts, kpi_texts
from presentation.kpi_chart import kpi_chart
from presentation.render import translator

router = Router(name="kpi")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("kpi", N_("Show the KPIs against their targets: /kpi [YYYY-MM]"), roles_for(Duty.SEE_KPIS)),
    CommandSpec(
        "report",
        N_("Send the monthly supervision report: /report [YYYY-MM]"),
        roles_for(Duty.SEE_SUPERVISION_REPORT),
    ),
    CommandSpec(
        "checks",
        N_("List the progress checks and chases of a day: /checks [YYYY-MM-DD]"),
        roles_for(Duty.SEE_PROGRESS_CHECKS),
    ),
)


def team_scope(chat_id: int, team_chats: Mapping[str, int]) -> frozenset[Role] | None:
    """The departments whose figures a chat shows: its team's, or None (the company) elsewhere."""
    departments = departments_of_chat(chat_id, team_chats)
    if not departments or Role.MANAGEMENT in departments:
        return None
    return departments


@router.message(Command("kpi"))
async def show_kpis(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    kpi_setup: KpiSetup,
    team_chats: Mapping[str, int],
    i18n: I18n,
    locale: str,
) -> None:
    """Shows a month's four KPIs against their targets, per department and step, with a chart."""
    if not may(roles, Duty.SEE_KPIS):
        await message.answer(_("/kpi is for management and the department heads."))
        return
    now = kpi_setup.clock.now()
    zone = kpi_setup.sla.calendar.zone
    month = await _asked_month(message, command, now, zone)
    if month is None:
        return
    card = await month_kpis(uow, kpi_setup, month, team_scope(message.chat.id, team_chats))
    t = translator(i18n, locale)
    for part in kpi_texts(card, t):
        await message.answer(part)
    chart = await asyncio.to_thread(kpi_chart, card, t, locale)
    await message.answer_photo(
        BufferedInputFile(chart, filename=f"kpi-{month}.png"),
        caption=_("KPI chart {month}").format(month=month),
    )


@router.message(Command("report"))
async def request_report(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    report_setup: ReportSetup,
    team_chats: Mapping[str, int],
    locale: str,
) -> None:
    """Queues a month's supervision report (last month's by default) to this chat: summary, PDF, XLSX."""
    if not may(roles, Duty.SEE_SUPERVISION_REPORT):
        await message.answer(_("/report is for management."))
        return
    kpi = report_setup.kpi
    now = kpi.clock.now()
    zone = kpi.sla.calendar.zone
    month = await _asked_month(message, command, now, zone, default=_last_month(now, zone))
    if month is None:
        return
    # A team chat reads its reports in the team chats' language; a private chat in the user's.
    in_team_chat = bool(departments_of_chat(message.chat.id, team_chats))
    language = report_setup.locale if in_team_chat else locale
    await send_report(uow, report_setup, month, message.chat.id, language)
    await message.answer(
        _(
            "📑 The supervision report of {month} is being prepared: the summary, the PDF and the XLSX "
            "arrive here in a moment."
        ).format(month=month)
    )


@router.message(Command("checks"))
async def show_checks(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    report_setup: ReportSetup,
    i18n: I18n,
    locale: str,
) -> None:
    """Lists a day's 09:00 and 15:00 progress checks and every chase of that day (R-5.1)."""
    if not may(roles, Duty.SEE_PROGRESS_CHECKS):
        await message.answer(_("/checks is for the order desk and management."))
        return
    kpi = report_setup.kpi
    zone = kpi.sla.calendar.zone
    today = kpi.clock.now().astimezone(zone).date()
    text = (command.args or "").strip()
    try:
        day = date.fromisoformat(text) if text else today
    except ValueError:
        await message.answer(
            _("Write the day as YYYY-MM-DD, e.g. /checks {day}.").format(day=today.isoformat())
        )
        return
    if day > today:
        await message.answer(_("{day} has not come yet.").format(day=day.isoformat()))
        return
    record = await day_checks(uow, report_setup, day)
    for part in checks_texts(record, translator(i18n, locale), zone):
        await message.answer(part)


def _last_month(now: datetime, zone: ZoneInfo) -> Month:
    """The month before the current one: the last complete month."""
    return Month.of(now, zone).previous()


async def _asked_month(
    message: Message, command: CommandObject, now: datetime, zone: ZoneInfo, *, default: Month | None = None
) -> Month | None:
    """The month the command asks for (else the default); None once it has said what is wrong."""
    try:
        return requested_month(command.args or "", now, zone, default=default)
    except MonthError:
        await message.answer(_month_hint(command.command, now, zone, command.args or ""))
        return None


def _month_hint(command: str, now: datetime, zone: ZoneInfo, text: str) -> str:
    """Says what is wrong with the month asked for."""
    current = Month.of(now, zone)
    try:
        month = Month.parse(text)
    except MonthError:
        return _("Write the month as YYYY-MM, e.g. /{command} {month}.").format(
            command=command, month=current
        )
    return _("{month} has not begun yet; ask for {current} or an earlier month.").format(
        month=month, current=current
    )
