"""KPIs and supervision (issue 16): month-range indexes, exception cases, survey answers, report documents.

Create Date: 2026-03-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import UTC_DATETIME, create_order_index, drop_order_table, order_rows

COMPLAINT_PG = sa.text("complaint IS TRUE")
COMPLAINT_SQLITE = sa.text("complaint IS 1")

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_order_audit_action_at", "order_audit", ["action", "at", "order_id"])
    op.create_index("ix_order_clocks_finished_stage_met", "order_clocks", ["finished_at", "stage", "met"])
    op.create_index("ix_sla_alerts_created_at", "sla_alerts", ["created_at"])
    op.create_index("ix_sla_alerts_acknowledged_at", "sla_alerts", ["acknowledged_at"])
    op.create_index("ix_sla_alerts_escalated_at", "sla_alerts", ["escalated_at"])
    op.create_table(
        "exception_cases",
        *order_rows("exception_cases"),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("answered_at", UTC_DATETIME, nullable=True),
    )
    create_order_index("exception_cases")
    op.create_index("ix_exception_cases_opened_at", "exception_cases", ["opened_at"])
    op.create_index("ix_exception_cases_closed_at", "exception_cases", ["closed_at"])
    op.create_index("ix_exception_cases_type_opened_at", "exception_cases", ["type", "opened_at"])
    op.create_table(
        "survey_answers",
        *order_rows("survey_answers"),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("complaint", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTC_DATETIME, nullable=False),
    )
    create_order_index("survey_answers")
    op.create_index(op.f("ix_survey_answers_answered_at"), "survey_answers", ["answered_at"])
    op.create_index(
        "ix_survey_answers_complaints",
        "survey_answers",
        ["order_id"],
        postgresql_where=COMPLAINT_PG,
        sqlite_where=COMPLAINT_SQLITE,
    )
    op.create_table(
        "report_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_documents")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("report_documents")
    op.drop_index("ix_survey_answers_complaints", table_name="survey_answers")
    op.drop_index(op.f("ix_survey_answers_answered_at"), table_name="survey_answers")
    drop_order_table("survey_answers")
    op.drop_index("ix_exception_cases_type_opened_at", table_name="exception_cases")
    op.drop_index("ix_exception_cases_closed_at", table_name="exception_cases")
    op.drop_index("ix_exception_cases_opened_at", table_name="exception_cases")
    drop_order_table("exception_cases")
    op.drop_index("ix_sla_alerts_escalated_at", table_name="sla_alerts")
    op.drop_index("ix_sla_alerts_acknowledged_at", table_name="sla_alerts")
    op.drop_index("ix_sla_alerts_created_at", table_name="sla_alerts")
    op.drop_index("ix_order_clocks_finished_stage_met", table_name="order_clocks")
    op.drop_index("ix_order_audit_action_at", table_name="order_audit")
    op.drop_index("ix_orders_created_at", table_name="orders")
