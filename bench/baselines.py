"""Earlier implementations kept only to measure optimizations against, in the same run."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from digests.services.queries import word_score
from digests.store import Database
from digests.store.models import Article, ArticleVector
from digests.store.reader import records_by_id
from digests.store.records import ArticleRecord
from digests.store.visibility import visible_articles


async def scan_search(
    database: Database,
    query_vector: np.ndarray,
    text: str,
    *,
    guild_id: int | None,
    limit: int = 25,
    candidates: int = 5000,
) -> list[ArticleRecord]:
    """Search as first written: load the recent candidates' vectors, titles and summaries; score words in Python."""
    ids_query = (
        select(Article.id)
        .where(Article.ready_at.is_not(None), visible_articles(guild_id))
        .order_by(Article.ready_at.desc())
        .limit(candidates)
    )
    async with database.sessions() as session:
        rows = (
            await session.execute(
                select(ArticleVector.article_id, ArticleVector.vector, Article.title, Article.summary)
                .join(Article, Article.id == ArticleVector.article_id)
                .where(ArticleVector.article_id.in_(ids_query))
            )
        ).all()
        if not rows:
            return []
        ids = [row[0] for row in rows]
        words = np.array([word_score(text, f"{row[2]} {row[3] or ''}") for row in rows], dtype=np.float32)
        matrix = np.stack([np.frombuffer(row[1], dtype=np.float16) for row in rows]).astype(np.float32)
        meaning = matrix @ query_vector.astype(np.float32)
        scores = 0.75 * meaning + 0.25 * words
        keep = [i for i in np.argsort(-scores) if meaning[i] >= 0.25 or words[i] > 0][:limit]
        chosen = {ids[i]: float(scores[i]) for i in keep}
        records = await records_by_id(list(chosen), session=session)
    return [records[i] for i in chosen if i in records]


async def recent_scan_rank(
    database: Database, query_vector: np.ndarray, text: str, *, guild_id: int | None, limit: int = 25
) -> list[ArticleRecord]:
    """Search as before the vector index: meaning over the newest 5,000 articles' vectors, words by full text."""
    from digests.store import search as store
    from digests.store.records import ArticleFilter

    query = ArticleFilter(guild_id=guild_id)
    async with database.sessions() as session:
        rows = await store.recent_vectors(query, limit=5000, session=session)
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float16).reshape(len(rows), -1)
        similarity = matrix.astype(np.float32) @ query_vector.astype(np.float32)
        meaning = {rows[i][0]: float(similarity[i]) for i in np.argsort(-similarity)[: limit * 4]}
        hits = await store.full_text_hits(text, query, limit=limit * 8, session=session)
        ids = list(dict.fromkeys([*meaning, *hits]))
        texts = await store.search_texts(ids, session=session)
        scores = {i: 0.75 * meaning.get(i, 0.0) + 0.25 * word_score(text, texts.get(i, "")) for i in ids}
        chosen = sorted(ids, key=lambda i: -scores[i])[:limit]
        records = await records_by_id(chosen, session=session)
    return [records[i] for i in chosen if i in records]
