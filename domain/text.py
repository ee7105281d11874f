"""Free text people type: what a stored or relayed text may contain."""

from __future__ import annotations

import unicodedata

from domain.errors import DomainError

# Control characters (NUL among them) and unpaired surrogates: no database or message can hold them.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})
# Line breaks and tabs are the control characters people mean when they type a longer text.
KEPT_CONTROLS = frozenset({"\n", "\t"})
# The longest Telegram file id (or payment charge id) the columns keep.
FILE_ID_MAX = 255


def has_control(text: str) -> bool:
    """Whether the text holds a control character or an unpaired surrogate."""
    return any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in text)


def without_controls(text: str) -> str:
    """The text with control characters and unpaired surrogates left out (line breaks and tabs kept)."""
    return "".join(
        ch for ch in text if ch in KEPT_CONTROLS or unicodedata.category(ch) not in FORBIDDEN_CATEGORIES
    )


def required_text(text: str, limit: int, problem: str) -> str:
    """Typed text as kept (controls left out, trimmed, cut to limit); DomainError(problem) if none is left."""
    kept = without_controls(text).strip()[:limit]
    if not kept:
        raise DomainError(problem)
    return kept


def checked_file_id(file_id: str, problem: str) -> str:
    """A Telegram file id as kept (controls left out, trimmed); DomainError(problem) if empty or too long."""
    kept = without_controls(file_id).strip()
    if not kept or len(kept) > FILE_ID_MAX:
        raise DomainError(problem)
    return kept
