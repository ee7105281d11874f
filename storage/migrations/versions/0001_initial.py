"""Initial schema: orders with audit and clocks, numbering, outbox, staff, users, FSM states.

Create Date: 2026-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered
from storage.migrations.columns import JSON_DOCUMENT, UTC_DATETIME, create_order_index, drop_order_table, order_rows

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    op.create_table(
        "fsm_states",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=200), nullable=True),
        sa.Column("data", JSON_DOCUMENT, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_fsm_states")),
    )
    op.create_table(
        "order_number_counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_order_number_counters")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("resume_status", sa.String(length=32), nullable=True),
        sa.Column("exception_type", sa.String(length=32), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_phone", sa.String(length=32), nullable=True),
        sa.Column("customer_email", sa.String(length=254), nullable=True),
        sa.Column("customer_telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_language", sa.String(length=8), nullable=False),
        sa.Column("address_country", sa.String(length=2), nullable=False),
        sa.Column("address_city", sa.String(length=200), nullable=False),
        sa.Column("address_street", sa.String(length=500), nullable=False),
        sa.Column("address_postcode", sa.String(length=20), nullable=True),
        sa.Column("address_area", sa.String(length=200), nullable=True),
        sa.Column("items", JSON_DOCUMENT, nullable=False),
        sa.Column("payment_method", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("entered_by", sa.BigInteger(), nullable=True),
        sa.Column("received_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
        sa.UniqueConstraint("reference", name=op.f("uq_orders_reference")),
    )
    op.create_index(op.f("ix_orders_customer_telegram_user_id"), "orders", ["customer_telegram_user_id"])
    op.create_index(op.f("ix_orders_status"), "orders", ["status"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("params", JSON_DOCUMENT, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_outbox_dedup_key")),
    )
    op.create_index(op.f("ix_outbox_order_id"), "outbox", ["order_id"])
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_index(op.f("ix_processed_updates_processed_at"), "processed_updates", ["processed_at"])
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit")),
    )
    op.create_index(op.f("ix_staff_audit_user_id"), "staff_audit", ["user_id"])
    op.create_table(
        "staff_roles",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.BigInteger(), nullable=True),
        sa.Column("granted_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_staff_roles")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "order_audit",
        *order_rows("order_audit"),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
    )
    create_order_index("order_audit")
    op.create_table(
        "order_clocks",
        *order_rows("order_clocks"),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("paused_at", UTC_DATETIME, nullable=True),
    )
    op.create_index("ix_order_clocks_open_due", "order_clocks", ["finished_at", "due_at"])
    create_order_index("order_clocks")


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index("ix_order_clocks_open_due", table_name="order_clocks")
    drop_order_table("order_clocks")
    drop_order_table("order_audit")
    op.drop_table("users")
    op.drop_table("staff_roles")
    op.drop_index(op.f("ix_staff_audit_user_id"), table_name="staff_audit")
    op.drop_table("staff_audit")
    op.drop_index(op.f("ix_processed_updates_processed_at"), table_name="processed_updates")
    op.drop_table("processed_updates")
    op.drop_index("ix_outbox_state_next_attempt_at", table_name="outbox")
    op.drop_index(op.f("ix_outbox_order_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_customer_telegram_user_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_table("order_number_counters")
    op.drop_table("fsm_states")
