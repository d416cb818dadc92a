"""summaries, countries and topics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:12:30.007708
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "summary_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("model_key", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text_hash", "model_key", name="uq_summary_cache_text_model"),
    )
    op.create_table(
        "article_countries",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "code"),
    )
    with op.batch_alter_table("article_countries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_countries_code"), ["code"], unique=False)

    op.create_table(
        "article_topics",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "topic"),
    )
    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_topics_topic"), ["topic"], unique=False)

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("needs_tagging", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("tags_version", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_needs_tagging"), ["needs_tagging"], unique=False)

    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary_backend", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("summary_model", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("summary_fallback", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("summarized_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("sections", schema=None) as batch_op:
        batch_op.drop_column("summarized_at")
        batch_op.drop_column("summary_fallback")
        batch_op.drop_column("summary_model")
        batch_op.drop_column("summary_backend")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_articles_needs_tagging"))
        batch_op.drop_column("tags_version")
        batch_op.drop_column("needs_tagging")
        batch_op.drop_column("summary")

    with op.batch_alter_table("article_topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_topics_topic"))

    op.drop_table("article_topics")
    with op.batch_alter_table("article_countries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_countries_code"))

    op.drop_table("article_countries")
    op.drop_table("summary_cache")
