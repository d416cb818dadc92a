"""Search: which articles a query allows, their stored vectors, and full-text hits with each database's own
index; repository functions that never commit."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from digests.store.models import (
    Article,
    ArticleVector,
)
from digests.store.reader import ready_articles
from digests.store.records import (
    ArticleFilter,
)

_BATCH = 500


async def allowed_ids(ids: Sequence[int], query: ArticleFilter, *, session: AsyncSession) -> set[int]:
    """Return which of ``ids`` are ready articles that ``query`` allows."""
    allowed: set[int] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        allowed.update(
            await session.scalars(ready_articles(query).with_only_columns(Article.id).where(Article.id.in_(chunk)))
        )
    return allowed


async def recent_vectors(query: ArticleFilter, *, limit: int, session: AsyncSession) -> list[tuple[int, bytes]]:
    """Return (article id, stored float16 embedding) of the newest ``limit`` articles ``query`` allows."""
    recent = ready_articles(query).with_only_columns(Article.id).order_by(Article.ready_at.desc()).limit(limit)
    statement = select(ArticleVector.article_id, ArticleVector.vector).where(ArticleVector.article_id.in_(recent))
    return [(row[0], row[1]) for row in await session.execute(statement)]


_SEARCH_WORD = re.compile(r"\w+")


async def full_text_hits(text_query: str, query: ArticleFilter, *, limit: int, session: AsyncSession) -> list[int]:
    """Return ids of articles ``query`` allows whose title or summary has any of the words, newest first."""
    words = [w for w in dict.fromkeys(_SEARCH_WORD.findall(text_query.casefold())) if len(w) > 1][:12]
    if not words:
        return []
    if session.get_bind().dialect.name == "sqlite":
        # Newest matches first: FTS5 walks rowids backwards cheaply, where bm25 would rank every match.
        statement = text(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :query ORDER BY rowid DESC LIMIT :limit"
        )
        rows = await session.execute(statement, {"query": " OR ".join(f'"{w}"' for w in words), "limit": limit})
    else:
        # Ranking every match with ts_rank is slow when the words are common; the newest matches come
        # first (the planner walks the primary key backwards, or the GIN index when words are rare) and
        # the caller scores the words again on these few.
        statement = text(
            "SELECT id FROM articles WHERE search_vector @@ to_tsquery('english', :query) ORDER BY id DESC LIMIT :limit"
        )
        rows = await session.execute(statement, {"query": " | ".join(words), "limit": limit})
    hits = [row[0] for row in rows]
    if not hits:
        return []
    allowed = set(
        await session.scalars(ready_articles(query).with_only_columns(Article.id).where(Article.id.in_(hits)))
    )
    return [i for i in hits if i in allowed]


async def search_texts(ids: Sequence[int], *, session: AsyncSession) -> dict[int, str]:
    """Return each article's title and summary as one text, for scoring words."""
    statement = select(Article.id, Article.title, Article.summary).where(Article.id.in_(list(ids)))
    return {row[0]: f"{row[1]} {row[2] or ''}" for row in await session.execute(statement)}
