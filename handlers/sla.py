"""/sla in a team chat and the buttons of SLA alerts: Acknowledge (stops the escalation) and Open order.

Handler data this router needs besides `uow` and `roles` (set by the middlewares): `sla`
(domain.sla.SlaContext), `clock` (domain.clock.Clock) and `team_chats` (department value -> chat id).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from domain.clock import Clock
from domain.errors import OrderNotFound
from domain.orders.model import StageClock
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from domain.sla.alerts import DueClock, SlaAlert, departments_of_chat
from domain.sla.clocks import (
    SlaContext,
    clock_left,
    department_of,
    overdue_by,
    risk_thresholds,
    stages_of,
    status_of,
)
from domain.sla.policy import ClockStatus
from handlers.common import CommandSpec
from presentation.keyboards import N_
from presentation.labels import DEPARTMENT_LABELS, STAGE_LABELS, format_span
from presentation.messages import pack_messages
from presentation.render import STATUS_NAMES
from presentation.sla_callbacks import (
    SLA_ACKNOWLEDGE,
    SLA_ACKNOWLEDGE_BATCH,
    SLA_OPEN_ORDER,
    SLA_PREFIX,
    SlaCallback,
    parse_sla,
)

router = Router(name="sla")

# /sla lists this many orders at most; the digest and the alerts cover the rest.
SLA_LIST_LIMIT = 60
# Management's /sla counts the running clocks of every department read up to this many.
MANAGEMENT_READ_LIMIT = 10_000

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "sla",
        N_("Show this team's overdue and at-risk orders"),
        roles=roles_for(Duty.SEE_DEADLINES) - {Role.ADMIN},
    ),
)


@router.message(Command("sla"))
async def show_sla(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    sla: SlaContext,
    clock: Clock,
    team_chats: Mapping[str, int],
) -> None:
    """Lists the chat's department's breached and at-risk orders, worst first."""
    departments = departments_of_chat(message.chat.id, team_chats)
    if not departments:
        await message.answer(_("Send /sla in a team chat: it lists that team's overdue and at-risk orders."))
        return
    if not may(roles, Duty.SEE_DEADLINES):
        await message.answer(_("/sla is for staff."))
        return
    now = clock.now()
    if Role.MANAGEMENT in departments:
        await _show_every_department(message, uow, sla, now)
        return
    thresholds = risk_thresholds(sla, now, stages_of(sla, departments))
    clocks = await uow.sla.at_risk_or_breached(thresholds, SLA_LIST_LIMIT * 4)
    breached: list[DueClock] = []
    at_risk: list[DueClock] = []
    for due in clocks:
        status = status_of(_stage_clock(due), now, policy=sla.policy, calendar=sla.calendar)
        if status is ClockStatus.BREACHED:
            breached.append(due)
        elif status is ClockStatus.AT_RISK:
            at_risk.append(due)
    names = ", ".join(sorted(_(DEPARTMENT_LABELS[department.value]) for department in departments))
    if not breached and not at_risk:
        await message.answer(_("✅ {team}: every step is within its time limit.").format(team=names))
        return
    breached.sort(key=lambda due: overdue_by(_stage_clock(due), now), reverse=True)
    at_risk.sort(key=lambda due: due.due_at - (due.paused_at or now))
    lines = [
        _("⏱ {team}: {overdue} overdue, {at_risk} at risk.").format(
            team=names, overdue=len(breached), at_risk=len(at_risk)
        )
    ]
    for due in breached[:SLA_LIST_LIMIT]:
        lines.append(
            _("🚨 <b>{order}</b> · {stage} · {late} overdue").format(
                order=html.escape(due.order_ref),
                stage=_(STAGE_LABELS.get(due.stage, due.stage)),
                late=format_span(overdue_by(_stage_clock(due), now)),
            )
        )
    for due in at_risk[: max(SLA_LIST_LIMIT - len(breached), 0)]:
        lines.append(
            _("⚠️ <b>{order}</b> · {stage} · {left} left").format(
                order=html.escape(due.order_ref),
                stage=_(STAGE_LABELS.get(due.stage, due.stage)),
                left=format_span(clock_left(_stage_clock(due), now)),
            )
        )
    hidden = len(breached) + len(at_risk) - (len(lines) - 1)
    if hidden > 0:
        lines.append(_("… and {count} more.").format(count=hidden))
    for text in pack_messages(lines):
        await message.answer(text)


async def _show_every_department(message: Message, uow: UnitOfWork, sla: SlaContext, now: datetime) -> None:
    """Management's view: the overdue steps of every department, worst first, and how many are at risk."""
    clocks = await uow.sla.at_risk_or_breached(risk_thresholds(sla, now), MANAGEMENT_READ_LIMIT)
    breached: dict[Role, list[DueClock]] = {}
    at_risk = 0
    for due in clocks:
        status = status_of(_stage_clock(due), now, policy=sla.policy, calendar=sla.calendar)
        if status is ClockStatus.BREACHED:
            breached.setdefault(department_of(sla, due.stage), []).append(due)
        elif status is ClockStatus.AT_RISK:
            at_risk += 1
    if not breached and not at_risk:
        await message.answer(_("✅ Every department: every step is within its time limit."))
        return
    overdue = sum(len(dues) for dues in breached.values())
    lines = [
        _("⏱ Every department: {overdue} overdue, {at_risk} at risk.").format(
            overdue=overdue, at_risk=at_risk
        )
    ]
    listed = 0
    for department in Role:
        dues = sorted(
            breached.get(department, []), key=lambda due: overdue_by(_stage_clock(due), now), reverse=True
        )
        if not dues:
            continue
        lines.append(
            _("<b>{team}</b>: {overdue} overdue").format(
                team=_(DEPARTMENT_LABELS[department.value]), overdue=len(dues)
            )
        )
        for due in dues[: max(SLA_LIST_LIMIT - listed, 0)]:
            lines.append(
                _("🚨 <b>{order}</b> · {stage} · {late} overdue").format(
                    order=html.escape(due.order_ref),
                    stage=_(STAGE_LABELS.get(due.stage, due.stage)),
                    late=format_span(overdue_by(_stage_clock(due), now)),
                )
            )
            listed += 1
    if overdue > listed:
        lines.append(_("… and {count} more.").format(count=overdue - listed))
    for text in pack_messages(lines):
        await message.answer(text)


@router.callback_query(F.data.startswith(f"{SLA_PREFIX}:"))
async def on_sla_button(
    query: CallbackQuery,
    uow: UnitOfWork,
    roles: frozenset[Role],
    sla: SlaContext,
    clock: Clock,
) -> None:
    """Answers the Acknowledge, Acknowledge all and Open order buttons of SLA alerts."""
    data = parse_sla(query.data)
    if data is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if data.action == SLA_OPEN_ORDER:
        await _open_order(query, uow, roles, sla, clock, data.value)
        return
    if data.action in (SLA_ACKNOWLEDGE, SLA_ACKNOWLEDGE_BATCH):
        await _acknowledge(query, uow, roles, sla, clock, data)


async def _acknowledge(
    query: CallbackQuery,
    uow: UnitOfWork,
    roles: frozenset[Role],
    sla: SlaContext,
    clock: Clock,
    data: SlaCallback,
) -> None:
    """Takes the alert (or the digest's alerts) on, stops their escalation and marks the message."""
    if data.action == SLA_ACKNOWLEDGE:
        alert = await uow.sla.get_alert(data.alert_id)
        alerts = [alert] if alert is not None else []
    else:
        alerts = await uow.sla.alerts_in_batch(data.value)
    if not alerts:
        await query.answer(_("This alert no longer exists."), show_alert=True)
        return
    user = query.from_user
    # Authority is read from the database at the press, never from the button (configured admins aside).
    held = await uow.staff.roles_of(user.id) | (roles & {Role.ADMIN})
    departments = {alert.department for alert in alerts}
    if not may(held, Duty.ACKNOWLEDGE_ANY_ALERT) and not held & departments:
        await query.answer(
            _("Only {team} staff, the order desk or an admin can acknowledge this alert.").format(
                team=", ".join(sorted(_(DEPARTMENT_LABELS[department.value]) for department in departments))
            ),
            show_alert=True,
        )
        return
    now = clock.now()
    pending = [alert.id for alert in alerts if not alert.acknowledged]
    if not pending or not await uow.sla.acknowledge(pending, user.id, user.full_name, now):
        first = await _first_acknowledgement(uow, alerts)
        await query.answer(
            _("Already acknowledged by {name} at {time}.").format(
                name=first.acknowledged_by_name or first.acknowledged_by,
                time=_time(sla, first.acknowledged_at or now),
            ),
            show_alert=True,
        )
        return
    stamp = _("✅ Acknowledged by {name} at {time}.").format(
        name=html.escape(user.full_name), time=_time(sla, now)
    )
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        await message.edit_text(
            f"{message.html_text}\n\n{stamp}", reply_markup=_without_acknowledge(message.reply_markup)
        )
    await query.answer(_("Acknowledged; the escalation is stopped."))


async def _open_order(
    query: CallbackQuery,
    uow: UnitOfWork,
    roles: frozenset[Role],
    sla: SlaContext,
    clock: Clock,
    order_id: str,
) -> None:
    """Shows the order's status and its running stage clocks in the chat."""
    if not may(roles, Duty.SEE_DEADLINES):
        await query.answer(_("Only staff can open orders here."), show_alert=True)
        return
    try:
        order = await uow.orders.get(order_id)
    except OrderNotFound:
        await query.answer(_("This order no longer exists."), show_alert=True)
        return
    now = clock.now()
    lines = [
        _("📦 Order <b>{order}</b>: {status}").format(
            order=html.escape(order.display_id), status=_(STATUS_NAMES[order.status])
        )
    ]
    for stage_clock in order.clocks:
        if not stage_clock.running:
            continue
        status = status_of(stage_clock, now, policy=sla.policy, calendar=sla.calendar)
        stage = _(STAGE_LABELS.get(stage_clock.stage, stage_clock.stage))
        team = _(DEPARTMENT_LABELS[department_of(sla, stage_clock.stage).value])
        if status is ClockStatus.BREACHED:
            state = _("{late} overdue").format(late=format_span(overdue_by(stage_clock, now)))
        else:
            state = _("{left} left").format(left=format_span(clock_left(stage_clock, now)))
        if stage_clock.paused_at is not None:
            state = _("{state}, paused").format(state=state)
        lines.append(
            _("{stage} ({team}): due {due}, {state}").format(
                stage=stage, team=team, due=_time(sla, stage_clock.due_at), state=state
            )
        )
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer("\n".join(lines))


async def _first_acknowledgement(uow: UnitOfWork, alerts: Sequence[SlaAlert]) -> SlaAlert:
    """Returns the alert as acknowledged first (re-read: the acknowledgement may be seconds old)."""
    fresh = [await uow.sla.get_alert(alert.id) for alert in alerts]
    done = [alert for alert in fresh if alert is not None and alert.acknowledged_at is not None]
    return min(done, key=lambda alert: alert.acknowledged_at or alert.created_at) if done else alerts[0]


def _without_acknowledge(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """Keeps the message's buttons except the Acknowledge ones."""
    if markup is None:
        return None
    rows = [
        [button for button in row if parse_sla(button.callback_data) is None or _keeps(button)]
        for row in markup.inline_keyboard
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _keeps(button: InlineKeyboardButton) -> bool:
    """Whether a button stays once the alert is acknowledged."""
    data = parse_sla(button.callback_data)
    return data is not None and data.action == SLA_OPEN_ORDER


def _stage_clock(due: DueClock) -> StageClock:
    """Rebuilds the domain clock of a due clock, to judge it with the domain's rules."""
    return StageClock(due.stage, due.started_at, due.due_at, paused_at=due.paused_at)


def _time(sla: SlaContext, moment: datetime) -> str:
    """Writes a moment in the business time zone."""
    return f"{moment.astimezone(sla.calendar.zone):%m-%d %H:%M}"
