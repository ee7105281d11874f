"""The texts and buttons of the SLA sweeps: warnings, breaches, escalations, merged alerts and the digest.

SlaAlertTexts writes what application/sla_sweeps.py records and queues, in the team chats'
language; every parameter is HTML-escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from application.ports import Outgoing
from domain.orders.status import Role
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, SlaAlert
from domain.sla.clocks import clock_left, overdue_by
from domain.sla.policy import ClockStatus
from presentation.labels import DEPARTMENT_LABELS, N_, ROLE_LABELS, STAGE_LABELS, format_span
from presentation.messages import MAX_MESSAGE_CHARS, pack_messages
from presentation.render import ACTION_NAMES
from presentation.sla_callbacks import pack_sla_ack, pack_sla_ack_batch, pack_sla_open

# Orders listed per department in a digest message (the tracking log keeps the counts of all).
DIGEST_ORDERS_PER_DEPARTMENT = 10

WARNING_TEXT = N_(
    "⚠️ SLA warning: order <b>{order}</b>, stage {stage} ({department}) has used 80 % of its time; "
    "due {due}, {left} left.\nLast action: {last}"
)
BREACH_TEXT = N_(
    "🚨 SLA breach: order <b>{order}</b>, stage {stage} ({department}) is {late} late (due {due}).\n"
    "Last action: {last}"
)
ESCALATION_HEAD_TEXT = N_(
    "🔺 Escalation to the order desk head{mention}: order <b>{order}</b>, stage {stage} ({department}) "
    "is {late} late and nobody has acknowledged the alert."
)
ESCALATION_MANAGEMENT_TEXT = N_(
    "🔺 Escalation to management{mention}: order <b>{order}</b>, stage {stage} ({department}) is {late} "
    "late; neither the department nor the order desk head has acknowledged it."
)
MERGED_HEADER_TEXT = N_("🚨 {count} SLA alerts at once ({part} of {parts}):")
WARNING_LINE = N_("⚠️ {order} · {stage} · due {due}")
BREACH_LINE = N_("🚨 {order} · {stage} · {late} late")
ESCALATION_LINE = N_("🔺 {order} · {stage} · {late} late · not acknowledged")
NO_LAST_ACTION = N_("none recorded")
LAST_ACTION_TEXT = N_("{action} by {actor} ({role}) at {at}")
ACKNOWLEDGE_BUTTON = N_("Acknowledge")
ACKNOWLEDGE_ALL_BUTTON = N_("Acknowledge all")
OPEN_ORDER_BUTTON = N_("Open order")
DIGEST_HEADER_TEXT = N_("📋 Progress check {slot}: {overdue} overdue, {at_risk} at risk.")
DIGEST_DEPARTMENT_TEXT = N_("<b>{department}</b>: {overdue} overdue, {at_risk} at risk")
DIGEST_OVERDUE_LINE = N_("  🚨 {order} · {stage} · {late} late")
DIGEST_AT_RISK_LINE = N_("  ⚠️ {order} · {stage} · {left} left")
DIGEST_ALL_CLEAR_TEXT = N_("Every step is within its time limit.")


class Render(Protocol):
    """Translates a msgid into a locale and fills in its (already HTML-escaped) parameters."""

    def __call__(self, msgid: str, locale: str, /, **params: Any) -> str: ...


def render_with(translate: Callable[[str, str], str]) -> Render:
    """Makes a Render from a translate(msgid, locale) function, e.g. one over aiogram's I18n.gettext."""

    def render(msgid: str, locale: str, /, **params: Any) -> str:
        """Translates msgid and formats it with params."""
        return translate(msgid, locale).format(**params)

    return render


Keyboard = list[list[dict[str, str]]]


class SlaAlertTexts:
    """Writes the sweeps' messages in one language, times in the business time zone."""

    def __init__(self, render: Render, *, locale: str = "en", zone: ZoneInfo | None = None) -> None:
        self.render = render
        self.locale = locale
        self.zone = zone or ZoneInfo("Asia/Shanghai")

    def alert(
        self, kind: AlertKind, due: DueClock, department: Role, alert_id: int, now: datetime
    ) -> Outgoing:
        """The message of a warning or breach, with Acknowledge and Open order."""
        text = self._t(
            BREACH_TEXT if kind is AlertKind.BREACH else WARNING_TEXT,
            order=html.escape(due.order_ref),
            stage=self._stage(due.stage),
            department=self._department(department),
            due=self._time(due.due_at),
            late=format_span(overdue_by(due.stage_clock(), now)),
            left=format_span(clock_left(due.stage_clock(), now)),
            last=self._last_action(due),
        )
        return _message(text, self._buttons(alert_id, due.order_id))

    def escalation(
        self, alert: SlaAlert, level: EscalationLevel, mentioned: Sequence[int], now: datetime
    ) -> Outgoing:
        """The message of an escalation, linking the people escalated to by user id."""
        # Each person is mentioned by a link to their account; no made-up @username (issue 18).
        mention = " ".join(f'<a href="tg://user?id={user_id}">👤</a>' for user_id in mentioned)
        text = self._t(
            ESCALATION_HEAD_TEXT if level is EscalationLevel.ORDER_DESK_HEAD else ESCALATION_MANAGEMENT_TEXT,
            # The mention joins the sentence with a space only when there is somebody to mention.
            mention=f" {mention}" if mention else "",
            order=html.escape(alert.order_ref),
            stage=self._stage(alert.stage),
            department=self._department(alert.department),
            late=format_span(now - alert.due_at),
        )
        return _message(text, self._buttons(alert.id, alert.order_id))

    def alert_line(self, kind: AlertKind, due: DueClock, now: datetime) -> str:
        """One warning or breach as a line of a merged message."""
        return self._t(
            BREACH_LINE if kind is AlertKind.BREACH else WARNING_LINE,
            order=html.escape(due.order_ref),
            stage=self._stage(due.stage),
            due=self._time(due.due_at),
            late=format_span(overdue_by(due.stage_clock(), now)),
        )

    def escalation_line(self, alert: SlaAlert, now: datetime) -> str:
        """One escalation as a line of a merged message."""
        return self._t(
            ESCALATION_LINE,
            order=html.escape(alert.order_ref),
            stage=self._stage(alert.stage),
            late=format_span(now - alert.due_at),
        )

    def merged_room(self) -> int:
        """The characters a merged message leaves for its lines, whatever its header's numbers."""
        return MAX_MESSAGE_CHARS - len(self._t(MERGED_HEADER_TEXT, count=99999, part=999, parts=999)) - 1

    def merged(self, lines: Sequence[str], part: int, parts: int, batch: str | None) -> Outgoing:
        """A message of many alerts at once; with a batch, one button acknowledges them all."""
        header = self._t(MERGED_HEADER_TEXT, count=len(lines), part=part, parts=parts)
        keyboard = (
            [[{"text": self._t(ACKNOWLEDGE_ALL_BUTTON), "callback_data": pack_sla_ack_batch(batch)}]]
            if batch is not None
            else None
        )
        return _message("\n".join([header, *lines]), keyboard)

    def digest(
        self, slot: str, judged: Mapping[Role, Mapping[ClockStatus, Sequence[DueClock]]], now: datetime
    ) -> list[Outgoing]:
        """The progress digest (R-5.1), split into messages within Telegram's length limit."""
        overdue = sum(len(lists[ClockStatus.BREACHED]) for lists in judged.values())
        at_risk = sum(len(lists[ClockStatus.AT_RISK]) for lists in judged.values())
        blocks = [self._t(DIGEST_HEADER_TEXT, slot=slot.replace("T", " "), overdue=overdue, at_risk=at_risk)]
        if not judged:
            blocks.append(self._t(DIGEST_ALL_CLEAR_TEXT))
        for department in Role:
            if department in judged:
                blocks.append(self._digest_block(department, judged[department], now))
        # A block never splits, so one longer than a message is cut to fit.
        fitted = [block[:MAX_MESSAGE_CHARS] for block in blocks]
        return [_message(text) for text in pack_messages(fitted, "\n\n")]

    def _digest_block(
        self, department: Role, lists: Mapping[ClockStatus, Sequence[DueClock]], now: datetime
    ) -> str:
        """One department's part of the digest: its counts and its worst orders."""
        lines = [
            self._t(
                DIGEST_DEPARTMENT_TEXT,
                department=self._department(department),
                overdue=len(lists[ClockStatus.BREACHED]),
                at_risk=len(lists[ClockStatus.AT_RISK]),
            )
        ]
        for due in lists[ClockStatus.BREACHED][:DIGEST_ORDERS_PER_DEPARTMENT]:
            late = format_span(overdue_by(due.stage_clock(), now))
            lines.append(self._digest_line(DIGEST_OVERDUE_LINE, due, late=late))
        for due in lists[ClockStatus.AT_RISK][:DIGEST_ORDERS_PER_DEPARTMENT]:
            left = format_span(clock_left(due.stage_clock(), now))
            lines.append(self._digest_line(DIGEST_AT_RISK_LINE, due, left=left))
        return "\n".join(lines)

    def _digest_line(self, text: str, due: DueClock, **span: str) -> str:
        """One order of the digest: its reference, its step, and how late it is or how long it has left."""
        return self._t(text, order=html.escape(due.order_ref), stage=self._stage(due.stage), **span)

    def _buttons(self, alert_id: int, order_id: str) -> Keyboard:
        """Acknowledge and Open order, for one alert."""
        return [
            [
                {"text": self._t(ACKNOWLEDGE_BUTTON), "callback_data": pack_sla_ack(alert_id)},
                {"text": self._t(OPEN_ORDER_BUTTON), "callback_data": pack_sla_open(order_id)},
            ]
        ]

    def _last_action(self, due: DueClock) -> str:
        """Writes who acted last on the order, from its audit trail."""
        last = due.last_action
        if last is None:
            return self._t(NO_LAST_ACTION)
        label = html.escape(last.actor_name or str(last.actor_id))
        actor = f'<a href="tg://user?id={last.actor_id}">{label}</a>' if last.actor_id else "—"
        return self._t(
            LAST_ACTION_TEXT,
            action=self._label(ACTION_NAMES, last.action),
            actor=actor,
            role=self._label(ROLE_LABELS, last.actor_role),
            at=self._time(last.at),
        )

    def _t(self, msgid: str, **params: Any) -> str:
        """Renders a msgid in the team chats' language."""
        return self.render(msgid, self.locale, **params)

    def _label(self, labels: Mapping[str, str], value: str) -> str:
        """A value's translated label, or the value escaped when it has none (issue 18)."""
        return self._t(labels[value]) if value in labels else html.escape(value.replace("_", " "))

    def _stage(self, stage: str) -> str:
        """Names a stage in the team chats' language."""
        return self._t(STAGE_LABELS.get(stage, stage))

    def _department(self, department: Role) -> str:
        """Names a department in the team chats' language."""
        return self._t(DEPARTMENT_LABELS[department.value])

    def _time(self, moment: datetime) -> str:
        """Writes a moment in the business time zone."""
        return f"{moment.astimezone(self.zone):%m-%d %H:%M}"


def _message(text: str, keyboard: Keyboard | None = None) -> Outgoing:
    """Builds a sendMessage call (the outbox row carries the chat id)."""
    params: dict[str, Any] = {
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    if keyboard:
        params["reply_markup"] = {"inline_keyboard": keyboard}
    return Outgoing("sendMessage", params)
