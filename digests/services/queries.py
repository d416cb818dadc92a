"""Query services behind /topic, /country, /search and /article (and the CLI): plain data out."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from digests.errors import NotFoundError
from digests.store import Database, reader
from digests.store import search as search_store
from digests.store.records import ArticleFilter, ArticleRecord

__all__ = ["ArticleRecord", "article_detail", "latest", "rank", "search", "word_score"]

_WORD = re.compile(r"\w+")


async def latest(
    database: Database,
    *,
    guild_id: int | None,
    topic: str | None = None,
    country: str | None = None,
    language: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[ArticleRecord]:
    """Return the newest ready articles on a topic and/or about a country (in a language), newest first."""
    query = ArticleFilter(guild_id=guild_id, since=since, topic=topic, country=country, language=language)
    async with database.sessions() as session:
        return await reader.latest_articles(query, limit=limit, session=session)


def word_score(query: str, text: str) -> float:
    """Return the share of the query's words found in ``text``."""
    words = {w.casefold() for w in _WORD.findall(query)}
    if not words:
        return 0.0
    found = {w.casefold() for w in _WORD.findall(text)}
    return len(words & found) / len(words)


class Embedder(Protocol):
    """Whatever turns texts into unit vectors off the event loop (the enricher's models)."""

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Return one unit vector per text."""
        ...


async def search(
    database: Database,
    models: Embedder,
    text_query: str,
    *,
    guild_id: int | None,
    topic: str | None = None,
    country: str | None = None,
    language: str | None = None,
    since: datetime | None = None,
    limit: int = 25,
) -> list[ArticleRecord]:
    """Search by meaning and by words: the query is embedded on the model thread, then ranked."""
    vector = (await models.embed([text_query]))[0]
    query = ArticleFilter(guild_id=guild_id, since=since, topic=topic, country=country, language=language)
    return await rank(database, vector, text_query, query, limit=limit)


async def rank(
    database: Database,
    query_vector: np.ndarray | None,
    text_query: str,
    query: ArticleFilter,
    *,
    limit: int = 25,
    candidates: int = 5000,
) -> list[ArticleRecord]:
    """Rank the articles ``query`` allows by meaning (embedding similarity) and by words (the full-text
    index); best first."""
    async with database.sessions() as session:
        meaning = await _by_meaning(database, session, query_vector, query, limit * 4, candidates)
        hits = await search_store.full_text_hits(text_query, query, limit=limit * 8, session=session)
        ids = list(dict.fromkeys([*meaning, *hits]))
        if not ids:
            return []
        texts = await search_store.search_texts(ids, session=session)
        scores = {i: 0.75 * meaning.get(i, 0.0) + 0.25 * word_score(text_query, texts.get(i, "")) for i in ids}
        chosen = sorted(ids, key=lambda i: -scores[i])[:limit]
        records = await reader.records_by_id(chosen, session=session)
    return [_scored(records[i], scores[i]) for i in chosen if i in records]


MIN_SIMILARITY = 0.25


async def _by_meaning(
    database: Database, session: Any, vector: np.ndarray | None, query: ArticleFilter, wanted: int, candidates: int
) -> dict[int, float]:
    """Return up to ``wanted`` articles ``query`` allows nearest in meaning to ``vector``, with their similarity.

    The vector index answers over every article; its answers pass through the query's filters. When the filters
    leave too few (a narrow topic, country or server), the newest ``candidates`` articles they allow are
    compared as well.
    """
    if vector is None:
        return {}
    index = database.vectors
    index.follow(database.sessions)  # in the background; until its first read is done, the newest are scanned
    near = index.search(vector, max(wanted * 2, 100)) if index.ready else []
    allowed = await search_store.allowed_ids([key for key, _ in near], query, session=session)
    meaning = {key: similarity for key, similarity in near if key in allowed and similarity >= MIN_SIMILARITY}
    exhausted = bool(near) and near[-1][1] < MIN_SIMILARITY  # nothing similar enough lies beyond these
    if not near or (len(meaning) < wanted // 2 and not exhausted):
        rows = await search_store.recent_vectors(query, limit=candidates, session=session)
        if rows:
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float16).reshape(len(rows), -1)
            similarity = matrix.astype(np.float32) @ vector.astype(np.float32)
            for i in np.argsort(-similarity)[:wanted]:
                if similarity[i] >= MIN_SIMILARITY:
                    meaning.setdefault(rows[i][0], float(similarity[i]))
    return dict(sorted(meaning.items(), key=lambda kv: -kv[1])[:wanted])


def _scored(record: ArticleRecord, score: float) -> ArticleRecord:
    return replace(record, score=round(score, 4))


async def article_detail(database: Database, article_id: int, *, guild_id: int | None) -> ArticleRecord:
    """Return an article with all its sections; NotFoundError when it is not visible from ``guild_id``."""
    async with database.sessions() as session:
        record = await reader.article_record(article_id, guild_id=guild_id, session=session)
    if record is None:
        raise NotFoundError(f"There is no article {article_id} here.")
    return record
