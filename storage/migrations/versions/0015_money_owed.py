"""Refunds and payouts the company owes customers, paid by finance (issue 13, R-6.1, R-6.4).

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
        "money_owed",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("payment_source", sa.String(length=16), nullable=True),
        sa.Column("telegram_payment_charge_id", sa.String(length=255), nullable=True),
        sa.Column("provider_payment_charge_id", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("paid_reference", sa.String(length=200), nullable=True),
        sa.Column("paid_at", UTC_DATETIME, nullable=True),
        sa.Column("paid_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_money_owed_order_id_orders"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_owed")),
    )
    op.create_index(op.f("ix_money_owed_order_id"), "money_owed", ["order_id"])
    # /refunds lists the open records by due time.
    op.create_index("ix_money_owed_status_due_at", "money_owed", ["status", "due_at"])


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index("ix_money_owed_status_due_at", table_name="money_owed")
    op.drop_index(op.f("ix_money_owed_order_id"), table_name="money_owed")
    op.drop_table("money_owed")
