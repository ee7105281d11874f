"""Where a CJK font file is, for charts and PDFs that show Chinese (Debian's fonts-wqy-microhei first)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

# TrueType collections and fonts that carry both Latin and Simplified Chinese glyphs.
CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
)


@cache
def cjk_font_file() -> Path | None:
    """The first CJK font installed, or None when there is none."""
    return next((path for path in CJK_FONT_FILES if path.is_file()), None)
