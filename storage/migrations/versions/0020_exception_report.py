"""The monthly exception report: improvement actions against causes, the months queued (issue 14, R-6.5).

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import UTC_DATETIME

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "improvement_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exception_type", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_actions")),
    )
    op.create_index("ix_improvement_actions_recorded_at", "improvement_actions", ["recorded_at"])
    op.create_table(
        "exception_report_runs",
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("queued_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_exception_report_runs")),
    )
    # Payouts paid in a month (money_owed, migration 0015), summed by the report.
    op.create_index("ix_money_owed_paid_at", "money_owed", ["paid_at"])


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index("ix_money_owed_paid_at", table_name="money_owed")
    op.drop_table("exception_report_runs")
    op.drop_index("ix_improvement_actions_recorded_at", table_name="improvement_actions")
    op.drop_table("improvement_actions")
