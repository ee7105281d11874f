"""Execution: what the warehouse and logistics record on an order (carrier, waybill, courier...).

Create Date: 2026-03-04
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
        batch.add_column(sa.Column("shipment", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipment")
