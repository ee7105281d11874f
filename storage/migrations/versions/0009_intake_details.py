"""Intake details: business customers, special requests, delivery-by date, chosen special services.

Item HS codes and sizes live in the items JSON document and need no column.

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
        batch.add_column(
            sa.Column("customer_business", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("special_requests", JSON_DOCUMENT, nullable=True))
        batch.add_column(sa.Column("delivery_by", sa.Date(), nullable=True))
        batch.add_column(sa.Column("special_services", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("special_services")
        batch.drop_column("delivery_by")
        batch.drop_column("special_requests")
        batch.drop_column("customer_business")
