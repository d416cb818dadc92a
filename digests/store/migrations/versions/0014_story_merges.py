"""story merges: which story a merged story's number now leads to

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add story_merges: a story merged into another (and deleted) keeps its number as a way to that one."""
    op.create_table(
        "story_merges",
        sa.Column("story_id", sa.Integer(), primary_key=True),
        sa.Column("into_id", sa.Integer(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_story_merges_into_id", "story_merges", ["into_id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_story_merges_into_id", table_name="story_merges")
    op.drop_table("story_merges")
