"""Execution: what the warehouse and logistics record on an order (carrier, waybill, courier...).

Revision ID: 0006
Revises: 0005
Create Date: 2026-03-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.migrations.columns import JSON_DOCUMENT

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Applies this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("shipment", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipment")
