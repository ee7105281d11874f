"""`python -m storage.migrate`: applies the migrations to the database whose URL comes on stdin."""

from __future__ import annotations

import asyncio
import logging
import sys

from storage.database import migrate


def main() -> int:
    """Reads the URL, migrates, and exits 0 on success."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    url = sys.stdin.read().strip()
    if not url:
        print("no database URL on stdin", file=sys.stderr)
        return 2
    asyncio.run(migrate(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
