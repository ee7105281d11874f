"""Strict reading of the ids that commands and buttons carry: ASCII digits only, within the range stored.

`str.isdigit()` and `int()` also accept other scripts' digits ("٣", "０") and superscripts ("²",
which `int()` then refuses), and `int()` takes any length; a user id or a row id is read here instead.
"""

from __future__ import annotations

import re

# A positive whole number written with the ASCII digits 0-9, without sign, spaces or leading zeros.
_POSITIVE = re.compile(r"[1-9][0-9]{0,18}")
# Telegram user ids have at most 52 significant bits (Bot API, User.id).
MAX_TELEGRAM_USER_ID = 2**52 - 1
# Ids of rows in INTEGER columns (e.g. SLA alerts).
MAX_ROW_ID = 2**31 - 1


# A list position: 0, or a whole number without leading zeros (a goods line of the wizard).
_INDEX = re.compile(r"0|[1-9][0-9]{0,3}")


def parse_index(text: str | None, size: int) -> int | None:
    """Reads a position in a list of `size` entries; None for anything else (other digits included)."""
    if text is None or not _INDEX.fullmatch(text):
        return None
    value = int(text)
    return value if value < size else None


def parse_id(text: str | None, maximum: int) -> int | None:
    """Reads a positive id of at most `maximum`; None for anything else."""
    if text is None or not _POSITIVE.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None
