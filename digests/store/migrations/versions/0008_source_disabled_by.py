"""sources remember who disabled them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 14:00:00

A source disabled after failing stays disabled until an admin turns it on; one disabled by the
sources file comes back when the file lists it as enabled again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add sources.disabled_by, filled in for sources already disabled."""
    op.add_column("sources", sa.Column("disabled_by", sa.String(16), nullable=True))
    op.execute("UPDATE sources SET disabled_by = 'failures' WHERE enabled = false AND failures > 0")
    op.execute("UPDATE sources SET disabled_by = 'config' WHERE enabled = false AND disabled_by IS NULL")


def downgrade() -> None:
    """Drop sources.disabled_by."""
    op.drop_column("sources", "disabled_by")
