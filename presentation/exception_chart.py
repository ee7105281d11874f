"""The exception report's chart (matplotlib, Agg, no pyplot): cases by type, and the top causes.

Chinese labels need a CJK font (presentation/fonts.py); without one the chart falls back to the
English labels rather than drawing empty boxes.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from domain.exception_report import ExceptionReport
from presentation.exception_labels import cause_label, type_name
from presentation.kpi import percent
from presentation.kpi_chart import chart_translator, font_families, png
from presentation.labels import N_
from presentation.render import Translate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# matplotlib is imported where a chart is drawn, as in presentation/kpi_chart.py: it costs a running
# instance tens of megabytes, and the chart is drawn once a month (issue 17).

CHART_TITLE = N_("Exceptions {month}: within the limits {within} · satisfaction {satisfaction}")
TYPES_PANEL = N_("Cases by type")
OPENED = N_("cases opened")
CLOSED = N_("cases closed")
CAUSES_PANEL = N_("Most frequent causes (cases opened)")
NOTHING = N_("No exception case this month.")
OPENED_COLOUR, CLOSED_COLOUR, CAUSE_COLOUR = "#1565c0", "#90caf9", "#ef6c00"
# Rows a panel is at least high, so one type does not make a bar the height of the panel.
MIN_ROWS = 3


def exception_chart(report: ExceptionReport, t: Translate, locale: str) -> bytes:
    """Draws the month as a PNG: opened and closed per type, then the most frequent causes."""
    t = chart_translator(t, locale)
    families = list(font_families())
    types = [type_name(figures.type, t) for figures in report.by_type]
    causes = [html.unescape(cause_label(rank.cause, t)) for rank in report.top_causes]
    rows = max(len(types), MIN_ROWS), max(len(causes), MIN_ROWS)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.5, 2.4 + 0.45 * sum(rows)), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=rows)
    title = t(CHART_TITLE).format(
        month=str(report.month),
        within=percent(report.within_limits),
        satisfaction=percent(report.satisfaction.ratio),
    )
    figure.suptitle(html.unescape(title), fontfamily=families, fontsize=12)
    positions = list(range(len(types)))
    top.barh(
        [p - 0.2 for p in positions],
        [f.opened for f in report.by_type],
        0.4,
        color=OPENED_COLOUR,
        label=t(OPENED),
    )
    top.barh(
        [p + 0.2 for p in positions],
        [f.closed for f in report.by_type],
        0.4,
        color=CLOSED_COLOUR,
        label=t(CLOSED),
    )
    for position, figures in enumerate(report.by_type):
        top.text(figures.opened + 0.05, position - 0.2, str(figures.opened), va="center", fontsize=8)
        top.text(figures.closed + 0.05, position + 0.2, str(figures.closed), va="center", fontsize=8)
    if types:
        top.legend(prop={"family": families, "size": 8}, loc="lower right")
    _axes(top, types, t(TYPES_PANEL) if types else t(NOTHING), families, rows[0])
    counts = [rank.count for rank in report.top_causes]
    bottom.barh(list(range(len(causes))), counts, 0.6, color=CAUSE_COLOUR)
    for position, rank in enumerate(report.top_causes):
        bottom.text(
            rank.count + 0.05, position, f"{rank.count} ({percent(rank.share)})", va="center", fontsize=8
        )
    _axes(bottom, causes, t(CAUSES_PANEL), families, rows[1])
    return png(figure)


def _axes(ax: Axes, labels: list[str], title: str, families: list[str], rows: int) -> None:
    """Labels a horizontal bar panel, first bar on top, counts on a whole-number axis."""
    ax.set_yticks(list(range(len(labels))), labels, fontfamily=families, fontsize=9)
    ax.set_ylim(rows - 0.5, -0.5)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    right = ax.get_xlim()[1]
    ax.set_xlim(0, max(right * 1.15, 1))
    ax.set_title(title, fontfamily=families, fontsize=11, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
