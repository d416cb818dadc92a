"""Query services behind /topic, /country, /search and /article (and the CLI): plain data out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from digests.errors import NotFoundError
from digests.store import repo
from digests.store.db import Database
from digests.store.models import GLOBAL_SCOPE, Article, ArticleCountry, ArticleTopic, ArticleVector, Source

_WORD = re.compile(r"\w+")


@dataclass(slots=True, frozen=True)
class ArticleBrief:
    """One article in a result list."""

    id: int
    title: str
    url: str | None
    source: str
    when: datetime | None
    countries: tuple[str, ...]
    topics: tuple[str, ...]
    summary: str
    score: float = 0.0


@dataclass(slots=True, frozen=True)
class ArticleDetail:
    """One article with every section summary."""

    brief: ArticleBrief
    sections: tuple[tuple[str | None, str], ...]


def _brief(article: Article, score: float = 0.0) -> ArticleBrief:
    return ArticleBrief(
        id=article.id,
        title=article.title,
        url=article.url,
        source=article.source.name if article.source is not None else article.source_name,
        when=article.published_at or article.ready_at,
        countries=tuple(c.code for c in article.countries),
        topics=tuple(t.topic for t in article.topics),
        summary=article.summary or "",
        score=round(score, 4),
    )


def _scoped(query, guild_id: int | None):
    if guild_id is None:
        return query.where(
            or_(Article.source_id.is_(None), Article.source_id.in_(select(Source.id).where(Source.guild_id == 0)))
        )
    scoped = select(Source.id).where(Source.guild_id.in_([GLOBAL_SCOPE, guild_id]))
    return query.where(or_(Article.source_id.is_(None), Article.source_id.in_(scoped)))


def _base(*, guild_id: int | None, since: datetime | None, topic: str | None, country: str | None):
    query = select(Article).where(Article.ready_at.is_not(None))
    if since is not None:
        query = query.where(Article.ready_at >= since)
    if topic:
        query = query.where(exists().where(ArticleTopic.article_id == Article.id, ArticleTopic.topic == topic))
    if country:
        query = query.where(exists().where(ArticleCountry.article_id == Article.id, ArticleCountry.code == country))
    return _scoped(query, guild_id)


_RELATED = (selectinload(Article.countries), selectinload(Article.topics), selectinload(Article.source))


async def latest(
    database: Database,
    *,
    guild_id: int | None,
    topic: str | None = None,
    country: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[ArticleBrief]:
    """Return the newest ready articles on a topic and/or about a country, newest first."""
    query = (
        _base(guild_id=guild_id, since=since, topic=topic, country=country)
        .order_by(Article.ready_at.desc(), Article.id.desc())
        .limit(limit)
        .options(*_RELATED)
    )
    async with database.sessions() as session:
        return [_brief(a) for a in await session.scalars(query)]


def word_score(query: str, text: str) -> float:
    """Return the share of the query's words found in ``text``."""
    words = {w.casefold() for w in _WORD.findall(query)}
    if not words:
        return 0.0
    found = {w.casefold() for w in _WORD.findall(text)}
    return len(words & found) / len(words)


async def search(
    database: Database,
    query_vector: np.ndarray | None,
    text_query: str,
    *,
    guild_id: int | None,
    topic: str | None = None,
    country: str | None = None,
    since: datetime | None = None,
    limit: int = 25,
    candidates: int = 5000,
) -> list[ArticleBrief]:
    """Rank articles by meaning (embedding similarity) and by words (the full-text index); best first."""
    base = _base(guild_id=guild_id, since=since, topic=topic, country=country)
    async with database.sessions() as session:
        meaning: dict[int, float] = {}
        if query_vector is not None:
            recent = base.with_only_columns(Article.id).order_by(Article.ready_at.desc()).limit(candidates)
            rows = (
                await session.execute(
                    select(ArticleVector.article_id, ArticleVector.vector).where(ArticleVector.article_id.in_(recent))
                )
            ).all()
            if rows:
                matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float16).reshape(len(rows), -1)
                similarity = matrix.astype(np.float32) @ query_vector.astype(np.float32)
                best = np.argsort(-similarity)[: limit * 4]
                meaning = {rows[i][0]: float(similarity[i]) for i in best if similarity[i] >= 0.25}
        hits = await repo.full_text_hits(text_query, backend=database.backend, limit=limit * 8, session=session)
        if hits:
            allowed = base.with_only_columns(Article.id).where(Article.id.in_(hits))
            hits = list(await session.scalars(allowed))
        ids = list(dict.fromkeys([*meaning, *hits]))
        if not ids:
            return []
        texts = {
            row[0]: f"{row[1]} {row[2] or ''}"
            for row in await session.execute(
                select(Article.id, Article.title, Article.summary).where(Article.id.in_(ids))
            )
        }
        scores = {i: 0.75 * meaning.get(i, 0.0) + 0.25 * word_score(text_query, texts.get(i, "")) for i in ids}
        chosen = sorted(ids, key=lambda i: -scores[i])[:limit]
        articles = {
            a.id: a for a in await session.scalars(select(Article).where(Article.id.in_(chosen)).options(*_RELATED))
        }
    return [_brief(articles[i], scores[i]) for i in chosen if i in articles]


async def article_detail(database: Database, article_id: int, *, guild_id: int | None) -> ArticleDetail:
    """Return an article with all its section summaries; NotFoundError when it is not visible here."""
    query = _scoped(select(Article).where(Article.id == article_id), guild_id).options(
        *_RELATED, selectinload(Article.sections)
    )
    async with database.sessions() as session:
        article = await session.scalar(query)
    if article is None:
        raise NotFoundError(f"There is no article {article_id} here.")
    sections = tuple((s.heading, s.summary or s.text[:1000]) for s in article.sections)
    return ArticleDetail(_brief(article), sections)
