"""After-sales (issue 15, R-7): completion records, survey answers' comment and lock, archives, retention runs.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import JSON_DOCUMENT, UTC_DATETIME, order_foreign_key

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    with op.batch_alter_table("survey_answers") as batch:
        batch.add_column(sa.Column("comment", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("marked_complaint", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch.add_column(sa.Column("changed_at", UTC_DATETIME, nullable=True))
    op.create_table(
        "order_aftersales",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=False),
        sa.Column("survey_token", sa.String(length=64), nullable=True),
        sa.Column("survey_sent_at", UTC_DATETIME, nullable=True),
        sa.Column("survey_reminded_at", UTC_DATETIME, nullable=True),
        sa.Column("survey_unreachable", sa.Boolean(), nullable=False),
        sa.Column("archived_at", UTC_DATETIME, nullable=True),
        sa.Column("erased_at", UTC_DATETIME, nullable=True),
        order_foreign_key("order_aftersales"),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_aftersales")),
        sa.UniqueConstraint("survey_token", name=op.f("uq_order_aftersales_survey_token")),
    )
    op.create_index(op.f("ix_order_aftersales_completed_at"), "order_aftersales", ["completed_at"])
    op.create_index(op.f("ix_order_aftersales_archived_at"), "order_aftersales", ["archived_at"])
    op.create_table(
        "order_archives",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        order_foreign_key("order_archives"),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_archives")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("retention_runs")
    op.drop_table("order_archives")
    op.drop_index(op.f("ix_order_aftersales_archived_at"), table_name="order_aftersales")
    op.drop_index(op.f("ix_order_aftersales_completed_at"), table_name="order_aftersales")
    op.drop_table("order_aftersales")
    with op.batch_alter_table("survey_answers") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("marked_complaint")
        batch.drop_column("comment")
