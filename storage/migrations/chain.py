"""Revision ids taken from the migration file names, so the chain of revisions is the order of the files.

Every file in versions/ is named NNNN_what.py: its revision is NNNN and it revises the file with the
next lower number present (the first revises nothing). A new migration needs no hand-written ids
and a gap in the numbers (a revision dropped before release) needs no re-chaining.
"""

from __future__ import annotations

from pathlib import Path

NUMBERED = "[0-9][0-9][0-9][0-9]_*.py"


def numbered(path: str) -> tuple[str, str | None]:
    """The revision of the migration at path and the revision it follows (None for the first)."""
    here = Path(path)
    revision = here.name.split("_", 1)[0]
    numbers = (other.name.split("_", 1)[0] for other in here.parent.glob(NUMBERED))
    earlier = sorted(number for number in numbers if number < revision)
    return revision, earlier[-1] if earlier else None
