"""Packing long texts into Telegram messages within its length limit."""

from __future__ import annotations

from collections.abc import Sequence

# Telegram's limit on a message's text, in characters.
MAX_MESSAGE_CHARS = 4096


def pack_messages(parts: Sequence[str], separator: str = "\n") -> list[str]:
    """Joins parts into as few messages as fit the length limit; a part never splits across two."""
    messages: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if len(candidate) > MAX_MESSAGE_CHARS and current:
            messages.append(current)
            candidate = part
        current = candidate
    if current:
        messages.append(current)
    return messages
