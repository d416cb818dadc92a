"""deliveries remember when their next round is due

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add deliveries.next_attempt_at."""
    op.add_column("deliveries", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_deliveries_next_attempt_at", "deliveries", ["next_attempt_at"])


def downgrade() -> None:
    """Drop deliveries.next_attempt_at."""
    op.drop_index("ix_deliveries_next_attempt_at", table_name="deliveries")
    op.drop_column("deliveries", "next_attempt_at")
