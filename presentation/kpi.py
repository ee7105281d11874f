"""The words of the KPIs (R-8.2) and of the R-5.1 record: /kpi and /checks texts, shared with the reports."""

from __future__ import annotations

import html
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from application.reports import DayChecks
from domain.kpi import DEPARTMENT_KPIS, Direction, Kpi, KpiCard, KpiFigure, Ratio, Verdict
from domain.kpi_report import Chase, ChaseKind
from domain.orders.status import Role
from presentation.labels import DEPARTMENT_LABELS, N_, STAGE_LABELS
from presentation.messages import pack_messages
from presentation.render import Translate

KPI_NAMES: Mapping[Kpi, str] = {
    Kpi.ACCURACY: N_("Accuracy"),
    Kpi.ON_TIME: N_("On-time"),
    Kpi.EXCEPTION_SATISFACTION: N_("Exception satisfaction"),
    Kpi.COMPLAINT_RATE: N_("Complaint rate"),
}
KPI_FORMULAS: Mapping[Kpi, str] = {
    Kpi.ACCURACY: N_("orders received with no error in entry, review or execution / orders received"),
    Kpi.ON_TIME: N_("stage clocks closed within their limit / stage clocks closed (paused time excluded)"),
    Kpi.EXCEPTION_SATISFACTION: N_("satisfied answers / answers on exceptions closed"),
    Kpi.COMPLAINT_RATE: N_("completed orders with a complaint / orders completed"),
}
TARGET_TEXTS: Mapping[Direction, str] = {
    Direction.AT_LEAST: N_("target ≥ {target} %"),
    Direction.AT_MOST: N_("target ≤ {target} %"),
}
VERDICT_TEXTS: Mapping[Verdict, str] = {
    Verdict.MET: N_("✅ met"),
    Verdict.MISSED: N_("❌ missed"),
    Verdict.NO_DATA: N_("— no data yet"),
}
VERDICT_MARKS: Mapping[Verdict, str] = {Verdict.MET: "✅", Verdict.MISSED: "❌", Verdict.NO_DATA: "—"}
COMPANY = N_("company")
COMPANY_WIDE = N_("{name} (company)")
KPI_HEADER = N_("📊 <b>KPIs {month}</b> · {scope}")
KPI_LINE = N_("<b>{name}</b>: {value} ({numerator} / {denominator}) · {target} · {verdict}")
KPI_FORMULA_LINE = N_("    = {formula}")
BY_DEPARTMENT = N_("<b>By department</b> (accuracy · on-time · exception satisfaction):")
DEPARTMENT_LINE = N_("{department}: {accuracy} · {on_time} · {satisfaction}")
BY_STEP = N_("<b>On-time by step</b>:")
STEP_LINE = N_("{stage}: {value} ({met} / {closed})")
NO_STEPS = N_("No stage clock closed yet this month.")
NO_FIGURE = "—"

CHECKS_HEADER = N_("📋 <b>Progress checks {day}</b>: {held} of {due} held.")
CHECK_HELD = N_("✅ {time}: {overdue} overdue, {at_risk} at risk")
CHECK_MISSED = N_("❌ {time}: not held")
CHASES_HEADER = N_("🔔 <b>Chases</b> ({count}):")
NO_CHASES = N_("No chases that day.")
MORE_CHASES = N_("… and more; the monthly report counts them all.")
CHASE_TEXTS: Mapping[ChaseKind, str] = {
    ChaseKind.WARNING: N_("{time} ⚠️ warning · <b>{order}</b> · {stage} ({department})"),
    ChaseKind.BREACH: N_("{time} 🚨 breach · <b>{order}</b> · {stage} ({department})"),
    ChaseKind.ESCALATED_TO_HEAD: N_(
        "{time} 🔺 escalated to the order desk head · <b>{order}</b> · {stage} ({department})"
    ),
    ChaseKind.ESCALATED_TO_MANAGEMENT: N_(
        "{time} 🔺 escalated to management · <b>{order}</b> · {stage} ({department})"
    ),
    ChaseKind.ACKNOWLEDGED: N_("{time} ✅ acknowledged by {who} · <b>{order}</b> · {stage} ({department})"),
}


def percent(ratio: Ratio) -> str:
    """Writes a ratio as 99.60 %, or a dash without a denominator."""
    value = ratio.percent
    return NO_FIGURE if value is None else f"{value} %"


def count(value: int) -> str:
    """Writes a count with thousands separators."""
    return f"{value:,}"


def kpi_name(kpi: Kpi, t: Translate) -> str:
    """Names a KPI in the language."""
    return t(KPI_NAMES[kpi])


def target_text(figure: KpiFigure, t: Translate) -> str:
    """Writes the KPI's target, e.g. target ≥ 99.5 %."""
    target = figure.target
    return t(TARGET_TEXTS[target.direction]).format(target=f"{target.percent.normalize():f}")


def verdict_text(verdict: Verdict, t: Translate) -> str:
    """Writes met, missed or no data."""
    return t(VERDICT_TEXTS[verdict])


def department_name(department: Role, t: Translate) -> str:
    """Names a department in the language."""
    return t(DEPARTMENT_LABELS[department.value])


def stage_name(stage: str, t: Translate) -> str:
    """Names a step in the language (its key when the policy does not know it)."""
    return t(STAGE_LABELS[stage]) if stage in STAGE_LABELS else stage


def scope_name(scope: frozenset[Role] | None, t: Translate) -> str:
    """Names whose figures a card shows: the company, or the departments of a team chat."""
    if scope is None:
        return t(COMPANY)
    return ", ".join(department_name(department, t) for department in Role if department in scope)


def figure_mark(figure: KpiFigure) -> str:
    """Writes a figure with its verdict's mark, e.g. 99.60 % ✅ (a dash alone without data)."""
    if figure.verdict is Verdict.NO_DATA:
        return NO_FIGURE
    return f"{percent(figure.ratio)} {VERDICT_MARKS[figure.verdict]}"


def kpi_lines(card: KpiCard, t: Translate) -> list[str]:
    """The four KPIs of a card, each with its formula, counts, target and verdict."""
    lines = []
    for kpi in Kpi:
        figure = card.figure(kpi)
        name = kpi_name(kpi, t)
        if card.scope is not None and kpi not in DEPARTMENT_KPIS:
            name = t(COMPANY_WIDE).format(name=name)
        lines.append(
            t(KPI_LINE).format(
                name=name,
                value=percent(figure.ratio),
                numerator=count(figure.ratio.numerator),
                denominator=count(figure.ratio.denominator),
                target=target_text(figure, t),
                verdict=verdict_text(figure.verdict, t),
            )
        )
        lines.append(t(KPI_FORMULA_LINE).format(formula=t(KPI_FORMULAS[kpi])))
    return lines


def kpi_texts(card: KpiCard, t: Translate) -> list[str]:
    """The /kpi messages (one unless very long): the KPIs against their targets, per department and step."""
    blocks = [
        t(KPI_HEADER).format(month=card.month, scope=html.escape(scope_name(card.scope, t))),
        "\n".join(kpi_lines(card, t)),
    ]
    if card.scope is None or len(card.departments) > 1:
        rows = [t(BY_DEPARTMENT)]
        for department, figures in card.departments.items():
            rows.append(
                t(DEPARTMENT_LINE).format(
                    department=department_name(department, t),
                    accuracy=figure_mark(figures[Kpi.ACCURACY]),
                    on_time=figure_mark(figures[Kpi.ON_TIME]),
                    satisfaction=figure_mark(figures[Kpi.EXCEPTION_SATISFACTION]),
                )
            )
        blocks.append("\n".join(rows))
    steps = [t(BY_STEP)]
    steps += [
        t(STEP_LINE).format(
            stage=stage_name(stage, t),
            value=percent(ratio),
            met=count(ratio.numerator),
            closed=count(ratio.denominator),
        )
        for stage, ratio in card.steps.items()
    ] or [t(NO_STEPS)]
    blocks.append("\n".join(steps))
    return pack_messages("\n\n".join(blocks).split("\n"))


def chase_line(chase: Chase, t: Translate, zone: ZoneInfo) -> str:
    """Writes one chase of the day."""
    return t(CHASE_TEXTS[chase.kind]).format(
        time=f"{chase.at.astimezone(zone):%H:%M}",
        order=html.escape(chase.order_ref),
        stage=stage_name(chase.stage, t),
        department=department_name(chase.department, t),
        who=html.escape(chase.who or "?"),
    )


def checks_texts(record: DayChecks, t: Translate, zone: ZoneInfo) -> list[str]:
    """The /checks messages: the day's progress checks held and missed, then every chase."""
    held = {check.slot: check for check in record.checks}
    due = list(record.due)
    lines = [
        t(CHECKS_HEADER).format(day=record.day.isoformat(), held=len(set(held) & set(due)), due=len(due))
    ]
    for slot in sorted(set(due) | set(held)):
        time = slot.split("T", 1)[1]
        check = held.get(slot)
        if check is None:
            lines.append(t(CHECK_MISSED).format(time=time))
        else:
            lines.append(t(CHECK_HELD).format(time=time, overdue=check.overdue, at_risk=check.at_risk))
    lines.append("")
    lines.append(t(CHASES_HEADER).format(count=len(record.chases)))
    lines += [chase_line(chase, t, zone) for chase in record.chases] or [t(NO_CHASES)]
    if record.more_chases:
        lines.append(t(MORE_CHASES))
    return pack_messages(lines)
