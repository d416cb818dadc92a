"""article url keys: one canonical URL is one article, whatever guids and sources bring it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add articles.url_key (the hash of the canonical URL), looked up with the article's server.

    Articles stored before it have none: they are matched by their key alone, as they were.
    """
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("url_key", sa.String(64), nullable=True))
    op.create_index("ix_articles_guild_url_key", "articles", ["guild_id", "url_key"])


def downgrade() -> None:
    """Drop the column."""
    op.drop_index("ix_articles_guild_url_key", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("url_key")
