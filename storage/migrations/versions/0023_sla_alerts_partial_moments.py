"""An alert enters the indexes of its acknowledgement and escalation only once it has them (issue 17).

The supervision report reads alerts acknowledged or escalated in a month by a range on each
moment, which no alert without that moment can match. A new alert has neither, yet each of the
two indexes took an entry for it: two of the eight index entries every alert the SLA sweep
records wrote. Both indexes now hold only the alerts that have the moment.

Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.migrations.chain import numbered

MOMENTS = ("acknowledged_at", "escalated_at")

revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    for moment in MOMENTS:
        op.drop_index(f"ix_sla_alerts_{moment}", table_name="sla_alerts")
        known = sa.text(f"{moment} IS NOT NULL")
        op.create_index(
            f"ix_sla_alerts_{moment}", "sla_alerts", [moment], postgresql_where=known, sqlite_where=known
        )


def downgrade() -> None:
    """Reverts this revision."""
    for moment in MOMENTS:
        op.drop_index(f"ix_sla_alerts_{moment}", table_name="sla_alerts")
        op.create_index(f"ix_sla_alerts_{moment}", "sla_alerts", [moment])
