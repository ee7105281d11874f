"""Intake details: business customers, special requests, delivery-by date, chosen special services.

Item HS codes and sizes live in the items JSON document and need no column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copy of the column type in storage/models.py: a migration must not change when models do.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
