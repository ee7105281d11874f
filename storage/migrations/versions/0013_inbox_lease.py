"""Several instances share the inbox (issue 17): each update is leased; its replies wait in its row.

Create Date: 2026-12-02
"""

from __future__ import annotations


import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered

# Frozen copy of the column type in storage/models.py: a migration must not change when models do.
UTC_DATETIME = sa.DateTime(timezone=True)

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    with op.batch_alter_table("inbox_updates") as batch:
        batch.add_column(sa.Column("leased_until", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("replies", sa.Text(), nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("inbox_updates") as batch:
        batch.drop_column("replies")
        batch.drop_column("leased_until")
