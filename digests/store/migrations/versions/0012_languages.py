"""languages: each article's detected language and English translations; subscriptions filter by language

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add articles.language (set when tags are next computed) and translations; subscriptions.languages."""
    # Plain ADD COLUMNs: a batch copy of the table would drop SQLite's full-text triggers.
    op.add_column("articles", sa.Column("language", sa.String(8), nullable=True))
    op.add_column("articles", sa.Column("title_translated", sa.Text(), nullable=True))
    op.add_column("articles", sa.Column("summary_translated", sa.Text(), nullable=True))
    op.create_index("ix_articles_language", "articles", ["language"])
    op.add_column("subscriptions", sa.Column("languages", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the language columns."""
    op.drop_column("subscriptions", "languages")
    op.drop_index("ix_articles_language", table_name="articles")
    op.drop_column("articles", "summary_translated")
    op.drop_column("articles", "title_translated")
    op.drop_column("articles", "language")
