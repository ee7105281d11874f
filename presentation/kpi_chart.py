"""The /kpi chart (matplotlib, Agg, no pyplot): the four KPIs against their targets, and on-time in detail.

Chinese labels need a CJK font (presentation/fonts.py); without one the chart falls back to the
English labels rather than drawing empty boxes.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from typing import TYPE_CHECKING

from domain.kpi import TARGETS, Kpi, KpiCard, Ratio, Target, Verdict
from presentation.fonts import cjk_font_file
from presentation.kpi import KPI_NAMES, department_name, percent, scope_name, stage_name
from presentation.labels import N_
from presentation.render import Translate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# matplotlib is imported where a chart is drawn, not with the bot: it costs a running instance tens
# of megabytes and most never draw a chart (issue 17).

CHART_TITLE = N_("KPIs {month} · {scope}")
KPIS_PANEL = N_("KPIs against their targets (the black line marks the target)")
DEPARTMENTS_PANEL = N_("On-time by department (target {target} %)")
STEPS_PANEL = N_("On-time by step (target {target} %)")
COLOURS = {Verdict.MET: "#2e7d32", Verdict.MISSED: "#c62828", Verdict.NO_DATA: "#9e9e9e"}
ON_TIME_TARGET = TARGETS[Kpi.ON_TIME]
# Rows a panel is at least high, so that one step does not make a bar the height of the panel.
MIN_ROWS = 4


@cache
def font_families() -> tuple[str, ...]:
    """Registers the CJK font with matplotlib once; returns the families to draw with, CJK first."""
    from matplotlib import font_manager

    path = cjk_font_file()
    if path is None:
        return ("DejaVu Sans",)
    font_manager.fontManager.addfont(str(path))
    return (font_manager.FontProperties(fname=str(path)).get_name(), "DejaVu Sans")


def has_cjk_font() -> bool:
    """Whether Chinese labels can be drawn."""
    return len(font_families()) > 1


def _english(message: str) -> str:
    """The msgid itself: the English label."""
    return message


def chart_translator(t: Translate, locale: str) -> Translate:
    """The translator a chart is labelled with: English where Chinese cannot be drawn."""
    return _english if locale != "en" and not has_cjk_font() else t


def png(figure: Figure) -> bytes:
    """The figure drawn as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def kpi_chart(card: KpiCard, t: Translate, locale: str) -> bytes:
    """Draws the card as a PNG: the four KPIs with their targets, then on-time by department or by step."""
    from matplotlib.figure import Figure

    t = chart_translator(t, locale)
    families = list(font_families())
    kpis = [(t(KPI_NAMES[kpi]), card.figure(kpi).ratio, TARGETS[kpi]) for kpi in Kpi]
    if card.scope is None or len(card.departments) > 1:
        detail = [
            (department_name(department, t), figures[Kpi.ON_TIME].ratio, ON_TIME_TARGET)
            for department, figures in card.departments.items()
        ]
        heading = t(DEPARTMENTS_PANEL)
    else:
        detail = [(stage_name(stage, t), ratio, ON_TIME_TARGET) for stage, ratio in card.steps.items()]
        heading = t(STEPS_PANEL)
    rows = max(len(detail), MIN_ROWS)
    figure = Figure(figsize=(8.5, 2.6 + 0.45 * (len(kpis) + rows)), dpi=110, layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(len(kpis), rows))
    title = t(CHART_TITLE).format(month=card.month, scope=scope_name(card.scope, t))
    figure.suptitle(title, fontfamily=families, fontsize=13)
    _bars(top, kpis, t(KPIS_PANEL), families, per_bar_target=True)
    _bars(
        bottom, detail, heading.format(target=f"{ON_TIME_TARGET.percent:g}"), families, per_bar_target=False
    )
    return png(figure)


def _bars(
    ax: Axes,
    bars: list[tuple[str, Ratio, Target]],
    title: str,
    families: list[str],
    *,
    per_bar_target: bool,
) -> None:
    """Draws horizontal percent bars coloured by verdict, each target marked (or one target line)."""
    positions = list(range(len(bars)))
    values = [float(ratio.percent or 0) for _, ratio, _ in bars]
    colours = [COLOURS[target.verdict(ratio)] for _, ratio, target in bars]
    ax.barh(positions, values, color=colours, height=0.6)
    for position, (_, ratio, target) in enumerate(bars):
        if per_bar_target:
            mark = float(target.percent)
            ax.plot([mark, mark], [position - 0.4, position + 0.4], color="black", linewidth=2)
        # Right of the bar and of its target mark, so the figure is never drawn over the line.
        right = max(values[position], float(target.percent))
        ax.text(right + 1.5, position, percent(ratio), va="center", fontsize=9)
    if not per_bar_target:
        ax.axvline(float(ON_TIME_TARGET.percent), color="black", linestyle="--", linewidth=1)
    ax.set_yticks(positions, [name for name, _, _ in bars], fontfamily=families, fontsize=9)
    # Inverted: the first bar on top; a short list keeps the bar height of a long one.
    ax.set_ylim(max(len(bars), MIN_ROWS) - 0.5, -0.5)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_title(title, fontfamily=families, fontsize=11, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
