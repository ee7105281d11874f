"""Free text people type: what a stored or relayed text may contain."""

from __future__ import annotations

import unicodedata

# Control characters (NUL among them) and unpaired surrogates: no database or message can hold them.
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs"})
# Line breaks and tabs are the control characters people mean when they type a longer text.
KEPT_CONTROLS = frozenset({"\n", "\t"})


def has_control(text: str) -> bool:
    """Whether the text holds a control character or an unpaired surrogate."""
    return any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in text)


def without_controls(text: str) -> str:
    """The text with control characters and unpaired surrogates left out (line breaks and tabs kept)."""
    return "".join(
        ch for ch in text if ch in KEPT_CONTROLS or unicodedata.category(ch) not in FORBIDDEN_CATEGORIES
    )
