"""Exception cases (issue 14, R-6): the case record's note, evidence, trail, result, compensation, record.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import JSON_DOCUMENT, UTC_DATETIME

revision, down_revision = numbered(__file__)

COLUMNS = (
    ("note", sa.Text()),
    ("opened_by", sa.BigInteger()),
    ("evidence", JSON_DOCUMENT),
    ("steps", JSON_DOCUMENT),
    ("new_eta", UTC_DATETIME),
    ("customs_needs", sa.Text()),
    ("compensation", JSON_DOCUMENT),
    ("result", sa.String(length=32)),
    ("closed_by", sa.BigInteger()),
    ("record", sa.Text()),
    ("recorded_at", UTC_DATETIME),
    ("recorded_by", sa.BigInteger()),
    ("feedback", sa.Text()),
)


def upgrade() -> None:
    """Applies this revision."""
    with op.batch_alter_table("exception_cases") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("exception_cases") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
