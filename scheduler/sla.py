"""SLA sweeps over the database: warnings, breach alerts, escalations and the twice-daily digest (issue 6).

Nothing here talks to Telegram: every message is an outbox row written in the transaction that
records the alert, so an alert is recorded and sent together or not at all. Each alert is recorded
once per stage clock and kind (a unique key), so a sweep after downtime sends a missed breach once,
and so do two instances racing; on PostgreSQL only the instance holding the advisory lock sweeps.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from application.ports import OutboxMessage, UnitOfWork
from domain.clock import Clock
from domain.orders.model import StageClock
from domain.orders.status import Role
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, NewAlert, SlaAlert, chat_for
from domain.sla.clocks import (
    SlaContext,
    clock_warning_at,
    department_of,
    overdue_by,
    risk_thresholds,
    status_of,
)
from domain.sla.policy import ClockStatus
from presentation.labels import DEPARTMENT_LABELS, N_, STAGE_LABELS, format_span
from presentation.sla_callbacks import pack_sla_ack, pack_sla_ack_batch, pack_sla_open

logger = logging.getLogger(__name__)

# Telegram's limits: a message holds 4096 characters; a group takes about 20 messages a minute.
MAX_MESSAGE_CHARS = 4096
GROUP_MESSAGES_PER_MINUTE = 20
# Orders listed per department in a digest message (the tracking log keeps the counts of all).
DIGEST_ORDERS_PER_DEPARTMENT = 10
TRACKING_LOG_ORDERS = 50

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


@dataclass(frozen=True)
class SweepSettings:
    """How often and how much the sweeps do."""

    sweep_seconds: int = 60
    escalate_after: timedelta = timedelta(minutes=30)
    # More alerts than this for one chat in one sweep are merged into digest messages.
    merge_above: int = 10
    # Messages one chat gets from one sweep at most; the rest waits for the next sweep.
    max_messages_per_chat: int = GROUP_MESSAGES_PER_MINUTE
    # Clocks or alerts read per query in one sweep.
    batch_limit: int = 1000
    locale: str = "en"
    digest_hours: tuple[int, ...] = (9, 15)

    @property
    def messages_per_sweep(self) -> int:
        """Messages a chat may get from one sweep without passing the per-minute limit of a group."""
        per_minute_share = GROUP_MESSAGES_PER_MINUTE * self.sweep_seconds // 60
        return max(1, min(self.max_messages_per_chat, per_minute_share))


@dataclass
class SweepReport:
    """What one sweep did."""

    locked: bool = True
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    messages: int = 0
    deferred: int = 0


@dataclass
class _Notice:
    """One thing to tell a chat: a new alert about a clock, or the escalation of an alert."""

    chat_id: int
    kind: AlertKind | None = None
    clock: DueClock | None = None
    alert: SlaAlert | None = None
    level: EscalationLevel = EscalationLevel.NONE


@dataclass
class _Chat:
    """The notices of one chat in one sweep."""

    notices: list[_Notice] = field(default_factory=list)


class SlaSweeper:
    """Runs the SLA sweeps and the progress digest against the database through units of work."""

    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        clock: Clock,
        sla: SlaContext,
        team_chats: Mapping[str, int],
        render: Render,
        settings: SweepSettings | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.sla = sla
        # Role value -> chat id; read at every sweep, so a mapping updated in place is followed.
        self.team_chats = team_chats
        self.render = render
        self.settings = settings or SweepSettings()

    async def sweep(self) -> SweepReport:
        """Records and sends due warnings and breaches, and escalates unacknowledged breaches."""
        now = self.clock.now()
        report = SweepReport()
        async with self.uow_factory() as uow:
            if not await uow.sla.try_lock_sweep():
                logger.debug("Another instance is sweeping the SLA clocks")
                return SweepReport(locked=False)
            chats: defaultdict[int, _Chat] = defaultdict(_Chat)
            limit = self.settings.batch_limit
            for due in await uow.sla.due_for_breach(now, limit):
                self._add_alert(chats, AlertKind.BREACH, due)
            thresholds = risk_thresholds(self.sla, now)
            for due in await uow.sla.due_for_warning(thresholds, now, limit):
                if (
                    clock_warning_at(_stage_clock(due), policy=self.sla.policy, calendar=self.sla.calendar)
                    <= now
                ):
                    self._add_alert(chats, AlertKind.WARNING, due)
            await self._add_escalations(uow, chats, now)
            mentions = (
                await self._mentions(uow)
                if any(notice.alert for chat in chats.values() for notice in chat.notices)
                else {}
            )
            for chat_id, chat in chats.items():
                await self._tell(uow, chat_id, chat.notices, now, mentions, report)
            await uow.commit()
        if report.messages:
            logger.info(
                "SLA sweep: %d breaches, %d warnings, %d escalations in %d messages (%d deferred)",
                report.breaches,
                report.warnings,
                report.escalations,
                report.messages,
                report.deferred,
            )
        return report

    async def digest(self) -> bool:
        """Posts the progress check (R-5.1) to the order desk and logs it; False if this slot's was done."""
        now = self.clock.now()
        local = now.astimezone(self.sla.calendar.zone)
        slot = f"{local:%Y-%m-%d}T{local:%H}:00"
        chat_id = chat_for(Role.ORDER_DESK, self.team_chats)
        async with self.uow_factory() as uow:
            clocks = await uow.sla.at_risk_or_breached(risk_thresholds(self.sla, now), 100_000)
            by_department = self._judge(clocks, now)
            content = _tracking_content(by_department, now)
            if not await uow.sla.record_digest(slot, now, content):
                return False
            if chat_id is not None:
                texts = self._digest_texts(slot, by_department, now)
                for part, message_text in enumerate(texts, start=1):
                    await uow.outbox.enqueue(
                        OutboxMessage(
                            chat_id=chat_id,
                            method="sendMessage",
                            params=_send_params(message_text),
                            created_at=now,
                            dedup_key=f"sla-tracking:{slot}:{part}",
                        )
                    )
            await uow.commit()
        return True

    def _add_alert(self, chats: defaultdict[int, _Chat], kind: AlertKind, due: DueClock) -> None:
        """Queues a new alert for the chat of the stage's department."""
        chat_id = chat_for(department_of(self.sla, due.stage), self.team_chats)
        if chat_id is None:
            logger.warning("No team chat for the %s alert of order %s", kind, due.order_ref)
            return
        chats[chat_id].notices.append(_Notice(chat_id, kind=kind, clock=due))

    async def _add_escalations(self, uow: UnitOfWork, chats: defaultdict[int, _Chat], now: datetime) -> None:
        """Queues the escalation of every breach alert left unacknowledged for too long."""
        older_than = now - self.settings.escalate_after
        targets = {
            EscalationLevel.ORDER_DESK_HEAD: Role.ORDER_DESK_HEAD,
            EscalationLevel.MANAGEMENT: Role.MANAGEMENT,
        }
        for level, department in targets.items():
            chat_id = chat_for(department, self.team_chats)
            alerts = await uow.sla.unacknowledged(level - 1, older_than, self.settings.batch_limit)
            if chat_id is None:
                continue
            for alert in alerts:
                chats[chat_id].notices.append(_Notice(chat_id, alert=alert, level=level))

    async def _mentions(self, uow: UnitOfWork) -> dict[EscalationLevel, str]:
        """Links the order desk heads and the managers by user id, so Telegram notifies them."""
        staff = await uow.staff.list_all()
        mentions = {}
        for level, role in (
            (EscalationLevel.ORDER_DESK_HEAD, Role.ORDER_DESK_HEAD),
            (EscalationLevel.MANAGEMENT, Role.MANAGEMENT),
        ):
            ids = sorted(user_id for user_id, roles in staff.items() if role in roles)
            mentions[level] = " ".join(
                f'<a href="tg://user?id={user_id}">@{role.value}</a>' for user_id in ids
            )
        return mentions

    async def _tell(
        self,
        uow: UnitOfWork,
        chat_id: int,
        notices: Sequence[_Notice],
        now: datetime,
        mentions: Mapping[EscalationLevel, str],
        report: SweepReport,
    ) -> None:
        """Records and sends a chat's notices: one message each, or merged when there are many."""
        budget = self.settings.messages_per_sweep
        if len(notices) <= min(self.settings.merge_above, budget):
            for notice in notices:
                await self._send_single(uow, notice, now, mentions, report)
            return
        chunks = self._merge(notices, now)
        for part, chunk in enumerate(chunks[:budget], start=1):
            await self._send_merged(uow, chat_id, chunk, now, part, min(len(chunks), budget), report)
        report.deferred += sum(len(chunk) for chunk in chunks[budget:])

    async def _send_single(
        self,
        uow: UnitOfWork,
        notice: _Notice,
        now: datetime,
        mentions: Mapping[EscalationLevel, str],
        report: SweepReport,
    ) -> None:
        """Records one alert or escalation and queues its message with its buttons."""
        if notice.clock is not None and notice.kind is not None:
            due = notice.clock
            alert_id = await uow.sla.record_alert(self._new_alert(notice.kind, due, now))
            if alert_id is None:
                return
            text = self._alert_text(notice.kind, due, now)
            order_id, dedup_key = due.order_id, f"sla:{due.order_id}:{due.clock_id}:{notice.kind}"
        else:
            alert = _required(notice.alert)
            if not await uow.sla.escalate(alert.id, notice.level, now):
                return
            alert_id, order_id = alert.id, alert.order_id
            text = self._escalation_text(alert, notice.level, now, mentions.get(notice.level, ""))
            dedup_key = f"sla-escalation:{alert.id}:{int(notice.level)}"
        keyboard = [
            [
                {"text": self._t(ACKNOWLEDGE_BUTTON), "callback_data": pack_sla_ack(alert_id)},
                {"text": self._t(OPEN_ORDER_BUTTON), "callback_data": pack_sla_open(order_id)},
            ]
        ]
        message = OutboxMessage(
            chat_id=notice.chat_id,
            method="sendMessage",
            params=_send_params(text, keyboard),
            created_at=now,
            order_id=order_id,
            dedup_key=dedup_key,
        )
        if await uow.outbox.enqueue(message):
            report.messages += 1
        _count(report, notice)

    async def _send_merged(
        self,
        uow: UnitOfWork,
        chat_id: int,
        chunk: Sequence[tuple[_Notice, str]],
        now: datetime,
        part: int,
        parts: int,
        report: SweepReport,
    ) -> None:
        """Records the notices of one digest message as one batch and queues the message."""
        batch = secrets.token_hex(8)
        lines = []
        for notice, line in chunk:
            if notice.clock is not None and notice.kind is not None:
                recorded = await uow.sla.record_alert(self._new_alert(notice.kind, notice.clock, now, batch))
                if recorded is None:
                    continue
            elif not await uow.sla.escalate(_required(notice.alert).id, notice.level, now):
                continue
            lines.append(line)
            _count(report, notice)
        if not lines:
            return
        header = self._t(MERGED_HEADER_TEXT, count=len(lines), part=part, parts=parts)
        has_alerts = any(notice.clock is not None for notice, _ in chunk)
        keyboard = (
            [[{"text": self._t(ACKNOWLEDGE_ALL_BUTTON), "callback_data": pack_sla_ack_batch(batch)}]]
            if has_alerts
            else None
        )
        message = OutboxMessage(
            chat_id=chat_id,
            method="sendMessage",
            params=_send_params("\n".join([header, *lines]), keyboard),
            created_at=now,
            dedup_key=f"sla-merged:{batch}",
        )
        if await uow.outbox.enqueue(message):
            report.messages += 1

    def _merge(self, notices: Sequence[_Notice], now: datetime) -> list[list[tuple[_Notice, str]]]:
        """Splits notices, worst first, into digest messages that each fit Telegram's length limit."""
        # Room for the header, whose numbers are only known once the chunk is recorded.
        room = MAX_MESSAGE_CHARS - len(self._t(MERGED_HEADER_TEXT, count=99999, part=999, parts=999)) - 1
        ordered = sorted(notices, key=_severity)
        chunks: list[list[tuple[_Notice, str]]] = []
        size = room + 1
        for notice in ordered:
            line = self._line(notice, now)
            if size + len(line) + 1 > room:
                chunks.append([])
                size = 0
            chunks[-1].append((notice, line))
            size += len(line) + 1
        return chunks

    def _line(self, notice: _Notice, now: datetime) -> str:
        """Writes one notice as a line of a merged digest."""
        if notice.clock is not None:
            due = notice.clock
            params = {
                "order": html.escape(due.order_ref),
                "stage": self._stage(due.stage),
                "due": self._time(due.due_at),
                "late": format_span(now - due.due_at),
            }
            return self._t(BREACH_LINE if notice.kind is AlertKind.BREACH else WARNING_LINE, **params)
        alert = _required(notice.alert)
        return self._t(
            ESCALATION_LINE,
            order=html.escape(alert.order_ref),
            stage=self._stage(alert.stage),
            late=format_span(now - alert.due_at),
        )

    def _new_alert(self, kind: AlertKind, due: DueClock, now: datetime, batch: str | None = None) -> NewAlert:
        """Describes the alert to record about a clock."""
        return NewAlert(
            order_id=due.order_id,
            clock_id=due.clock_id,
            stage=due.stage,
            kind=kind,
            department=department_of(self.sla, due.stage),
            created_at=now,
            batch=batch,
        )

    def _alert_text(self, kind: AlertKind, due: DueClock, now: datetime) -> str:
        """Writes the message of a warning or breach."""
        params = {
            "order": html.escape(due.order_ref),
            "stage": self._stage(due.stage),
            "department": self._department(department_of(self.sla, due.stage)),
            "due": self._time(due.due_at),
            "late": format_span(now - due.due_at),
            "left": format_span(due.due_at - now),
            "last": self._last_action(due),
        }
        return self._t(BREACH_TEXT if kind is AlertKind.BREACH else WARNING_TEXT, **params)

    def _escalation_text(self, alert: SlaAlert, level: EscalationLevel, now: datetime, mention: str) -> str:
        """Writes the message of an escalation."""
        msgid = (
            ESCALATION_HEAD_TEXT if level is EscalationLevel.ORDER_DESK_HEAD else ESCALATION_MANAGEMENT_TEXT
        )
        return self._t(
            msgid,
            # The mention joins the sentence with a space only when there is somebody to mention.
            mention=f" {mention}" if mention else "",
            order=html.escape(alert.order_ref),
            stage=self._stage(alert.stage),
            department=self._department(alert.department),
            late=format_span(now - alert.due_at),
        )

    def _last_action(self, due: DueClock) -> str:
        """Writes who acted last on the order, from its audit trail."""
        last = due.last_action
        if last is None:
            return self._t(NO_LAST_ACTION)
        label = html.escape(last.actor_name or str(last.actor_id))
        actor = f'<a href="tg://user?id={last.actor_id}">{label}</a>' if last.actor_id else "—"
        return self._t(
            LAST_ACTION_TEXT,
            action=html.escape(last.action.replace("_", " ")),
            actor=actor,
            role=html.escape(last.actor_role),
            at=self._time(last.at),
        )

    def _judge(
        self, clocks: Sequence[DueClock], now: datetime
    ) -> dict[Role, dict[ClockStatus, list[DueClock]]]:
        """Sorts clocks into overdue and at risk per department, worst first."""
        judged: dict[Role, dict[ClockStatus, list[DueClock]]] = {}
        for due in clocks:
            status = status_of(_stage_clock(due), now, policy=self.sla.policy, calendar=self.sla.calendar)
            if status not in (ClockStatus.BREACHED, ClockStatus.AT_RISK):
                continue
            department = department_of(self.sla, due.stage)
            judged.setdefault(department, {ClockStatus.BREACHED: [], ClockStatus.AT_RISK: []})[status].append(
                due
            )
        return judged

    def _digest_texts(
        self, slot: str, judged: Mapping[Role, Mapping[ClockStatus, list[DueClock]]], now: datetime
    ) -> list[str]:
        """Writes the progress digest, split into messages within Telegram's length limit."""
        overdue = sum(len(lists[ClockStatus.BREACHED]) for lists in judged.values())
        at_risk = sum(len(lists[ClockStatus.AT_RISK]) for lists in judged.values())
        blocks = [self._t(DIGEST_HEADER_TEXT, slot=slot.replace("T", " "), overdue=overdue, at_risk=at_risk)]
        if not judged:
            blocks.append(self._t(DIGEST_ALL_CLEAR_TEXT))
        for department in Role:
            if department not in judged:
                continue
            lists = judged[department]
            lines = [
                self._t(
                    DIGEST_DEPARTMENT_TEXT,
                    department=self._department(department),
                    overdue=len(lists[ClockStatus.BREACHED]),
                    at_risk=len(lists[ClockStatus.AT_RISK]),
                )
            ]
            for due in lists[ClockStatus.BREACHED][:DIGEST_ORDERS_PER_DEPARTMENT]:
                lines.append(
                    self._t(
                        DIGEST_OVERDUE_LINE,
                        order=html.escape(due.order_ref),
                        stage=self._stage(due.stage),
                        late=format_span(overdue_by(_stage_clock(due), now)),
                    )
                )
            for due in lists[ClockStatus.AT_RISK][:DIGEST_ORDERS_PER_DEPARTMENT]:
                lines.append(
                    self._t(
                        DIGEST_AT_RISK_LINE,
                        order=html.escape(due.order_ref),
                        stage=self._stage(due.stage),
                        left=format_span(due.due_at - (due.paused_at or now)),
                    )
                )
            blocks.append("\n".join(lines))
        return _pack_blocks(blocks)

    def _t(self, msgid: str, **params: Any) -> str:
        """Renders a msgid in the team chats' language."""
        return self.render(msgid, self.settings.locale, **params)

    def _stage(self, stage: str) -> str:
        """Names a stage in the team chats' language."""
        return self._t(STAGE_LABELS.get(stage, stage))

    def _department(self, department: Role) -> str:
        """Names a department in the team chats' language."""
        return self._t(DEPARTMENT_LABELS[department.value])

    def _time(self, moment: datetime) -> str:
        """Writes a moment in the business time zone."""
        return f"{moment.astimezone(self.sla.calendar.zone):%m-%d %H:%M}"


def _stage_clock(due: DueClock) -> StageClock:
    """Rebuilds the domain clock of a due clock, to judge it with the domain's rules."""
    return StageClock(due.stage, due.started_at, due.due_at, paused_at=due.paused_at)


def _severity(notice: _Notice) -> tuple[int, datetime]:
    """Orders notices worst first: escalations, breaches, warnings; the earliest due first."""
    if notice.clock is None:
        return (0, _required(notice.alert).due_at)
    return (1 if notice.kind is AlertKind.BREACH else 2, notice.clock.due_at)


def _count(report: SweepReport, notice: _Notice) -> None:
    """Counts a recorded notice in the report."""
    if notice.clock is None:
        report.escalations += 1
    elif notice.kind is AlertKind.BREACH:
        report.breaches += 1
    else:
        report.warnings += 1


def _required(alert: SlaAlert | None) -> SlaAlert:
    """Returns the alert of an escalation notice."""
    if alert is None:
        raise ValueError("an escalation notice needs its alert")
    return alert


def _send_params(text: str, keyboard: list[list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """Builds the sendMessage parameters (the outbox row carries the chat id)."""
    params: dict[str, Any] = {
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    if keyboard:
        params["reply_markup"] = {"inline_keyboard": keyboard}
    return params


def _pack_blocks(blocks: Sequence[str]) -> list[str]:
    """Joins blocks into as few messages as fit Telegram's length limit (a block never splits)."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        block = block[:MAX_MESSAGE_CHARS]
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) > MAX_MESSAGE_CHARS:
            messages.append(current)
            candidate = block
        current = candidate
    if current:
        messages.append(current)
    return messages


def _tracking_content(
    judged: Mapping[Role, Mapping[ClockStatus, list[DueClock]]], now: datetime
) -> dict[str, Any]:
    """Summarises a digest for the tracking log: counts per department and the worst orders."""
    departments: dict[str, Any] = {}
    for department, lists in judged.items():
        departments[department.value] = {
            "overdue": len(lists[ClockStatus.BREACHED]),
            "at_risk": len(lists[ClockStatus.AT_RISK]),
            "orders": [
                {
                    "order": due.order_ref,
                    "stage": due.stage,
                    "status": status.value,
                    "due_at": due.due_at.isoformat(),
                }
                for status in (ClockStatus.BREACHED, ClockStatus.AT_RISK)
                for due in lists[status][:TRACKING_LOG_ORDERS]
            ],
        }
    return {
        "at": now.isoformat(),
        "overdue": sum(item["overdue"] for item in departments.values()),
        "at_risk": sum(item["at_risk"] for item in departments.values()),
        "departments": departments,
    }
