"""SLA alerts, the order desk's tracking log, and an index on running clocks by stage and due time.

Create Date: 2026-03-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import JSON_DOCUMENT, UTC_DATETIME, create_order_index, drop_order_table, order_rows

RUNNING = sa.text("finished_at IS NULL")
PENDING_BREACH = sa.text("acknowledged_at IS NULL AND kind = 'breach'")

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_index(
        "ix_order_clocks_running_stage_due",
        "order_clocks",
        ["stage", "due_at"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_table(
        "sla_alerts",
        *order_rows("sla_alerts"),
        sa.Column("clock_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_by_name", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["clock_id"],
            ["order_clocks.id"],
            name=op.f("fk_sla_alerts_clock_id_order_clocks"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "clock_id", "kind", "order_id", name=op.f("uq_sla_alerts_clock_id_kind_order_id")
        ),
    )
    create_order_index("sla_alerts")
    op.create_index(op.f("ix_sla_alerts_batch"), "sla_alerts", ["batch"])
    op.create_index(
        "ix_sla_alerts_pending_escalation",
        "sla_alerts",
        ["escalation_level", "created_at"],
        postgresql_where=PENDING_BREACH,
        sqlite_where=PENDING_BREACH,
    )
    op.create_table(
        "tracking_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot", sa.String(length=40), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("content", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_log")),
        sa.UniqueConstraint("slot", name=op.f("uq_tracking_log_slot")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("tracking_log")
    op.drop_index("ix_sla_alerts_pending_escalation", table_name="sla_alerts")
    op.drop_index(op.f("ix_sla_alerts_batch"), table_name="sla_alerts")
    drop_order_table("sla_alerts")
    op.drop_index("ix_order_clocks_running_stage_due", table_name="order_clocks")
