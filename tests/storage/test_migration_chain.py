"""The revision chain follows the migration file names (storage/migrations/chain.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from storage.database import alembic_config


def test_each_revision_is_its_file_number_and_revises_the_file_before() -> None:
    """Walks the chain from the one head down: the files in number order, each revising the one before."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    walked = [(script.revision, script.down_revision, Path(script.path).name) for script in scripts.walk_revisions()]
    numbers = sorted(name.split("_", 1)[0] for *_, name in walked)

    assert scripts.get_heads() == [numbers[-1]]
    assert [revision for revision, *_ in walked] == numbers[::-1]
    assert [(revision, name[:4]) for revision, _, name in walked] == [(number, number) for number in numbers[::-1]]
    assert [down for _, down, _ in walked] == [*numbers[::-1][1:], None]
