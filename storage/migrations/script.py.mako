"""${message}

Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
from storage.migrations.chain import numbered

# Name the file NNNN_what.py with the next free number: the revision ids come from the file names.
revision, down_revision = numbered(__file__)


def upgrade() -> None:
    """Applies this revision."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Reverts this revision."""
    ${downgrades if downgrades else "pass"}
