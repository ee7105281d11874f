"""The SLA sweeps find clocks still to alert without reading sla_alerts (issue 17).

Each clock carries when its warning and its breach were alerted (set in the alert's transaction),
and the breach sweep reads the partial index of running, unpaused, unalerted clocks by due time:
clocks already alerted are not in it, so a sweep with nothing new reads nothing.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered

# Frozen copy of the column type in storage/models.py: a migration must not change when models do.
UTC_DATETIME = sa.DateTime(timezone=True)
UNALERTED_BREACH = sa.text("finished_at IS NULL AND paused_at IS NULL AND breach_alerted_at IS NULL")

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    # Plain ALTER TABLE on both databases: rebuilding order_clocks on SQLite would cascade-delete its alerts.
    op.add_column("order_clocks", sa.Column("warning_alerted_at", UTC_DATETIME, nullable=True))
    op.add_column("order_clocks", sa.Column("breach_alerted_at", UTC_DATETIME, nullable=True))
    for kind in ("warning", "breach"):
        op.execute(
            f"UPDATE order_clocks SET {kind}_alerted_at = ("
            "SELECT MIN(sla_alerts.created_at) FROM sla_alerts "
            f"WHERE sla_alerts.clock_id = order_clocks.id AND sla_alerts.kind = '{kind}') "
            "WHERE EXISTS (SELECT 1 FROM sla_alerts "
            f"WHERE sla_alerts.clock_id = order_clocks.id AND sla_alerts.kind = '{kind}')"
        )
    op.create_index(
        "ix_order_clocks_unalerted_breach_due",
        "order_clocks",
        ["due_at", "id"],
        postgresql_where=UNALERTED_BREACH,
        sqlite_where=UNALERTED_BREACH,
    )


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index("ix_order_clocks_unalerted_breach_due", table_name="order_clocks")
    op.drop_column("order_clocks", "breach_alerted_at")
    op.drop_column("order_clocks", "warning_alerted_at")
