"""full-text search indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, summary, content='articles', content_rowid='id')",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
    END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
        INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]
_POSTGRES_UP = [
    # A stored column, so that matching rows need no re-parsing (the ORM does not map it).
    "ALTER TABLE articles ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || coalesce(summary, ''))) STORED",
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
]


def upgrade() -> None:
    statements = _SQLITE_UP if op.get_bind().dialect.name == "sqlite" else _POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
