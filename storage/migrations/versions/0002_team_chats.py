"""Team chats: the chat id of each department, which follows a group's migration to a supergroup.

Create Date: 2026-03-08
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
        "team_chats",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("configured_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_team_chats")),
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("team_chats")
