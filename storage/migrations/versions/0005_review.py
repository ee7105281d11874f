"""Review flow: questions to customers, generated order documents, staff display names.

Create Date: 2026-03-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import UTC_DATETIME, create_order_index, drop_order_table, order_rows

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "review_questions",
        *order_rows("review_questions"),
        sa.Column("asked_by", sa.BigInteger(), nullable=False),
        sa.Column("asked_at", UTC_DATETIME, nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("card_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("card_message_id", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", UTC_DATETIME, nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
    )
    create_order_index("review_questions")
    op.create_table(
        "order_documents",
        *order_rows("order_documents"),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )
    create_order_index("order_documents")
    op.create_table(
        "staff_names",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_names")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("staff_names")
    drop_order_table("order_documents")
    drop_order_table("review_questions")
