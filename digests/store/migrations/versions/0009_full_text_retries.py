"""teasers remember that their full text is still to be fetched

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add articles.full_text_due and articles.full_text_attempts."""
    op.add_column("articles", sa.Column("full_text_due", sa.DateTime(timezone=True), nullable=True))
    op.add_column("articles", sa.Column("full_text_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_articles_full_text_due", "articles", ["full_text_due"])


def downgrade() -> None:
    """Drop the full-text retry columns."""
    op.drop_index("ix_articles_full_text_due", table_name="articles")
    op.drop_column("articles", "full_text_attempts")
    op.drop_column("articles", "full_text_due")
