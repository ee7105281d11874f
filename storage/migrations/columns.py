"""Column types and table builders the migrations share.

Frozen like the migrations themselves: a migration must not change when storage/models.py does, so
nothing here imports the models, and a change here must leave the schema of every revision as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

UTC_DATETIME = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def order_rows(table: str) -> tuple[SchemaItem, ...]:
    """The leading columns and keys of a table of rows that belong to an order (deleted with it).

    Spread at the start of op.create_table's arguments, so the order's foreign key comes first
    among the table's constraints, as it always did.
    """
    return (
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        order_foreign_key(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )


def order_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    """The key from a table's order_id to its order, deleting the table's rows with the order."""
    return sa.ForeignKeyConstraint(
        ["order_id"], ["orders.id"], name=op.f(f"fk_{table}_order_id_orders"), ondelete="CASCADE"
    )


def create_order_index(table: str) -> None:
    """Indexes a table of order rows by its order, for the order's page and its deletion."""
    op.create_index(op.f(f"ix_{table}_order_id"), table, ["order_id"])


def drop_order_table(table: str) -> None:
    """Drops a table of order rows together with its order index."""
    op.drop_index(op.f(f"ix_{table}_order_id"), table_name=table)
    op.drop_table(table)
