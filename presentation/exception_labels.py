"""How exception types and causes read in the exception report and /improve (R-6, R-6.5)."""

from __future__ import annotations

from collections.abc import Mapping

from domain.exception_report import NO_CAUSE, Cause
from presentation.labels import N_
from presentation.render import Html, Translate
from presentation.reports import EXCEPTION_LABELS

TYPE_LABELS: Mapping[str, str] = {**EXCEPTION_LABELS, "other": N_("other exception")}
NO_CAUSE_LABEL = N_("no cause recorded")
CAUSE_LABEL = N_("{type} · {cause}")


def type_name(kind: str, t: Translate) -> str:
    """Names an exception type in the language (its key when unknown)."""
    return t(TYPE_LABELS[kind]) if kind in TYPE_LABELS else kind.replace("_", " ")


def cause_name(cause: Cause, t: Translate) -> str:
    """Names a cause as the cause list's catalog words it (cause.<type>.<cause>), else its key in words."""
    if cause.name == NO_CAUSE:
        return t(NO_CAUSE_LABEL)
    msgid = f"cause.{cause.type}.{cause.name}"
    words = t(msgid)
    return str(words) if words != msgid else cause.name.replace("_", " ")


def cause_label(cause: Cause, t: Translate) -> Html:
    """A cause with its type, escaped for HTML, e.g. delay · weather."""
    return Html(t(CAUSE_LABEL).format(type=type_name(cause.type, t), cause=cause_name(cause, t)))
