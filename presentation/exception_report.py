"""The monthly exception report (R-6.5) as a message, a chart (PNG) and a workbook (XLSX).

The message lists a bounded number of lines of each kind (types, steps, currencies, causes and the
actions under them, last month's actions), each free text cut to one short line, so it fits
Telegram's limit by construction; the workbook holds everything.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n

from application.ports import Document
from application.reports import ReportFile
from domain.exception_report import NO_CAUSE, ExceptionReport, ImprovementAction, paid_per_currency
from domain.kpi import Ratio
from presentation.exception_chart import exception_chart
from presentation.exception_labels import cause_label, cause_name, type_name
from presentation.kpi import count, percent, stage_name, target_text, verdict_text
from presentation.labels import N_, format_span
from presentation.render import Html, Translate, esc, fit, one_line, translator
from presentation.reports import Column, ReportTable, report_xlsx

CHART_KIND = "exception_chart"
XLSX_KIND = "exception_xlsx"
# How many lines of each list the message shows; the XLSX has them all.
CURRENCIES_SHOWN = 6
ACTIONS_SHOWN_PER_CAUSE = 1
FOLLOW_UPS_SHOWN = 5
# How much of an action's text the message repeats.
ACTION_SHOWN = 80

HEADER = N_("⚠️ <b>Exception report {month}</b>")
TOTALS = N_("Cases opened: {opened} · closed: {closed}")
NO_CASES = N_("No exception case was opened or closed this month.")
BY_TYPE = N_("<b>By type</b> (opened · closed · within the limits · median time to resolve):")
TYPE_LINE = N_("{type}: {opened} · {closed} · {within} · {median}")
WITHIN_LIMITS = N_("<b>Resolved within the limits</b>: {value} ({within} / {closed} cases closed)")
STEPS = N_("<b>Steps within their limit</b>:")
STEP_LINE = N_("{stage}: {value} ({met} / {total})")
RATIO = N_("{value} ({met} / {total})")
COMPENSATION = N_("<b>Compensation paid</b>: {amounts} · payouts: {payouts}")
NO_COMPENSATION = N_("<b>Compensation paid</b>: none")
MORE_CURRENCIES = N_("and {count} more currencies (see the XLSX)")
SATISFACTION = N_(
    "<b>Satisfaction with the handling</b>: {value} ({satisfied} / {answered}) · {target} · {verdict}"
)
TOP_CAUSES = N_("<b>Most frequent causes</b>:")
CAUSE_LINE = N_("{rank}. {cause}: {count} ({share})")
ACTION_LINE = N_("    ↳ {action} ({who}, {day})")
MORE_ACTIONS = N_("    ↳ and {count} more actions (see the XLSX)")
NO_ACTION = N_("    ↳ no improvement action recorded yet: /improve")
FOLLOW_UPS = N_("<b>Last month's improvement actions</b>:")
RECURRED = N_("🔁 {cause}: {action} · recurred: {count} cases")
NOT_RECURRED = N_("✅ {cause}: {action} · did not recur")
MORE_FOLLOW_UPS = N_("and {count} more (see the XLSX)")
NO_FOLLOW_UPS = N_("No improvement action was recorded last month.")
FILES_FOLLOW = N_("The chart and the XLSX follow.")
CHART_CAPTION = N_("Exception report {month}: chart")
XLSX_CAPTION = N_("Exception report {month} (XLSX)")
XLSX_TITLE = N_("Exception report {month}")
XLSX_SUBTITLE = N_("Generated {at} ({zone}); cases opened and closed in {month}.")
NOBODY = N_("user {id}")


def resolve_time(span: timedelta | None) -> str:
    """Writes a time to resolve, or a dash."""
    return "—" if span is None else format_span(span)


def recorded_by(action: ImprovementAction, t: Translate) -> str:
    """Who recorded an action: their name, else their user id."""
    return action.recorded_by_name or t(NOBODY).format(id=action.recorded_by)


def summary_lines(report: ExceptionReport, t: Translate, zone: ZoneInfo) -> list[str]:
    """The message's lines, each list bounded."""
    lines = [t(HEADER).format(month=str(report.month))]
    lines.append(t(TOTALS).format(opened=count(report.opened), closed=count(report.closed)))
    if report.by_type:
        lines.append(t(BY_TYPE))
        lines += [
            t(TYPE_LINE).format(
                type=type_name(figures.type, t),
                opened=count(figures.opened),
                closed=count(figures.closed),
                within=_ratio(figures.within_limits, t),
                median=resolve_time(figures.median),
            )
            for figures in report.by_type
        ]
    else:
        lines.append(t(NO_CASES))
    ratio = report.within_limits
    lines.append(
        t(WITHIN_LIMITS).format(
            value=percent(ratio), within=count(ratio.numerator), closed=count(ratio.denominator)
        )
    )
    if report.steps:
        lines.append(t(STEPS))
        lines += [
            t(STEP_LINE).format(
                stage=stage_name(step.stage, t),
                value=percent(step.within_limit),
                met=count(step.within_limit.numerator),
                total=count(step.within_limit.denominator),
            )
            for step in report.steps
        ]
    lines.append(_compensation_line(report, t))
    satisfaction = report.satisfaction
    lines.append(
        t(SATISFACTION).format(
            value=percent(satisfaction.ratio),
            satisfied=count(satisfaction.ratio.numerator),
            answered=count(satisfaction.ratio.denominator),
            target=target_text(satisfaction, t),
            verdict=verdict_text(satisfaction.verdict, t),
        )
    )
    if report.top_causes:
        lines.append(t(TOP_CAUSES))
        for rank, cause in enumerate(report.top_causes, start=1):
            lines.append(
                t(CAUSE_LINE).format(
                    rank=rank,
                    cause=cause_label(cause.cause, t),
                    count=count(cause.count),
                    share=percent(cause.share),
                )
            )
            # A case without a cause has nothing to improve against yet.
            if cause.cause.name != NO_CAUSE:
                lines += _action_lines(cause.actions, t, zone)
    lines.append(t(FOLLOW_UPS))
    if not report.follow_ups:
        lines.append(t(NO_FOLLOW_UPS))
    for follow in report.follow_ups[:FOLLOW_UPS_SHOWN]:
        template = RECURRED if follow.recurred else NOT_RECURRED
        lines.append(
            t(template).format(
                cause=cause_label(follow.action.cause, t),
                action=one_line(follow.action.action, ACTION_SHOWN),
                count=count(follow.recurrences),
            )
        )
    if len(report.follow_ups) > FOLLOW_UPS_SHOWN:
        lines.append(t(MORE_FOLLOW_UPS).format(count=len(report.follow_ups) - FOLLOW_UPS_SHOWN))
    lines.append(t(FILES_FOLLOW))
    return lines


def _ratio(ratio: Ratio, t: Translate) -> str:
    """A share with its counts, e.g. 50.00 % (1 / 2)."""
    return t(RATIO).format(value=percent(ratio), met=count(ratio.numerator), total=count(ratio.denominator))


def _compensation_line(report: ExceptionReport, t: Translate) -> str:
    """The compensation paid per currency, the first currencies only."""
    totals = paid_per_currency(report.compensation)
    if not totals:
        return t(NO_COMPENSATION)
    amounts = [
        f"{amount:,.2f} {esc(currency)}" for currency, amount in list(totals.items())[:CURRENCIES_SHOWN]
    ]
    if len(totals) > CURRENCIES_SHOWN:
        amounts.append(t(MORE_CURRENCIES).format(count=len(totals) - CURRENCIES_SHOWN))
    payouts = sum(total.count for total in report.compensation)
    return t(COMPENSATION).format(amounts=Html(" · ".join(amounts)), payouts=count(payouts))


def _action_lines(actions: Sequence[ImprovementAction], t: Translate, zone: ZoneInfo) -> list[str]:
    """The first actions recorded against a cause, each cut to a short line."""
    if not actions:
        return [t(NO_ACTION)]
    lines = [
        t(ACTION_LINE).format(
            action=one_line(action.action, ACTION_SHOWN),
            who=one_line(recorded_by(action, t), 40),
            day=f"{action.recorded_at.astimezone(zone):%m-%d}",
        )
        for action in actions[:ACTIONS_SHOWN_PER_CAUSE]
    ]
    if len(actions) > ACTIONS_SHOWN_PER_CAUSE:
        lines.append(t(MORE_ACTIONS).format(count=len(actions) - ACTIONS_SHOWN_PER_CAUSE))
    return lines


def report_tables(report: ExceptionReport, t: Translate, zone: ZoneInfo) -> list[ReportTable]:
    """Every figure of the report as a worksheet table, numbers as numbers."""
    types = ReportTable(
        "types",
        t(N_("Cases by type")),
        [
            Column(t(N_("Type"))),
            Column(t(N_("Opened")), "count"),
            Column(t(N_("Closed")), "count"),
            Column(t(N_("Closed within the limits")), "count"),
            Column(t(N_("Within the limits (%)")), "percent"),
            Column(t(N_("Median time to resolve (hours)")), "decimal"),
            Column(t(N_("Longest time to resolve (hours)")), "decimal"),
        ],
        [
            [
                type_name(figures.type, t),
                figures.opened,
                figures.closed,
                figures.within_limits.numerator,
                figures.within_limits.percent,
                _hours(figures.median),
                _hours(figures.longest),
            ]
            for figures in report.by_type
        ],
    )
    causes = ReportTable(
        "causes",
        t(N_("Cases by type and cause")),
        [Column(t(N_("Type"))), Column(t(N_("Exception cause"))), Column(t(N_("Opened")), "count")],
        [[type_name(item.cause.type, t), cause_name(item.cause, t), item.count] for item in report.by_cause],
    )
    steps = ReportTable(
        "steps",
        t(N_("Steps within their limit")),
        [
            Column(t(N_("Step"))),
            Column(t(N_("Steps timed")), "count"),
            Column(t(N_("Within the limit")), "count"),
            Column(t(N_("Within the limit (%)")), "percent"),
        ],
        [
            [
                stage_name(step.stage, t),
                step.within_limit.denominator,
                step.within_limit.numerator,
                step.within_limit.percent,
            ]
            for step in report.steps
        ],
    )
    compensation = ReportTable(
        "compensation",
        t(N_("Compensation paid")),
        [
            Column(t(N_("Reason"))),
            Column(t(N_("Currency"))),
            Column(t(N_("Amount")), "decimal"),
            Column(t(N_("Payments made")), "count"),
        ],
        [
            [_reason(total.kind, t), total.currency, total.amount, total.count]
            for total in report.compensation
        ],
    )
    ratio = report.satisfaction.ratio
    satisfaction = ReportTable(
        "satisfaction",
        t(N_("Satisfaction with the handling")),
        [Column(t(N_("Item"))), Column(t(N_("Value")), "decimal")],
        [
            [t(N_("Answers on cases closed")), ratio.denominator],
            [t(N_("Satisfied answers")), ratio.numerator],
            [t(N_("Satisfied (%)")), ratio.percent],
            [t(N_("Cases closed within the limits")), report.within_limits.numerator],
            [t(N_("Cases closed")), report.within_limits.denominator],
        ],
    )
    top = ReportTable(
        "top",
        t(N_("Most frequent causes")),
        [
            Column(t(N_("Rank")), "count"),
            Column(t(N_("Type"))),
            Column(t(N_("Exception cause"))),
            Column(t(N_("Cases opened")), "count"),
            Column(t(N_("Share (%)")), "percent"),
            Column(t(N_("Improvement actions")), "count"),
        ],
        [
            [
                rank,
                type_name(cause.cause.type, t),
                cause_name(cause.cause, t),
                cause.count,
                cause.share.percent,
                len(cause.actions),
            ]
            for rank, cause in enumerate(report.top_causes, start=1)
        ],
    )
    actions = ReportTable(
        "actions",
        t(N_("This month's actions")),
        _action_columns(t),
        [_action_row(action, t, zone) for action in report.actions],
    )
    follow_ups = ReportTable(
        "follow_ups",
        t(N_("Last month's actions")),
        [
            *_action_columns(t),
            Column(t(N_("Cases of the cause this month")), "count"),
            Column(t(N_("Cause recurred"))),
        ],
        [
            [
                *_action_row(follow.action, t, zone),
                follow.recurrences,
                t(N_("yes")) if follow.recurred else t(N_("no")),
            ]
            for follow in report.follow_ups
        ],
    )
    tables = [types, causes, steps, compensation, satisfaction, top, actions, follow_ups]
    empty = t(N_("Nothing recorded this month."))
    return [ReportTable(table.key, table.title, table.columns, table.rows, note=empty) for table in tables]


def _action_columns(t: Translate) -> list[Column]:
    """The columns describing an improvement action."""
    return [
        Column(t(N_("Recorded at"))),
        Column(t(N_("Recorded by"))),
        Column(t(N_("Type"))),
        Column(t(N_("Exception cause"))),
        Column(t(N_("Improvement action"))),
    ]


def _action_row(action: ImprovementAction, t: Translate, zone: ZoneInfo) -> list[str | int | None]:
    """An improvement action as cells (its whole text)."""
    return [
        f"{action.recorded_at.astimezone(zone):%Y-%m-%d %H:%M}",
        recorded_by(action, t),
        type_name(action.cause.type, t),
        cause_name(action.cause, t),
        action.action,
    ]


REASON_LABELS: Mapping[str, str] = {
    "delay_compensation": N_("delay compensation"),
    "damage_compensation": N_("damage compensation"),
    "wrong_shipment_compensation": N_("wrong-shipment compensation"),
    "loss_compensation": N_("loss compensation"),
    "discount": N_("discount after payment"),
}


def _reason(kind: str, t: Translate) -> str:
    """Names what a payment compensated."""
    return t(REASON_LABELS[kind]) if kind in REASON_LABELS else kind.replace("_", " ")


def _hours(span: timedelta | None) -> Decimal | None:
    """A span in hours to one decimal, for the workbook."""
    if span is None:
        return None
    return (Decimal(int(span.total_seconds())) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


class ExceptionReportTexts:
    """Renders the exception report for Telegram: the message, the chart and the workbook."""

    def __init__(self, i18n: I18n, timezone: str) -> None:
        self._i18n = i18n
        self._zone = ZoneInfo(timezone)

    def summary(self, report: ExceptionReport, locale: str) -> str:
        """The message before the files."""
        t = translator(self._i18n, locale)
        return fit(summary_lines(report, t, self._zone), t)

    def files(self, report: ExceptionReport, locale: str) -> list[ReportFile]:
        """The chart (sent as a photo) and the XLSX, in the language."""
        t = translator(self._i18n, locale)
        month = str(report.month)
        name = f"exception-report-{month}-{locale}"
        title = t(XLSX_TITLE).format(month=month)
        subtitle = t(XLSX_SUBTITLE).format(
            at=f"{report.generated_at.astimezone(self._zone):%Y-%m-%d %H:%M}",
            zone=self._zone.key,
            month=month,
        )
        workbook = report_xlsx(
            html.unescape(title), html.unescape(subtitle), report_tables(report, t, self._zone)
        )
        return [
            ReportFile(
                CHART_KIND,
                Document(f"{name}.png", exception_chart(report, t, locale)),
                t(CHART_CAPTION).format(month=month),
                photo=True,
            ),
            ReportFile(XLSX_KIND, Document(f"{name}.xlsx", workbook), t(XLSX_CAPTION).format(month=month)),
        ]
