"""vector updates: when each article's embedding was last written, so search indexes follow the table

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 20:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add article_vectors.updated_at (empty for older rows, which a new index reads whole anyway)."""
    op.add_column("article_vectors", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_article_vectors_updated_at", "article_vectors", ["updated_at"])


def downgrade() -> None:
    """Drop the column."""
    op.drop_index("ix_article_vectors_updated_at", table_name="article_vectors")
    op.drop_column("article_vectors", "updated_at")
