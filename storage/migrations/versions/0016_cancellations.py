"""Cancellations of orders by the customer or the company, with recall terms (issue 13, R-6.1).

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered

# Frozen copies of the column types in storage/models.py: a migration must not change when models do.
UTC_DATETIME = sa.DateTime(timezone=True)
MONEY = sa.Numeric(12, 2, asdecimal=True)

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "cancellations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("path", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("consent", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("share_percent", MONEY, nullable=True),
        sa.Column("charge", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("refund", MONEY, nullable=True),
        sa.Column("other_service_offered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_cancellations_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
    )
    op.create_index(op.f("ix_cancellations_order_id"), "cancellations", ["order_id"])


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index(op.f("ix_cancellations_order_id"), table_name="cancellations")
    op.drop_table("cancellations")
