"""The supervision report (R-8.1): its PDF read as text, its XLSX read back with openpyxl, the monthly job."""

from __future__ import annotations

import zipfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from application.reports import REPORT_DOCUMENT_ID, ReportSetup, compile_report, monthly_report
from bot.app import StoredDocuments
from domain.clock import FixedClock
from domain.kpi import Month
from presentation.fonts import cjk_font_file
from presentation.reports import PDF_KIND, XLSX_KIND, SupervisionDocuments
from scheduler.jobs import SUPERVISION_REPORT_JOB
from scheduler.outbox_sender import OutboxSender
from storage.models import OutboxRow, ReportDocumentRow
from tests.kpi.conftest import MANAGEMENT_CHAT, ZONE, Sessions, UowFactory, local, seed_march
from tests.mocked_bot import MockedBot
from tests.outbox.conftest import sender_on
from tests.sla.test_jobs import wired_job

MARCH = Month(2026, 3)


def pdf_text(content: bytes) -> str:
    """Extracts the text of every page, whitespace folded."""
    reader = PdfReader(BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def embedded_font_files(content: bytes) -> list[str]:
    """Names the fonts of the PDF whose program is embedded in it."""
    reader = PdfReader(BytesIO(content))
    embedded = []
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object().get("/FontDescriptor")
                if descriptor is not None and any(
                    key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
                ):
                    embedded.append(str(font["/BaseFont"]))
    return embedded


MarchFiles = Callable[[str], Awaitable[dict[str, bytes]]]


@pytest.fixture
async def march_files(
    new_uow: UowFactory, session_factory: Sessions, report_setup: ReportSetup, documents: SupervisionDocuments
) -> MarchFiles:
    """Seeds March; then compiles it and renders its files in a language, by kind."""
    await seed_march(new_uow, session_factory)

    async def files(locale: str) -> dict[str, bytes]:
        """March's report files in the language, by kind."""
        async with new_uow() as uow:
            report = await compile_report(uow, report_setup, MARCH)
        return {file.kind: file.document.content for file in documents.files(report, locale)}

    return files


async def test_the_pdf_says_the_figures_of_the_month_beside_last_month(march_files: MarchFiles) -> None:
    content = (await march_files("en"))[PDF_KIND]

    text = pdf_text(content)
    assert content.startswith(b"%PDF")
    for expected in (
        "Supervision report 2026-03",
        "Accuracy target ≥ 99.5 % 66.67 % 6 / 9 missed 100.00 % 1 / 1 met",
        "On-time target ≥ 98 % 62.50 % 5 / 8 missed",
        "Exception satisfaction target ≥ 90 % 66.67 % 2 / 3 missed",
        "Complaint rate target ≤ 1 % 50.00 % 2 / 4 missed",
        "Late offline entries (R-1.4) 1",
        "Progress checks held (R-5.1) 2",
        "Progress checks due 62",
        "warehouse Wang Wei 1",
        "order desk Olivia Desk 1",
        "held by customs (audit trail) 1",
        "wrong shipment 2 1",
        "stage clocks closed within their limit / stage clocks closed (paused time excluded)",
    ):
        assert expected in text, expected
    assert embedded_font_files(content) or cjk_font_file() is None


async def test_the_chinese_pdf_embeds_its_font_and_reads_in_chinese(march_files: MarchFiles) -> None:
    content = (await march_files("zh"))[PDF_KIND]

    text = pdf_text(content)
    for expected in ("监督报告 2026-03", "准确率", "66.67 %", "仓储部 Wang Wei 1", "流程合规", "未达标"):
        assert expected in text, expected
    if cjk_font_file() is not None:
        assert any("WenQuanYiMicroHei" in name for name in embedded_font_files(content))
    else:  # without a CJK TrueType font, reportlab's CID font (the viewer supplies the glyphs)
        assert b"STSong-Light" in content


async def test_the_xlsx_holds_the_figures_as_numbers_with_native_charts(march_files: MarchFiles) -> None:
    content = (await march_files("en"))[XLSX_KIND]

    workbook = openpyxl.load_workbook(BytesIO(content))
    assert workbook.sheetnames[:4] == ["KPIs", "By department", "Timeliness by step", "Process compliance"]
    kpis = workbook["KPIs"]
    rows = [[cell.value for cell in row] for row in kpis.iter_rows(min_row=4)]
    assert rows[0] == ["KPI", "Target", "2026-03", "Counts", "Verdict", "2026-02", "Counts", "Verdict"]
    assert rows[1] == ["Accuracy", "target ≥ 99.5 %", 66.67, "6 / 9", "missed", 100, "1 / 1", "met"]
    assert rows[4][:5] == ["Complaint rate", "target ≤ 1 %", 50, "2 / 4", "missed"]
    steps = [[cell.value for cell in row] for row in workbook["Timeliness by step"].iter_rows(min_row=5)]
    assert ["first review", "order desk", 4, 3, 1, 75] in steps
    assert ["overseas picking", "warehouse", 0, 0, 0, None] not in steps
    with zipfile.ZipFile(BytesIO(content)) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
    assert len(charts) == 3
    assert len(kpis._charts) == 1


async def test_the_monthly_job_queues_last_months_report_once_and_the_sender_uploads_it(
    new_uow: UowFactory, session_factory: Sessions, report_setup: ReportSetup, clock: FixedClock
) -> None:
    await seed_march(new_uow, session_factory)
    clock.current = local(4, 1, 9)  # the 1st at 09:00

    assert await monthly_report(new_uow, report_setup) is True
    assert await monthly_report(new_uow, report_setup) is False  # another instance, or a rerun

    async with session_factory() as session:
        rows = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all()
        stored = (await session.scalars(select(ReportDocumentRow).order_by(ReportDocumentRow.id))).all()
    assert [(row.chat_id, row.method) for row in rows] == [
        (MANAGEMENT_CHAT, "sendMessage"),
        (MANAGEMENT_CHAT, "sendDocument"),
        (MANAGEMENT_CHAT, "sendDocument"),
    ]
    assert "📑 <b>Supervision report 2026-03</b>" in rows[0].params["text"]
    assert "Accuracy: 66.67 % (last month 100.00 %)" in rows[0].params["text"]
    assert [row.params[REPORT_DOCUMENT_ID] for row in rows[1:]] == [document.id for document in stored]
    assert [(document.kind, document.period, document.language) for document in stored] == [
        (PDF_KIND, "2026-03", "en"),
        (XLSX_KIND, "2026-03", "en"),
    ]
    bot = MockedBot()
    sender = sender_on(
        session_factory, bot, clock, documents=StoredDocuments(new_uow), reports=StoredDocuments(new_uow)
    )
    await send_everything(sender, clock)
    uploads = [next(iter(request.files.values())) for request in bot.requests_for("sendDocument")]
    assert [upload.filename for upload in uploads] == [
        "supervision-report-2026-03-en.pdf",
        "supervision-report-2026-03-en.xlsx",
    ]
    contents = [getattr(upload, "data", b"") for upload in uploads]
    assert contents[0].startswith(b"%PDF") and contents[1].startswith(b"PK")
    bot.assert_no_violations()


async def send_everything(sender: OutboxSender, clock: FixedClock) -> None:
    """Runs the sender until nothing is pending, moving the clock past each chat's rate limit."""
    for _ in range(10):
        await sender.run_once()
        clock.advance(timedelta(seconds=5))


async def test_the_monthly_report_in_the_management_chats_language(
    new_uow: UowFactory, session_factory: Sessions, report_setup: ReportSetup, clock: FixedClock
) -> None:
    await seed_march(new_uow, session_factory)
    clock.current = local(4, 1, 9)
    chinese = ReportSetup(
        report_setup.kpi, report_setup.queries_of, report_setup.documents, report_setup.chat_of, locale="zh"
    )

    assert await monthly_report(new_uow, chinese) is True

    async with session_factory() as session:
        summary = (await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).first()
        languages = set((await session.scalars(select(ReportDocumentRow.language))).all())
    assert summary is not None and "📑 <b>监督报告 2026-03</b>" in summary.params["text"]
    assert languages == {"zh"}


async def test_without_a_management_chat_nothing_is_queued(
    new_uow: UowFactory, session_factory: Sessions, report_setup: ReportSetup
) -> None:
    async def no_chat(uow: Any, department: str) -> int | None:
        return None

    setup = ReportSetup(report_setup.kpi, report_setup.queries_of, report_setup.documents, no_chat)

    assert await monthly_report(new_uow, setup) is False
    async with session_factory() as session:
        assert (await session.scalars(select(OutboxRow))).all() == []


async def test_the_report_job_runs_on_the_first_at_nine() -> None:
    job = wired_job(SUPERVISION_REPORT_JOB, monthly_report=True)
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 3, 1, 9, 1, tzinfo=ZONE))
    assert fire == datetime(2026, 4, 1, 9, tzinfo=ZONE)
    assert (job.coalesce, job.max_instances) == (True, 1)
