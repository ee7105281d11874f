"""SLA sweeps over the database (issue 6): warnings, breach alerts, escalations, the twice-daily digest,
and the completion of cancelled orders (R-7.1).

Nothing here talks to Telegram: every message is an outbox row written in the transaction that
records its alerts, so an alert is recorded and sent together or not at all. Each alert is recorded
once per stage clock and kind (a unique key), so a sweep after downtime sends a missed breach once,
and so do two instances racing; on PostgreSQL only the instance holding the advisory lock sweeps,
and it holds the lock (in a unit of work of its own) for the whole tick.

One bad row cannot block the others ("if one fails we don't want all to fail"): every message is a
transaction of its own, and an alert that fails while it is prepared, recorded or written is logged
and left out, its message written again without it; every cancelled order is completed in its own
transaction too. The texts come from an AlertTexts (presentation/sla_alerts.py).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from application.notifier import ChatLanguageLookup
from application.ports import OutboxMessage, UnitOfWork
from application.services import SYSTEM, EventHandlers, commit_change
from application.sla_digest import post_digest
from application.sla_sweep_settings import AlertTexts, SweepReport, SweepSettings
from domain.clock import Clock
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, NewAlert, SlaAlert, chat_for
from domain.sla.clocks import (
    SlaContext,
    clock_warning_at,
    department_of,
    risk_thresholds,
)

logger = logging.getLogger(__name__)

# A closed cancellation is completed by the system: the one status change the sweep makes.
CANCELLED_COMPLETION = (OrderStatus.CANCELLED, Action.COMPLETE)
ESCALATES_TO: Mapping[EscalationLevel, Role] = {
    EscalationLevel.ORDER_DESK_HEAD: Role.ORDER_DESK_HEAD,
    EscalationLevel.MANAGEMENT: Role.MANAGEMENT,
}


@dataclass(eq=False)
class _Notice:
    """One thing to tell a chat: a new alert about a clock, or the escalation of an alert."""

    chat_id: int
    kind: AlertKind | None = None
    clock: DueClock | None = None
    alert: SlaAlert | None = None
    level: EscalationLevel = EscalationLevel.NONE
    department: Role = Role.ORDER_DESK
    # Its line in a merged message.
    line: str = ""

    @property
    def about(self) -> str:
        """Names the notice in the log: its kind and order."""
        if self.clock is not None:
            return f"{self.kind} of order {self.clock.order_ref} ({self.clock.stage})"
        alert = _required(self.alert)
        return f"escalation of alert {alert.id} (order {alert.order_ref})"


@dataclass
class _Tally:
    """What a written message counted, added to the report once its transaction commits."""

    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    messages: int = 0

    def count(self, notice: _Notice) -> None:
        """Counts a recorded notice."""
        if notice.clock is None:
            self.escalations += 1
        elif notice.kind is AlertKind.BREACH:
            self.breaches += 1
        else:
            self.warnings += 1

    def add_to(self, report: SweepReport) -> None:
        """Adds the counts to the sweep's report."""
        report.warnings += self.warnings
        report.breaches += self.breaches
        report.escalations += self.escalations
        report.messages += self.messages


class _NoticeFailed(Exception):
    """Preparing or recording one notice failed; its message is written again without it."""

    def __init__(self, notice: _Notice) -> None:
        super().__init__(notice.about)
        self.notice = notice


class _BatchFailed(Exception):
    """Recording a digest's alerts in one statement failed; they are recorded one by one instead."""


@dataclass
class SlaSweeper:
    """Runs the SLA sweeps and the progress digest against the database through units of work.

    team_chats (department value -> chat id) is read at every sweep, so a mapping updated in place
    is followed. handlers receive the events of the orders the sweep completes.
    """

    uow_factory: Callable[[], UnitOfWork]
    clock: Clock
    sla: SlaContext
    team_chats: Mapping[str, int]
    texts: AlertTexts
    settings: SweepSettings = field(default_factory=SweepSettings)
    handlers: EventHandlers = field(default_factory=dict)
    # Each team chat's language (/lang in the group, issue 18) and the texts of a language; without
    # them every chat reads `texts`.
    chat_language: ChatLanguageLookup | None = None
    texts_in: Callable[[str], AlertTexts] | None = None
    # Runs after each sweep: customer messages past their 3-minute answer time (issue 18).
    after_sweep: Callable[[], Awaitable[int]] | None = None

    async def sweep(self) -> SweepReport:
        """Completes cancelled orders, sends due warnings and breaches, escalates unacknowledged breaches."""
        now = self.clock.now()
        report = SweepReport()
        async with self.uow_factory() as lock:
            if not await lock.sla.try_lock_sweep():
                logger.debug("Another instance is sweeping the SLA clocks")
                return SweepReport(locked=False)
            await self.complete_cancelled(now, report)
            chats, mentioned = await self._find(now, report)
            await self._tell_chats(chats, now, mentioned, report)
            if self.after_sweep is not None:
                try:
                    report.messages += await self.after_sweep()
                except Exception:
                    logger.exception("SLA sweep: the reminders of unanswered customers failed")
                    report.failed += 1
        if report.messages or report.completed or report.failed:
            logger.info(
                "SLA sweep: %d breaches, %d warnings, %d escalations in %d messages (%d deferred), "
                "%d cancelled orders completed, %d failed",
                report.breaches,
                report.warnings,
                report.escalations,
                report.messages,
                report.deferred,
                report.completed,
                report.failed,
            )
        return report

    async def _tell_chats(
        self,
        chats: Mapping[int, Sequence[_Notice]],
        now: datetime,
        mentioned: Mapping[EscalationLevel, Sequence[int]],
        report: SweepReport,
    ) -> None:
        """Tells every chat its notices, up to parallel_chats chats at once; one chat's messages in order."""

        async def tell(chat_id: int, notices: Sequence[_Notice]) -> None:
            try:
                teller = await self._in_language_of(chat_id)
                await teller._tell(chat_id, teller._lined(notices, now, report), now, mentioned, report)
            except Exception:
                # A chat whose language cannot be read waits for the next sweep; the others go on.
                logger.exception("SLA sweep: no message to chat %s; the next sweep retries", chat_id)
                report.failed += 1

        if self.settings.parallel_chats <= 1:
            for chat_id, notices in chats.items():
                await tell(chat_id, notices)
            return
        gate = asyncio.Semaphore(self.settings.parallel_chats)

        async def tell_in_turn(chat_id: int, notices: Sequence[_Notice]) -> None:
            async with gate:
                await tell(chat_id, notices)

        await asyncio.gather(*(tell_in_turn(chat_id, notices) for chat_id, notices in chats.items()))

    async def complete_cancelled(self, now: datetime, report: SweepReport) -> None:
        """Completes closed cancellations as the system (R-7.1), which closes their completion clocks."""
        status, action = CANCELLED_COMPLETION
        async with self.uow_factory() as uow:
            cancelled = await uow.orders.list_by_status([status], self.settings.completions)
        order_ids = [order.id for order in cancelled]
        note = "cancellation closed (R-7.1)"
        for order_id in order_ids:
            try:
                async with self.uow_factory() as uow:
                    order = await uow.orders.get(order_id)
                    if order.status is not status:
                        continue
                    order.apply(action, actor_id=None, roles=SYSTEM, now=now, note=note)
                    await commit_change(order, uow, now, self.handlers, self.sla)
            except Exception:
                logger.exception("SLA sweep: could not complete the cancelled order %s", order_id)
                report.failed += 1
                continue
            report.completed += 1

    async def digest(self) -> bool:
        """Posts the progress check (R-5.1) to the order desk and logs it; False if this slot's was done."""
        desk = chat_for(Role.ORDER_DESK, self.team_chats)
        teller = await self._in_language_of(desk) if desk is not None else self
        return await post_digest(
            self.uow_factory(),
            now=self.clock.now(),
            sla=self.sla,
            team_chats=self.team_chats,
            texts=teller.texts,
        )

    async def _in_language_of(self, chat_id: int) -> SlaSweeper:
        """This sweeper writing in the chat's own language, if it chose one (issue 18)."""
        if self.chat_language is None or self.texts_in is None:
            return self
        async with self.uow_factory() as uow:
            language = await self.chat_language(uow, chat_id)
        return self if language is None else replace(self, texts=self.texts_in(language))

    def _lined(self, notices: Sequence[_Notice], now: datetime, report: SweepReport) -> list[_Notice]:
        """The notices with their lines written in this sweeper's language; one that fails is left out."""
        lined = []
        for notice in notices:
            try:
                if notice.clock is not None and notice.kind is not None:
                    notice.line = self.texts.alert_line(notice.kind, notice.clock, now)
                else:
                    notice.line = self.texts.escalation_line(_required(notice.alert), now)
            except Exception:
                logger.exception("SLA sweep: left out the %s: its line could not be written", notice.about)
                report.failed += 1
                continue
            lined.append(notice)
        return lined

    async def _find(
        self, now: datetime, report: SweepReport
    ) -> tuple[dict[int, list[_Notice]], dict[EscalationLevel, list[int]]]:
        """Reads the due clocks and the alerts to escalate, as notices per chat, in a short transaction."""
        chats: defaultdict[int, list[_Notice]] = defaultdict(list)
        limit = self.settings.batch_limit
        older_than = now - self.settings.escalate_after
        async with self.uow_factory() as uow:
            breaches = await uow.sla.due_for_breach(now, limit)
            warnings = await uow.sla.due_for_warning(risk_thresholds(self.sla, now), now, limit)
            escalations = {
                level: await uow.sla.unacknowledged(level - 1, older_than, limit) for level in ESCALATES_TO
            }
            staff = await uow.staff.list_all() if any(escalations.values()) else {}
        for kind, found in ((AlertKind.BREACH, breaches), (AlertKind.WARNING, warnings)):
            for due in found:
                self._isolated(chats, report, self._alert_notice, kind, due, now)
        for level, alerts in escalations.items():
            chat_id = chat_for(ESCALATES_TO[level], self.team_chats)
            if chat_id is None:
                continue
            chats[chat_id] += [_Notice(chat_id, alert=alert, level=level) for alert in alerts]
        mentioned = {
            level: sorted(user_id for user_id, roles in staff.items() if role in roles)
            for level, role in ESCALATES_TO.items()
        }
        return dict(chats), mentioned

    def _isolated(
        self,
        chats: defaultdict[int, list[_Notice]],
        report: SweepReport,
        prepare: Callable[..., _Notice | None],
        *args: Any,
    ) -> None:
        """Prepares one notice for its chat; one that fails is logged and left out."""
        try:
            notice = prepare(*args)
        except Exception:
            logger.exception("SLA sweep: left out a notice that could not be prepared")
            report.failed += 1
            return
        if notice is not None:
            chats[notice.chat_id].append(notice)

    def _alert_notice(self, kind: AlertKind, due: DueClock, now: datetime) -> _Notice | None:
        """Prepares a new alert for the chat of the stage's department (a warning only once it is due)."""
        if kind is AlertKind.WARNING:
            warning = clock_warning_at(due.stage_clock(), policy=self.sla.policy, calendar=self.sla.calendar)
            if warning > now:
                return None
        department = department_of(self.sla, due.stage)
        chat_id = chat_for(department, self.team_chats)
        if chat_id is None:
            logger.warning("No team chat for the %s alert of order %s", kind, due.order_ref)
            return None
        # Its line is written once the chat's language is known (_lined).
        return _Notice(chat_id, kind=kind, clock=due, department=department)

    async def _tell(
        self,
        chat_id: int,
        notices: Sequence[_Notice],
        now: datetime,
        mentioned: Mapping[EscalationLevel, Sequence[int]],
        report: SweepReport,
    ) -> None:
        """Records and sends a chat's notices: one message each, or merged when there are many."""
        budget = self.settings.messages_per_sweep
        if len(notices) <= min(self.settings.merge_above, budget):
            for notice in notices:
                await self._write(chat_id, [notice], now, report, mentioned=mentioned)
            return
        chunks = self._merge(notices)
        parts = min(len(chunks), budget)
        for part, chunk in enumerate(chunks[:budget], start=1):
            await self._write(chat_id, chunk, now, report, part=(part, parts))
        report.deferred += sum(len(chunk) for chunk in chunks[budget:])

    def _merge(self, notices: Sequence[_Notice]) -> list[list[_Notice]]:
        """Splits notices, worst first, into digest messages that each fit Telegram's length limit."""
        room = self.texts.merged_room()
        chunks: list[list[_Notice]] = []
        size = room + 1
        for notice in sorted(notices, key=_severity):
            if size + len(notice.line) + 1 > room:
                chunks.append([])
                size = 0
            chunks[-1].append(notice)
            size += len(notice.line) + 1
        return chunks

    async def _write(
        self,
        chat_id: int,
        notices: Sequence[_Notice],
        now: datetime,
        report: SweepReport,
        *,
        mentioned: Mapping[EscalationLevel, Sequence[int]] | None = None,
        part: tuple[int, int] | None = None,
    ) -> None:
        """Writes a message and its alerts in one transaction; leaves out a failing notice and retries."""
        pending = list(notices)
        batched = True
        while pending:
            tally = _Tally()
            try:
                async with self.uow_factory() as uow:
                    if part is None:
                        await self._send_single(uow, pending[0], now, mentioned or {}, tally)
                    else:
                        await self._send_merged(uow, chat_id, pending, now, part, tally, batched=batched)
                    await uow.commit()
            except _BatchFailed:
                logger.exception(
                    "SLA sweep: the alerts of a digest to chat %s are recorded one by one", chat_id
                )
                batched = False
                continue
            except _NoticeFailed as failed:
                logger.exception("SLA sweep: left out the %s", failed.notice.about)
                report.failed += 1
                pending = [notice for notice in pending if notice is not failed.notice]
                continue
            except Exception:
                logger.exception(
                    "SLA sweep: no message to chat %s this time; the next sweep retries", chat_id
                )
                report.failed += 1
                return
            tally.add_to(report)
            return

    async def _send_single(
        self,
        uow: UnitOfWork,
        notice: _Notice,
        now: datetime,
        mentioned: Mapping[EscalationLevel, Sequence[int]],
        tally: _Tally,
    ) -> None:
        """Records one alert or escalation and queues its message with its buttons."""
        try:
            if notice.clock is not None and notice.kind is not None:
                due = notice.clock
                alert_id = await uow.sla.record_alert(self._new_alert(notice, now))
                if alert_id is None:
                    return
                message = self.texts.alert(notice.kind, due, notice.department, alert_id, now)
                order_id, dedup_key = due.order_id, f"sla:{due.order_id}:{due.clock_id}:{notice.kind}"
            else:
                alert = _required(notice.alert)
                if not await uow.sla.escalate(alert.id, notice.level, now):
                    return
                message = self.texts.escalation(alert, notice.level, mentioned.get(notice.level, ()), now)
                order_id, dedup_key = alert.order_id, f"sla-escalation:{alert.id}:{int(notice.level)}"
        except Exception as error:
            raise _NoticeFailed(notice) from error
        queued = OutboxMessage(
            notice.chat_id, message.method, message.params, now, order_id=order_id, dedup_key=dedup_key
        )
        if await uow.outbox.enqueue(queued):
            tally.messages += 1
        tally.count(notice)

    async def _send_merged(
        self,
        uow: UnitOfWork,
        chat_id: int,
        chunk: Sequence[_Notice],
        now: datetime,
        part: tuple[int, int],
        tally: _Tally,
        *,
        batched: bool = True,
    ) -> None:
        """Records the notices of one digest message as one batch and queues the message."""
        has_alerts = any(notice.clock is not None for notice in chunk)
        batch = secrets.token_hex(8)
        lines = []
        # The chunk's alerts in one statement (issue 17); one that fails is then found one by one.
        alerted: dict[int, bool] = {}
        if batched:
            prepared = [
                (notice, self._prepared_alert(notice, now, batch))
                for notice in chunk
                if notice.clock is not None
            ]
            try:
                ids = await uow.sla.record_alerts([alert for _, alert in prepared])
            except Exception as error:
                raise _BatchFailed from error
            alerted = {
                id(notice): alert_id is not None for (notice, _), alert_id in zip(prepared, ids, strict=True)
            }
        for notice in chunk:
            try:
                if notice.clock is not None and batched:
                    recorded = alerted[id(notice)]
                elif notice.clock is not None:
                    recorded = await uow.sla.record_alert(self._new_alert(notice, now, batch)) is not None
                else:
                    recorded = await uow.sla.escalate(_required(notice.alert).id, notice.level, now)
            except Exception as error:
                raise _NoticeFailed(notice) from error
            if recorded:
                lines.append(notice.line)
                tally.count(notice)
        if not lines:
            return
        message = self.texts.merged(lines, *part, batch if has_alerts else None)
        queued = OutboxMessage(chat_id, message.method, message.params, now, dedup_key=f"sla-merged:{batch}")
        if await uow.outbox.enqueue(queued):
            tally.messages += 1

    def _prepared_alert(self, notice: _Notice, now: datetime, batch: str) -> NewAlert:
        """Describes a notice's alert; a notice that cannot be described is left out."""
        try:
            return self._new_alert(notice, now, batch)
        except Exception as error:
            raise _NoticeFailed(notice) from error

    def _new_alert(self, notice: _Notice, now: datetime, batch: str | None = None) -> NewAlert:
        """Describes the alert to record about a clock."""
        due, kind = _required_clock(notice)
        return NewAlert(
            order_id=due.order_id,
            clock_id=due.clock_id,
            stage=due.stage,
            kind=kind,
            department=notice.department,
            created_at=now,
            batch=batch,
        )


def _severity(notice: _Notice) -> tuple[int, datetime]:
    """Orders notices worst first: escalations, breaches, warnings; the earliest due first."""
    if notice.clock is None:
        return (0, _required(notice.alert).due_at)
    return (1 if notice.kind is AlertKind.BREACH else 2, notice.clock.due_at)


def _required(alert: SlaAlert | None) -> SlaAlert:
    """Returns the alert of an escalation notice."""
    if alert is None:
        raise ValueError("an escalation notice needs its alert")
    return alert


def _required_clock(notice: _Notice) -> tuple[DueClock, AlertKind]:
    """Returns the clock and kind of an alert notice."""
    if notice.clock is None or notice.kind is None:
        raise ValueError("an alert notice needs its clock and kind")
    return notice.clock, notice.kind
