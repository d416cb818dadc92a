"""stories: articles about one event grouped across outlets

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add stories, members, what each subscription was sent (and its threads), follows; articles wait for one."""
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stories_guild_last_updated", "stories", ["guild_id", "last_updated"])
    op.create_table(
        "story_members",
        sa.Column("article_id", sa.Integer(), sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_story_members_story_id", "story_members", ["story_id"])
    op.create_table(
        "story_deliveries",
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("members_sent", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("thread_id", sa.String(40), nullable=True),
    )
    op.create_table(
        "story_follows",
        sa.Column("story_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("members_notified", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_story_follows_user_id", "story_follows", ["user_id"])
    op.add_column("subscriptions", sa.Column("threads", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("deliveries", sa.Column("stories", sa.JSON(), nullable=True))
    # A plain ADD COLUMN: a batch copy of the table would drop SQLite's full-text triggers.
    op.add_column("articles", sa.Column("needs_story", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_articles_needs_story", "articles", ["needs_story", "ready_at"])
    # Articles ready before stories existed join them at the next enrichment.
    op.execute("UPDATE articles SET needs_story = ready_at IS NOT NULL")


def downgrade() -> None:
    """Drop the story tables and the articles' flag."""
    op.drop_index("ix_articles_needs_story", table_name="articles")
    op.drop_column("articles", "needs_story")
    op.drop_column("deliveries", "stories")
    op.drop_column("subscriptions", "threads")
    op.drop_index("ix_story_follows_user_id", table_name="story_follows")
    op.drop_table("story_follows")
    op.drop_table("story_deliveries")
    op.drop_index("ix_story_members_story_id", table_name="story_members")
    op.drop_table("story_members")
    op.drop_index("ix_stories_guild_last_updated", table_name="stories")
    op.drop_table("stories")
