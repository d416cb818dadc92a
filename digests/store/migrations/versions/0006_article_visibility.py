"""articles carry the server that may see them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 13:00:00

Until now an article's visibility was read through its source, so removing a server's private
source (``source_id`` set to NULL) made that server's articles visible to everyone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add articles.guild_id, filled from each article's source."""
    # Plain ALTER TABLE on SQLite too: a batch copy of the table would drop the full-text triggers.
    op.add_column("articles", sa.Column("guild_id", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_articles_guild_id", "articles", ["guild_id"])
    op.execute(
        "UPDATE articles SET guild_id = (SELECT sources.guild_id FROM sources WHERE sources.id = articles.source_id) "
        "WHERE source_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop articles.guild_id."""
    op.drop_index("ix_articles_guild_id", table_name="articles")
    op.drop_column("articles", "guild_id")
