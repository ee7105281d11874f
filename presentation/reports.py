"""The monthly supervision report (R-8.1) as a summary message, a PDF (CJK font embedded) and an XLSX.

Both files are drawn from one list of tables (`report_tables`), so they always say the same: the KPI
table beside last month's, compliance and timeliness by department, step and person, SLA alerts,
satisfaction, exceptions, and the formula of every KPI. The XLSX carries native Excel charts
(XlsxWriter); the PDF embeds a subset of the CJK TrueType font when one is installed
(presentation/fonts.py) and falls back to reportlab's STSong-Light CID font otherwise.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from io import BytesIO
from typing import Literal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from application.ports import Document
from application.reports import ReportFile
from domain.kpi import DEPARTMENT_KPIS, DepartmentOf, Kpi, KpiFigure, Ratio, Verdict
from domain.kpi_report import DepartmentCompliance, SupervisionReport
from domain.orders.status import Action, ExceptionType, Role
from domain.sla.alerts import AlertKind
from presentation.fonts import cjk_font_file
from presentation.kpi import (
    KPI_FORMULAS,
    KPI_NAMES,
    count,
    department_name,
    percent,
    stage_name,
    target_text,
)
from presentation.labels import N_
from presentation.render import Translate, translator

PDF_KIND = "supervision_pdf"
XLSX_KIND = "supervision_xlsx"
EMBEDDED_FONT = "OrderDeskCJK"
MARGIN = 12 * mm
# The width of a landscape A4 page inside its margins.
PAGE_WIDTH = landscape(A4)[0] - 2 * MARGIN
FALLBACK_FONT = "STSong-Light"

REPORT_TITLE = N_("Supervision report {month}")
GENERATED_AT = N_("Generated {at} ({zone}); figures of {month} beside {previous}.")
SUMMARY_HEADER = N_("📑 <b>Supervision report {month}</b>")
SUMMARY_KPI = N_("{name}: {value} (last month {previous}) · {target} · {verdict}")
SUMMARY_COMPLIANCE = N_(
    "Late entries: {entries} · steps closed late: {late} · still overdue: {overdue} · "
    "breach alerts: {breaches}, unacknowledged: {unacknowledged}"
)
SUMMARY_CHECKS = N_("Progress checks held: {held} of {due}")
SUMMARY_SATISFACTION = N_(
    "Surveys answered: {answers}, average rating {rating} · exceptions opened: {exceptions}"
)
SUMMARY_FILES = N_("The PDF and the XLSX follow.")
PDF_CAPTION = N_("Supervision report {month} (PDF)")
XLSX_CAPTION = N_("Supervision report {month} (XLSX, with charts)")

VERDICT_WORDS: Mapping[Verdict, str] = {
    Verdict.MET: N_("met"),
    Verdict.MISSED: N_("missed"),
    Verdict.NO_DATA: N_("no data"),
}
EXCEPTION_LABELS: Mapping[str, str] = {
    ExceptionType.CUSTOMER_CANCELLATION.value: N_("cancellation by the customer"),
    ExceptionType.COMPANY_CANCELLATION.value: N_("cancellation by the company"),
    ExceptionType.MODIFICATION.value: N_("modification"),
    ExceptionType.DELAY.value: N_("delay"),
    ExceptionType.DAMAGED.value: N_("damaged goods"),
    ExceptionType.WRONG_SHIPMENT.value: N_("wrong shipment"),
    ExceptionType.LOST.value: N_("lost goods"),
    ExceptionType.CUSTOMS_HOLD.value: N_("customs hold"),
}
MARK_LABELS: Mapping[str, str] = {
    Action.HOLD_AT_CUSTOMS.value: N_("held by customs (audit trail)"),
    Action.RAISE_EXCEPTION.value: N_("exception marked (audit trail)"),
}
ALERT_LABELS: Mapping[str, str] = {
    AlertKind.WARNING.value: N_("warning"),
    AlertKind.BREACH.value: N_("breach"),
}
UNKNOWN_PERSON = N_("nobody recorded")
USER_LABEL = N_("user {id}")
NO_ROWS = N_("Nothing recorded this month.")
NONE_MISSED = N_("none")

ColumnKind = Literal["text", "count", "percent", "decimal"]
Cell = str | int | Decimal | None


@dataclass(frozen=True)
class Column:
    """A table column: its heading and how its cells are written (numbers stay numbers in the XLSX)."""

    title: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class ChartSpec:
    """A native chart of a table: categories from one column, one series per value column."""

    title: str
    categories: int
    values: Sequence[int]
    kind: Literal["bar", "column"] = "bar"


@dataclass(frozen=True)
class ReportTable:
    """One section of the report: a heading, a table, and optionally a chart of it."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    chart: ChartSpec | None = None
    note: str = ""
    extra: Sequence[str] = field(default_factory=tuple)


def _pct(ratio: Ratio) -> Decimal | None:
    """A ratio's percent cell."""
    return ratio.percent


def _figure_cells(figure: KpiFigure, t: Translate) -> list[Cell]:
    """The percent, counts and verdict cells of a figure."""
    ratio = figure.ratio
    return [
        _pct(ratio),
        f"{count(ratio.numerator)} / {count(ratio.denominator)}",
        t(VERDICT_WORDS[figure.verdict]),
    ]


def _person(actor_id: int | None, name: str | None, t: Translate) -> str:
    """Names the person who closed a step late."""
    if name:
        return name
    if actor_id is None:
        return t(UNKNOWN_PERSON)
    return t(USER_LABEL).format(id=actor_id)


def report_tables(report: SupervisionReport, t: Translate, department_of: DepartmentOf) -> list[ReportTable]:
    """Every section of the report as a table, in the report's order."""
    card, previous = report.card, report.previous
    month, before = str(report.month), str(previous.month)
    kpis = ReportTable(
        "kpis",
        t(N_("KPIs")),
        [
            Column(t(N_("KPI"))),
            Column(t(N_("Target"))),
            Column(month, "percent"),
            Column(t(N_("Counts"))),
            Column(t(N_("Verdict"))),
            Column(before, "percent"),
            Column(t(N_("Counts"))),
            Column(t(N_("Verdict"))),
        ],
        [
            [
                t(KPI_NAMES[kpi]),
                target_text(card.figure(kpi), t),
                *_figure_cells(card.figure(kpi), t),
                *_figure_cells(previous.figure(kpi), t),
            ]
            for kpi in Kpi
        ],
        ChartSpec(t(N_("KPIs this month and last month (%)")), 0, (2, 5), "column"),
    )
    compliance_by_department = {figures.department: figures for figures in report.departments}
    departments = ReportTable(
        "departments",
        t(N_("By department")),
        [
            Column(t(N_("Department"))),
            *(Column(t(KPI_NAMES[kpi]), "percent") for kpi in DEPARTMENT_KPIS),
            Column(t(N_("Steps closed late")), "count"),
            Column(t(N_("Still overdue")), "count"),
            Column(t(N_("Breach alerts")), "count"),
            Column(t(N_("Unacknowledged")), "count"),
            Column(t(N_("Escalated")), "count"),
        ],
        [
            [
                department_name(department, t),
                *(_pct(figures[kpi].ratio) for kpi in DEPARTMENT_KPIS),
                *_compliance_cells(compliance_by_department.get(department)),
            ]
            for department, figures in card.departments.items()
        ],
        ChartSpec(t(N_("On-time by department (%)")), 0, (2,)),
    )
    steps = ReportTable(
        "steps",
        t(N_("Timeliness by step")),
        [
            Column(t(N_("Step"))),
            Column(t(N_("Department"))),
            Column(t(N_("Closed")), "count"),
            Column(t(N_("On time")), "count"),
            Column(t(N_("Late")), "count"),
            Column(t(KPI_NAMES[Kpi.ON_TIME]), "percent"),
        ],
        [
            [
                stage_name(stage, t),
                _department_cell(department_of(stage), t),
                ratio.denominator,
                ratio.numerator,
                ratio.denominator - ratio.numerator,
                _pct(ratio),
            ]
            for stage, ratio in card.steps.items()
        ],
        ChartSpec(t(N_("On-time by step (%)")), 0, (5,)),
    )
    facts = report.facts
    late_total = sum(closure.count for closure in facts.late)
    breaches = [alert for alert in facts.alerts if alert.kind == AlertKind.BREACH.value]
    compliance = ReportTable(
        "compliance",
        t(N_("Process compliance")),
        [Column(t(N_("Item"))), Column(t(N_("Count")), "count")],
        [
            [t(N_("Late offline entries (R-1.4)")), report.late_entries],
            [t(N_("Steps closed past their limit")), late_total],
            [
                t(N_("Steps still open past a limit due this month")),
                sum(tally.count for tally in facts.overdue),
            ],
            [t(N_("Breach alerts")), sum(alert.total for alert in breaches)],
            [t(N_("Breach alerts left unacknowledged")), sum(alert.unacknowledged for alert in breaches)],
            [t(N_("Escalated to the order desk head")), sum(alert.escalated_to_head for alert in breaches)],
            [t(N_("Escalated to management")), sum(alert.escalated_to_management for alert in breaches)],
            [t(N_("Progress checks held (R-5.1)")), report.checks_held],
            [t(N_("Progress checks due")), report.checks_due],
        ],
        extra=(
            t(N_("Progress checks missed: {slots}")).format(
                slots=", ".join(slot.replace("T", " ") for slot in report.missed_checks) or t(NONE_MISSED)
            ),
        ),
    )
    people = ReportTable(
        "people",
        t(N_("Steps past their limit by person")),
        [Column(t(N_("Department"))), Column(t(N_("Person"))), Column(t(N_("Steps closed late")), "count")],
        [
            [
                _department_cell(person.department, t),
                _person(person.actor_id, person.actor_name, t),
                person.count,
            ]
            for person in report.people
        ],
    )
    alerts = ReportTable(
        "alerts",
        t(N_("SLA alerts")),
        [
            Column(t(N_("Department"))),
            Column(t(N_("Kind"))),
            Column(t(N_("Raised")), "count"),
            Column(t(N_("Acknowledged")), "count"),
            Column(t(N_("Unacknowledged")), "count"),
            Column(t(N_("Escalated to the order desk head")), "count"),
            Column(t(N_("Escalated to management")), "count"),
        ],
        [
            [
                department_name(alert.department, t),
                t(ALERT_LABELS.get(alert.kind, alert.kind)),
                alert.total,
                alert.acknowledged,
                alert.unacknowledged,
                alert.escalated_to_head,
                alert.escalated_to_management,
            ]
            for alert in facts.alerts
        ],
    )
    survey = facts.survey
    complaints = card.figure(Kpi.COMPLAINT_RATE).ratio
    exceptions_answered = card.figure(Kpi.EXCEPTION_SATISFACTION).ratio
    satisfaction = ReportTable(
        "satisfaction",
        t(N_("Customer satisfaction")),
        [Column(t(N_("Item"))), Column(t(N_("Value")), "decimal")],
        [
            [t(N_("Survey answers")), survey.answers],
            [t(N_("Average rating (1-5)")), survey.average_rating],
            [t(N_("Answers that are complaints")), survey.complaints],
            [t(N_("Orders completed")), complaints.denominator],
            [t(N_("Completed orders with a complaint")), complaints.numerator],
            [t(KPI_NAMES[Kpi.COMPLAINT_RATE]) + " (%)", _pct(complaints)],
            [t(N_("Answers on exceptions closed")), exceptions_answered.denominator],
            [t(N_("Satisfied answers")), exceptions_answered.numerator],
            [t(KPI_NAMES[Kpi.EXCEPTION_SATISFACTION]) + " (%)", _pct(exceptions_answered)],
        ],
    )
    exception_rows: list[list[Cell]] = [
        [t(EXCEPTION_LABELS.get(tally.type, tally.type)), tally.opened, tally.closed]
        for tally in facts.exception_cases
    ]
    exception_rows += [
        [t(MARK_LABELS.get(mark.action, mark.action)), mark.count, None] for mark in facts.exceptions_marked
    ]
    exceptions = ReportTable(
        "exceptions",
        t(N_("Exceptions")),
        [Column(t(N_("Type"))), Column(t(N_("Opened")), "count"), Column(t(N_("Closed")), "count")],
        exception_rows,
    )
    formulas = ReportTable(
        "formulas",
        t(N_("How each KPI is worked out")),
        [Column(t(N_("KPI"))), Column(t(N_("Formula"))), Column(t(N_("Target")))],
        [[t(KPI_NAMES[kpi]), t(KPI_FORMULAS[kpi]), target_text(card.figure(kpi), t)] for kpi in Kpi],
    )
    tables = [kpis, departments, steps, compliance, people, alerts, satisfaction, exceptions, formulas]
    return [replace(table, note=t(NO_ROWS)) for table in tables]


def _department_cell(department: Role | None, t: Translate) -> str:
    """Names a department in a cell (empty when none is known)."""
    return department_name(department, t) if department is not None else ""


def _compliance_cells(figures: DepartmentCompliance | None) -> list[Cell]:
    """The compliance counts of a department (zeros when it has none)."""
    if figures is None:
        return [0, 0, 0, 0, 0]
    return [
        figures.late_closures,
        figures.overdue_open,
        figures.breaches,
        figures.unacknowledged,
        figures.escalated,
    ]


class SupervisionDocuments:
    """Renders the supervision report for Telegram: the summary message, the PDF and the XLSX."""

    def __init__(self, i18n: I18n, timezone: str, department_of: DepartmentOf) -> None:
        self._i18n = i18n
        self._zone = ZoneInfo(timezone)
        self._department_of = department_of

    def summary(self, report: SupervisionReport, locale: str) -> str:
        """The message that goes before the files: the KPIs beside last month's and the main counts."""
        t = translator(self._i18n, locale)
        lines = [t(SUMMARY_HEADER).format(month=report.month)]
        for kpi in Kpi:
            figure = report.card.figure(kpi)
            lines.append(
                t(SUMMARY_KPI).format(
                    name=t(KPI_NAMES[kpi]),
                    value=percent(figure.ratio),
                    previous=percent(report.previous.figure(kpi).ratio),
                    target=target_text(figure, t),
                    verdict=t(VERDICT_WORDS[figure.verdict]),
                )
            )
        facts = report.facts
        breaches = [alert for alert in facts.alerts if alert.kind == AlertKind.BREACH.value]
        lines.append(
            t(SUMMARY_COMPLIANCE).format(
                entries=report.late_entries,
                late=sum(closure.count for closure in facts.late),
                overdue=sum(tally.count for tally in facts.overdue),
                breaches=sum(alert.total for alert in breaches),
                unacknowledged=sum(alert.unacknowledged for alert in breaches),
            )
        )
        lines.append(t(SUMMARY_CHECKS).format(held=report.checks_held, due=report.checks_due))
        rating = facts.survey.average_rating
        lines.append(
            t(SUMMARY_SATISFACTION).format(
                answers=facts.survey.answers,
                rating="—" if rating is None else rating,
                exceptions=sum(tally.opened for tally in facts.exception_cases)
                + sum(mark.count for mark in facts.exceptions_marked),
            )
        )
        lines.append(t(SUMMARY_FILES))
        return "\n".join(lines)

    def files(self, report: SupervisionReport, locale: str) -> list[ReportFile]:
        """The PDF and the XLSX of the report, in the language."""
        t = translator(self._i18n, locale)
        tables = report_tables(report, t, self._department_of)
        title = t(REPORT_TITLE).format(month=report.month)
        subtitle = t(GENERATED_AT).format(
            at=f"{report.generated_at.astimezone(self._zone):%Y-%m-%d %H:%M}",
            zone=self._zone.key,
            month=report.month,
            previous=report.previous.month,
        )
        name = f"supervision-report-{report.month}-{locale}"
        month = str(report.month)
        return [
            ReportFile(
                PDF_KIND,
                Document(f"{name}.pdf", report_pdf(title, subtitle, tables)),
                html.escape(t(PDF_CAPTION).format(month=month)),
            ),
            ReportFile(
                XLSX_KIND,
                Document(f"{name}.xlsx", report_xlsx(title, subtitle, tables)),
                html.escape(t(XLSX_CAPTION).format(month=month)),
            ),
        ]


def _text(value: Cell, kind: ColumnKind) -> str:
    """Writes a cell for the PDF."""
    if value is None:
        return "—" if kind in ("percent", "decimal") else ""
    if kind == "percent":
        return f"{value} %"
    if isinstance(value, int):
        return count(value)
    return str(value)


@cache
def pdf_font() -> str:
    """Registers the report font once: the installed CJK TrueType font (embedded), else the CID font."""
    path = cjk_font_file()
    if path is not None:
        try:
            pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, str(path), subfontIndex=0))
            return EMBEDDED_FONT
        except TTFError:
            pass
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def report_pdf(title: str, subtitle: str, tables: Sequence[ReportTable]) -> bytes:
    """Lays the tables out on landscape A4 pages, headings repeated when a table runs on."""
    font = pdf_font()
    body = ParagraphStyle("body", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)
    title_style = ParagraphStyle("title", parent=body, fontSize=16, leading=22, spaceAfter=4)
    story: list[Flowable] = [
        Paragraph(html.escape(title), title_style),
        Paragraph(html.escape(subtitle), body),
    ]
    for table in tables:
        story.append(Paragraph(html.escape(table.title), heading))
        if not table.rows:
            story.append(Paragraph(html.escape(_no_rows(table)), body))
        else:
            story.append(_pdf_table(table, body))
        story += [Paragraph(html.escape(line), body) for line in table.extra]
        story.append(Spacer(1, 2 * mm))
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        title=title,
        author="OrderDesk",
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
    )
    document.build(story)
    return buffer.getvalue()


def _no_rows(table: ReportTable) -> str:
    """The line an empty table shows instead (kept in the table's note)."""
    return table.note or "—"


def _pdf_table(table: ReportTable, style: ParagraphStyle) -> Table:
    """One report table in the PDF, cells wrapping, numbers right-aligned."""
    header = [Paragraph(f"<b>{html.escape(column.title)}</b>", style) for column in table.columns]
    rows = [
        [
            Paragraph(html.escape(_text(cell, column.kind)), style)
            for cell, column in zip(row, table.columns, strict=True)
        ]
        for row in table.rows
    ]
    weights = [3.0 if column.kind == "text" else 1.3 for column in table.columns]
    width = min(PAGE_WIDTH, 55 * mm * len(weights))
    widths = [width * weight / sum(weights) for weight in weights]
    pdf_table = Table([header, *rows], colWidths=widths, repeatRows=1, hAlign="LEFT")
    pdf_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), pdf_font()),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return pdf_table


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, used: set[str]) -> str:
    """A valid, unique worksheet name (at most 31 characters, none of []:*?/\\)."""
    base = _SHEET_FORBIDDEN.sub(" ", title).strip()[:31] or "Sheet"
    name, number = base, 2
    while name.lower() in used:
        suffix = f" {number}"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    used.add(name.lower())
    return name


def report_xlsx(title: str, subtitle: str, tables: Sequence[ReportTable]) -> bytes:
    """Writes one worksheet per table, numbers as numbers, and a native chart where the table has one."""
    # Imported where a workbook is written (a monthly report), not with the bot (10 MB, issue 17).
    import xlsxwriter

    buffer = BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"title": title, "author": "OrderDesk", "comments": subtitle})
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1, "text_wrap": True})
    heading = workbook.add_format({"bold": True, "font_size": 14})
    formats = {
        "percent": workbook.add_format({"num_format": '0.00" %"'}),
        "count": workbook.add_format({"num_format": "#,##0"}),
        "decimal": workbook.add_format({"num_format": "#,##0.##"}),
        "text": workbook.add_format({"text_wrap": True, "valign": "top"}),
    }
    used: set[str] = set()
    for table in tables:
        sheet_name = _sheet_name(table.title, used)
        sheet = workbook.add_worksheet(sheet_name)
        sheet.write(0, 0, table.title, heading)
        sheet.write(1, 0, subtitle)
        first = 3
        for column_index, column in enumerate(table.columns):
            sheet.write(first, column_index, column.title, bold)
            sheet.set_column(column_index, column_index, 28 if column.kind == "text" else 14)
        for row_index, row in enumerate(table.rows, start=first + 1):
            for column_index, (cell, column) in enumerate(zip(row, table.columns, strict=True)):
                value = float(cell) if isinstance(cell, Decimal) else cell
                if value is None:
                    sheet.write_blank(row_index, column_index, None)
                else:
                    sheet.write(row_index, column_index, value, formats[column.kind])
        last = first + len(table.rows)
        for offset, line in enumerate(table.extra, start=2):
            sheet.write(last + offset, 0, line)
        if not table.rows:
            sheet.write(first + 1, 0, _no_rows(table))
        elif table.chart is not None:
            chart = workbook.add_chart({"type": table.chart.kind})
            for value_column in table.chart.values:
                chart.add_series(
                    {
                        "name": [sheet_name, first, value_column],
                        "categories": [
                            sheet_name,
                            first + 1,
                            table.chart.categories,
                            last,
                            table.chart.categories,
                        ],
                        "values": [sheet_name, first + 1, value_column, last, value_column],
                        "data_labels": {"value": True},
                    }
                )
            chart.set_title({"name": table.chart.title})
            axis = {"min": 0, "max": 100}
            (chart.set_x_axis if table.chart.kind == "bar" else chart.set_y_axis)(axis)
            if table.chart.kind == "bar":
                chart.set_y_axis({"reverse": True})
            chart.set_size(
                {"width": 720, "height": 60 + 28 * max(len(table.rows), 4) * len(table.chart.values)}
            )
            sheet.insert_chart(last + len(table.extra) + 3, 0, chart)
    workbook.close()
    return buffer.getvalue()
