"""Customer conversations with customer service, and each team chat's language (issue 18, R-5.2, R-X.3).

Create Date: 2026-12-02
"""

from __future__ import annotations


import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered

# Frozen copy of the column type in storage/models.py: a migration must not change when models do.
UTC_DATETIME = sa.DateTime(timezone=True)

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_conversations_customer_id")),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("from_customer", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("due_at", UTC_DATETIME, nullable=True),
        sa.Column("answered_at", UTC_DATETIME, nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_messages_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_messages")),
    )
    op.create_index(
        "ix_conversation_messages_conversation_id", "conversation_messages", ["conversation_id", "id"]
    )
    # The card a staff member replies to is found by the chat and the message id Telegram gave it.
    op.create_index("ix_outbox_chat_id_telegram_message_id", "outbox", ["chat_id", "telegram_message_id"])
    with op.batch_alter_table("team_chats") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    """Reverts this revision."""
    with op.batch_alter_table("team_chats") as batch:
        batch.drop_column("language")
    op.drop_index("ix_outbox_chat_id_telegram_message_id", table_name="outbox")
    op.drop_index("ix_conversation_messages_conversation_id", table_name="conversation_messages")
    op.drop_table("conversation_messages")
    op.drop_table("conversations")
