"""How exception types and causes read in the exception report and /improve (R-6, R-6.5).

The words are the exception cards' (presentation/exception_texts.py), so a cause reads the same on
a case and in the report.
"""

from __future__ import annotations

from domain.exception_report import NO_CAUSE, Cause
from domain.orders.status import ExceptionType
from presentation.exception_texts import CAUSE_LABELS, TYPE_LABELS, UNKNOWN_CAUSE
from presentation.labels import N_
from presentation.render import Html, Translate

CAUSE_LABEL = N_("{type} · {cause}")


def type_name(kind: str, t: Translate) -> str:
    """Names an exception type in the language (its key in words when unknown)."""
    try:
        return t(TYPE_LABELS[ExceptionType(kind)])
    except (KeyError, ValueError):
        return kind.replace("_", " ")


def cause_name(cause: Cause, t: Translate) -> str:
    """Names a cause in the language (its key in words when the cause list has no words for it)."""
    if cause.name == NO_CAUSE:
        return t(UNKNOWN_CAUSE)
    if cause.name in CAUSE_LABELS:
        return t(CAUSE_LABELS[cause.name])
    return cause.name.replace("_", " ")


def cause_label(cause: Cause, t: Translate) -> Html:
    """A cause with its type, escaped for HTML, e.g. Delay · Weather."""
    return Html(t(CAUSE_LABEL).format(type=type_name(cause.type, t), cause=cause_name(cause, t)))
