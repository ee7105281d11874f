"""Binding a Telegram chat to an order by a one-time link, and the consent for later orders (issue 12).

Create Date: 2026-12-02
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
        "chat_binding_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        order_foreign_key("chat_binding_tokens"),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_chat_binding_tokens")),
    )
    op.create_index(
        op.f("ix_chat_binding_tokens_order_id"), "chat_binding_tokens", ["order_id"], unique=False
    )
    op.create_table(
        "chat_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("agreed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_consents")),
    )
    op.create_index(op.f("ix_chat_consents_phone"), "chat_consents", ["phone"], unique=False)
    op.create_index(op.f("ix_chat_consents_email"), "chat_consents", ["email"], unique=False)


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index(op.f("ix_chat_consents_email"), table_name="chat_consents")
    op.drop_index(op.f("ix_chat_consents_phone"), table_name="chat_consents")
    op.drop_table("chat_consents")
    op.drop_index(op.f("ix_chat_binding_tokens_order_id"), table_name="chat_binding_tokens")
    op.drop_table("chat_binding_tokens")
