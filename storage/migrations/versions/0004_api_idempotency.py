"""Orders created through the platform intake API: the key that created each, and its Idempotency-Key.

Create Date: 2026-03-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import UTC_DATETIME, order_foreign_key

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_name", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        order_foreign_key("api_idempotency"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint("key_name", "idempotency_key", name=op.f("uq_api_idempotency_key_name_idempotency_key")),
        sa.UniqueConstraint("order_id", name=op.f("uq_api_idempotency_order_id")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("api_idempotency")
