"""Changes to a placed order (issue 13, R-6.2): the order's change records and what is left to pay.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import JSON_DOCUMENT

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("outstanding", sa.Numeric(precision=12, scale=2), nullable=True))
        batch.add_column(sa.Column("changes", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("changes")
        batch.drop_column("outstanding")
