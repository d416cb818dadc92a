"""processes announce themselves; deliveries are claimed with a lease

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the workers table and the delivery claim columns."""
    op.create_table(
        "workers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("shard", sa.String(40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])
    op.add_column("deliveries", sa.Column("claimed_by", sa.String(100), nullable=True))
    op.add_column("deliveries", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the claim columns and the workers table."""
    op.drop_column("deliveries", "claimed_until")
    op.drop_column("deliveries", "claimed_by")
    op.drop_index("ix_workers_heartbeat_at", table_name="workers")
    op.drop_table("workers")
