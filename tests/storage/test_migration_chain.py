"""The revision chain follows the migration file names (storage/migrations/chain.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from storage.database import alembic_config


def test_each_revision_is_its_file_number_and_revises_the_file_before() -> None:
    """Walks the chain from the one head down: the files in number order, each revising the one before."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    walked = [(s.revision, s.down_revision, Path(s.path).name[:4]) for s in scripts.walk_revisions()]
    newest_first = sorted((number for *_, number in walked), reverse=True)

    assert scripts.get_heads() == [newest_first[0]]
    assert [(revision, number) for revision, _, number in walked] == [(n, n) for n in newest_first]
    assert [down for _, down, _ in walked] == [*newest_first[1:], None]
