"""The monthly exception report (R-6.5) and the improvement actions the order desk records against causes.

The report of a month is compiled from the case records, rendered (a message, a chart and an XLSX),
stored and queued as outbox rows in one transaction; the outbox sender uploads the stored files.
The scheduled report is a sweep: from the 1st at 09:00 company time, the first sweep that finds
last month's report not yet queued for the management chat queues it and records it as queued
in the same transaction, so a restart catches a missed run up and several instances queue it once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from application.ports import Document, UnitOfWork
from application.reports import RendersReport, queue_report
from domain.clock import Clock
from domain.errors import DomainError
from domain.exception_report import (
    CaseFact,
    Cause,
    ExceptionFacts,
    ExceptionReport,
    ImprovementAction,
    PayoutFact,
    check_action,
    exception_report,
    report_due,
)
from domain.kpi import Month
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Role

logger = logging.getLogger(__name__)

# The local hour of the 1st from which last month's report is due in the management chat.
REPORT_HOUR = 9
# The dedup key prefix of the scheduled report's outbox rows (one report per month and chat).
DEDUP_PREFIX = "exception-report"


class ExceptionReportQueries(Protocol):
    """The facts of a period, the improvement actions, the stored files and the record of reports queued."""

    async def cases(self, start: datetime, end: datetime) -> list[CaseFact]: ...

    async def payouts(self, start: datetime, end: datetime) -> list[PayoutFact]: ...

    async def actions(self, start: datetime, end: datetime) -> list[ImprovementAction]: ...

    async def record_action(
        self, cause: Cause, action: str, by: int, by_name: str | None, at: datetime
    ) -> ImprovementAction: ...

    async def save_report(
        self, kind: str, period: str, language: str, document: Document, at: datetime
    ) -> int: ...

    async def report_queued(self, period: str) -> bool: ...

    async def mark_queued(self, period: str, chat_id: int, language: str, at: datetime) -> bool: ...


# Renders the report in a language: the message and the files.
ExceptionReportDocuments = RendersReport[ExceptionReport]


ChatOf = Callable[[UnitOfWork, str], Awaitable[int | None]]
ChatLanguageOf = Callable[[UnitOfWork, int], Awaitable[str | None]]


async def _no_language(uow: UnitOfWork, chat_id: int) -> str | None:
    """No chat has a language of its own: every report reads the default."""
    return None


@dataclass(frozen=True)
class ExceptionReportSetup:
    """What the report and the improvement actions need."""

    clock: Clock
    zone: ZoneInfo
    queries_of: Callable[[UnitOfWork], ExceptionReportQueries]
    documents: ExceptionReportDocuments
    chat_of: ChatOf
    # Each type's causes in button order (domain/data/exception_causes.toml).
    causes: Mapping[str, Sequence[str]]
    chat_language: ChatLanguageOf = _no_language
    locale: str = "en"
    hour: int = REPORT_HOUR


class UnknownCauseError(DomainError):
    """The cause named is not on any type's cause list."""


async def compile_exception_report(
    uow: UnitOfWork, setup: ExceptionReportSetup, month: Month
) -> ExceptionReport:
    """Reads the month's cases, payouts and actions (and last month's actions) into the report."""
    queries = setup.queries_of(uow)
    start, end = month.bounds(setup.zone)
    previous_start, _ = month.previous().bounds(setup.zone)
    facts = ExceptionFacts(
        cases=await queries.cases(start, end),
        payouts=await queries.payouts(start, end),
        actions=await queries.actions(start, end),
        previous_actions=await queries.actions(previous_start, start),
    )
    return exception_report(month, facts, zone=setup.zone, now=setup.clock.now())


async def send_exception_report(
    uow: UnitOfWork,
    setup: ExceptionReportSetup,
    month: Month,
    chat_id: int,
    locale: str,
    *,
    dedup: str | None = None,
) -> ExceptionReport | None:
    """Compiles, renders, stores and queues the month's report for a chat; None if queued before (dedup)."""
    report = await compile_exception_report(uow, setup, month)
    return await queue_report(
        uow, setup.queries_of(uow).save_report, setup.documents, report, chat_id, locale, dedup
    )


async def exception_report_sweep(uow_factory: Callable[[], UnitOfWork], setup: ExceptionReportSetup) -> bool:
    """Queues last month's report to the management chat once it is due and not queued yet; True if it did."""
    month = report_due(setup.clock.now(), setup.zone, setup.hour)
    if month is None:
        return False
    async with uow_factory() as uow:
        queries = setup.queries_of(uow)
        if await queries.report_queued(str(month)):
            return False
        chat_id = await setup.chat_of(uow, Role.MANAGEMENT.value)
        if chat_id is None:
            return False
        language = await setup.chat_language(uow, chat_id) or setup.locale
        # Recorded first: an instance that loses the race stops here and rolls back.
        if not await queries.mark_queued(str(month), chat_id, language, setup.clock.now()):
            return False
        dedup = f"{DEDUP_PREFIX}:{month}:{chat_id}"
        if await send_exception_report(uow, setup, month, chat_id, language, dedup=dedup) is None:
            return False
        await uow.commit()
    logger.info("Exception report of %s queued for the management chat", month)
    return True


def find_causes(causes: Mapping[str, Sequence[str]], text: str) -> list[Cause]:
    """The causes a word names: `type/cause` (or `type.cause`), else every type's cause of that name."""
    word = text.strip().lower()
    for separator in ("/", "."):
        kind, found, name = word.partition(separator)
        if found:
            return [Cause(kind, name)] if name in causes.get(kind, ()) else []
    return [Cause(kind, word) for kind, names in causes.items() if word in names]


async def record_improvement(
    uow: UnitOfWork,
    setup: ExceptionReportSetup,
    roles: frozenset[Role],
    cause: Cause,
    action: str,
    *,
    by: int,
    by_name: str | None,
) -> ImprovementAction:
    """Records an improvement action against a cause (the order desk and its head); the caller commits."""
    require(roles, Duty.RECORD_IMPROVEMENT)
    if cause.name not in setup.causes.get(cause.type, ()):
        raise UnknownCauseError(f"{cause.type}/{cause.name} is not on the cause list")
    text = check_action(action)
    return await setup.queries_of(uow).record_action(cause, text, by, by_name, setup.clock.now())
