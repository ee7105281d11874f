"""/improve's words and buttons: the cause of an improvement action chosen by type, then cause (R-6.5)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from domain.exception_report import Cause
from presentation.callbacks import ImproveCause
from presentation.exception_labels import cause_label, cause_name, type_name
from presentation.labels import N_
from presentation.render import Translate

ASK_TYPE = N_("Which exception type is the cause of? Choose it, then the cause.")
ASK_CAUSE = N_("Choose the cause ({type}):")
ASK_ACTION = N_(
    "Write the improvement action against <b>{cause}</b> in one message (at most {limit} characters)."
)
PENDING = N_("Action: {action}")
RECORDED = N_(
    "✅ Improvement action recorded against <b>{cause}</b>: {action}\nThe next exception report lists it."
)
# Buttons per keyboard row.
PER_ROW = 2


def type_keyboard(causes: Mapping[str, Sequence[str]], t: Translate) -> InlineKeyboardMarkup:
    """A button per exception type that has causes."""
    buttons = [
        InlineKeyboardButton(text=type_name(kind, t), callback_data=ImproveCause(type=kind).pack())
        for kind, names in causes.items()
        if names
    ]
    return _rows(buttons)


def cause_keyboard(causes: Sequence[Cause], t: Translate, *, with_type: bool = False) -> InlineKeyboardMarkup:
    """A button per cause (with its type when causes of several types are offered)."""
    buttons = [
        InlineKeyboardButton(
            text=html.unescape(cause_label(cause, t)) if with_type else cause_name(cause, t),
            callback_data=ImproveCause(type=cause.type, cause=cause.name).pack(),
        )
        for cause in causes
    ]
    return _rows(buttons)


def _rows(buttons: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """Lays the buttons out PER_ROW a row."""
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[start : start + PER_ROW] for start in range(0, len(buttons), PER_ROW)]
    )
