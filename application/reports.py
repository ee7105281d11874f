"""The monthly supervision report (R-8.1) and the R-5.1 record of progress checks and chases.

The report is compiled from the database, rendered (a summary message, a PDF and an XLSX), stored
as report documents and queued as outbox rows in one transaction; the outbox sender uploads the
stored documents. The scheduled report of a month is queued once (dedup keys), however many
instances run the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from application.kpi import KpiQueries, KpiSetup, kpi_inputs
from application.ports import Document, OutboxMessage, UnitOfWork
from domain.kpi import Month, day_bounds, department_lookup, kpi_card
from domain.kpi_report import (
    CHECK_HOURS,
    AlertTally,
    Chase,
    ExceptionCaseTally,
    ExceptionMark,
    LateClosure,
    OverdueTally,
    ProgressCheck,
    SupervisionFacts,
    SupervisionReport,
    SurveyTally,
    checks_due,
    supervision_report,
)
from domain.orders.status import Role

logger = logging.getLogger(__name__)

# An outbox row names a stored report document by id under this key; the sender uploads its bytes.
REPORT_DOCUMENT_ID = "report_document_id"
# Chases listed for one day at most (/checks); the counts cover all of them.
CHASES_PER_DAY = 500
# Late closures read per month at most: one row per step and person, so far fewer in practice.
LATE_ROWS = 5000


@dataclass(frozen=True)
class StoredReport:
    """A stored report document, as the outbox sender uploads it."""

    id: int
    kind: str
    period: str
    language: str
    filename: str
    content: bytes
    created_at: datetime


class SupervisionQueries(KpiQueries, Protocol):
    """The KPI queries and the supervision facts of a period, and the report documents store."""

    async def late_closures(self, start: datetime, end: datetime, limit: int) -> list[LateClosure]: ...

    async def overdue_open(self, start: datetime, end: datetime, now: datetime) -> list[OverdueTally]: ...

    async def alert_tallies(self, start: datetime, end: datetime) -> list[AlertTally]: ...

    async def progress_checks(self, first: date, last: date) -> list[ProgressCheck]: ...

    async def chases(self, start: datetime, end: datetime, limit: int) -> list[Chase]: ...

    async def survey_tally(self, start: datetime, end: datetime) -> SurveyTally: ...

    async def exception_cases(self, start: datetime, end: datetime) -> list[ExceptionCaseTally]: ...

    async def exceptions_marked(self, start: datetime, end: datetime) -> list[ExceptionMark]: ...

    async def save_report(
        self, kind: str, period: str, language: str, document: Document, at: datetime
    ) -> int: ...

    async def get_report(self, report_id: int) -> StoredReport | None: ...


@dataclass(frozen=True)
class ReportFile:
    """One rendered report file, the kind it is stored as, and whether it goes as a photo (a chart)."""

    kind: str
    document: Document
    caption: str = ""
    photo: bool = False


# Stores a rendered report file (kind, period, language, document, at) and returns its id.
SaveReport = Callable[[str, str, str, Document, datetime], Awaitable[int]]
ReportT = TypeVar("ReportT", contravariant=True)


class RendersReport(Protocol[ReportT]):
    """Renders a compiled monthly report in a language: the summary message and the files."""

    def summary(self, report: ReportT, locale: str) -> str: ...

    def files(self, report: ReportT, locale: str) -> Sequence[ReportFile]: ...


class MonthlyReport(Protocol):
    """A compiled monthly report: the month it covers and when it was compiled."""

    @property
    def month(self) -> Month: ...

    @property
    def generated_at(self) -> datetime: ...


CompiledT = TypeVar("CompiledT", bound=MonthlyReport)
# Renders the supervision report in a language: the summary message and the files.
ReportDocuments = RendersReport[SupervisionReport]


ChatOf = Callable[[UnitOfWork, str], Awaitable[int | None]]


@dataclass(frozen=True)
class ReportSetup:
    """What the report use cases need: the KPI setup, the renderer, the management chat and its language."""

    kpi: KpiSetup
    queries_of: Callable[[UnitOfWork], SupervisionQueries]
    documents: ReportDocuments
    chat_of: ChatOf
    locale: str = "en"
    check_hours: tuple[int, ...] = CHECK_HOURS


async def compile_report(uow: UnitOfWork, setup: ReportSetup, month: Month) -> SupervisionReport:
    """Reads a month's facts and KPIs, and last month's KPIs, into the supervision report."""
    queries = setup.queries_of(uow)
    kpi = setup.kpi
    zone = kpi.sla.calendar.zone
    now = kpi.clock.now()
    start, end = month.bounds(zone)
    days = month.days()
    facts = SupervisionFacts(
        late=await queries.late_closures(start, end, LATE_ROWS),
        overdue=await queries.overdue_open(start, end, now),
        alerts=await queries.alert_tallies(start, end),
        checks=await queries.progress_checks(days[0], days[-1]),
        survey=await queries.survey_tally(start, end),
        exception_cases=await queries.exception_cases(start, end),
        exceptions_marked=await queries.exceptions_marked(start, end),
    )
    department_of = department_lookup(kpi.sla.policy)
    card = kpi_card(month, await kpi_inputs(queries, month, kpi), department_of)
    previous = kpi_card(month.previous(), await kpi_inputs(queries, month.previous(), kpi), department_of)
    return supervision_report(
        card=card,
        previous=previous,
        facts=facts,
        department_of=department_of,
        now=now,
        zone=zone,
        hours=setup.check_hours,
    )


async def send_report(
    uow: UnitOfWork,
    setup: ReportSetup,
    month: Month,
    chat_id: int,
    locale: str,
    *,
    dedup: str | None = None,
) -> SupervisionReport | None:
    """Compiles, renders, stores and queues the month's report for a chat; None if queued before (dedup)."""
    report = await compile_report(uow, setup, month)
    return await queue_report(
        uow, setup.queries_of(uow).save_report, setup.documents, report, chat_id, locale, dedup
    )


async def monthly_report(uow_factory: Callable[[], UnitOfWork], setup: ReportSetup) -> bool:
    """Queues last month's report to the management chat (the 1st at 09:00); False if done or no chat."""
    now = setup.kpi.clock.now()
    month = Month.of(now, setup.kpi.sla.calendar.zone).previous()
    async with uow_factory() as uow:
        chat_id = await setup.chat_of(uow, Role.MANAGEMENT.value)
        if chat_id is None:
            logger.warning("No management chat: the supervision report of %s is not sent", month)
            return False
        report = await send_report(
            uow, setup, month, chat_id, setup.locale, dedup=f"supervision-report:{month}:{chat_id}"
        )
        if report is None:
            return False
        await uow.commit()
    logger.info("Supervision report of %s queued for the management chat", month)
    return True


@dataclass(frozen=True)
class DayChecks:
    """The R-5.1 record of one day: the progress checks held and due, and every chase."""

    day: date
    checks: Sequence[ProgressCheck]
    due: Sequence[str]
    chases: Sequence[Chase]
    more_chases: bool


async def day_checks(uow: UnitOfWork, setup: ReportSetup, day: date) -> DayChecks:
    """Reads a day's progress checks (09:00, 15:00) and chases: alerts, escalations, acknowledgements."""
    queries = setup.queries_of(uow)
    zone = setup.kpi.sla.calendar.zone
    start, end = day_bounds(day, zone)
    chases = await queries.chases(start, end, CHASES_PER_DAY + 1)
    return DayChecks(
        day=day,
        checks=await queries.progress_checks(day, day),
        due=checks_due([day], setup.kpi.clock.now(), zone, setup.check_hours),
        chases=chases[:CHASES_PER_DAY],
        more_chases=len(chases) > CHASES_PER_DAY,
    )


async def queue_report(
    uow: UnitOfWork,
    save_report: SaveReport,
    documents: RendersReport[CompiledT],
    report: CompiledT,
    chat_id: int,
    locale: str,
    dedup: str | None,
) -> CompiledT | None:
    """Renders a report, queues its summary, then stores and queues its files; None if queued before."""
    month, now = report.month, report.generated_at
    # Drawing charts and writing PDFs and workbooks takes a while: not on the event loop.
    summary = await asyncio.to_thread(documents.summary, report, locale)
    files = await asyncio.to_thread(documents.files, report, locale)
    first = _message(chat_id, "sendMessage", _text(summary), now, _key(dedup, "summary"))
    if not await uow.outbox.enqueue(first):
        return None
    for file in files:
        report_id = await save_report(file.kind, str(month), locale, file.document, now)
        params: dict[str, Any] = {REPORT_DOCUMENT_ID: report_id}
        if file.caption:
            params |= {"caption": file.caption, "parse_mode": "HTML"}
        method = "sendPhoto" if file.photo else "sendDocument"
        await uow.outbox.enqueue(_message(chat_id, method, params, now, _key(dedup, file.kind)))
    return report


def _key(dedup: str | None, part: str) -> str | None:
    """The dedup key of one message of a report, if the report has one."""
    return f"{dedup}:{part}" if dedup is not None else None


def _text(text: str) -> dict[str, Any]:
    """sendMessage parameters of an HTML text."""
    return {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}


def _message(
    chat_id: int, method: str, params: dict[str, Any], now: datetime, dedup_key: str | None
) -> OutboxMessage:
    """An outbox row for the chat."""
    return OutboxMessage(chat_id=chat_id, method=method, params=params, created_at=now, dedup_key=dedup_key)
