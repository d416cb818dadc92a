"""Articles as readers ask for them: the newest, one in full, a digest's candidates and sections;
repository functions that never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from digests.store.models import (
    Article,
    ArticleCountry,
    ArticleTopic,
    Section,
    Source,
    StoryMember,
)
from digests.store.records import (
    ArticleFilter,
    ArticleRecord,
    SectionRecord,
)
from digests.store.visibility import visible_articles

_RELATED = (selectinload(Article.countries), selectinload(Article.topics), selectinload(Article.source))


def source_name(article: Article) -> str:
    """Return the name of an article's source (loaded), or the one it had when its source was removed."""
    return article.source.name if article.source is not None else article.source_name


def to_record(article: Article, *, sections: bool = False, score: float = 0.0) -> ArticleRecord:
    """Return an article row (with its tags and source loaded) as plain data."""
    return ArticleRecord(
        id=article.id,
        title=article.title,
        url=article.url,
        source=source_name(article),
        published_at=article.published_at,
        ready_at=article.ready_at,
        countries=tuple(c.code for c in article.countries),
        topics=tuple(t.topic for t in article.topics),
        topic_score=max((t.score for t in article.topics), default=None),
        summary=article.summary or "",
        sections=tuple(SectionRecord(s.heading, s.summary, s.text) for s in article.sections) if sections else (),
        score=round(score, 4),
        guild_id=article.guild_id,
        language=article.language,
        title_translated=article.title_translated,
        summary_translated=article.summary_translated,
    )


def ready_articles(query: ArticleFilter) -> Select[Any]:
    """Select the ready articles ``query`` may see, with its filters applied."""
    statement = select(Article).where(Article.ready_at.is_not(None), visible_articles(query.guild_id))
    if query.since is not None:
        statement = statement.where(Article.ready_at >= query.since)
    if query.topic:
        statement = statement.where(
            exists().where(ArticleTopic.article_id == Article.id, ArticleTopic.topic == query.topic)
        )
    if query.country:
        statement = statement.where(
            exists().where(ArticleCountry.article_id == Article.id, ArticleCountry.code == query.country)
        )
    if query.language:
        statement = statement.where(Article.language == query.language)
    return statement


async def latest_articles(query: ArticleFilter, *, limit: int, session: AsyncSession) -> list[ArticleRecord]:
    """Return the newest ready articles ``query`` allows, newest first."""
    statement = (
        ready_articles(query).order_by(Article.ready_at.desc(), Article.id.desc()).limit(limit).options(*_RELATED)
    )
    return [to_record(a) for a in await session.scalars(statement)]


async def article_record(article_id: int, *, guild_id: int | None, session: AsyncSession) -> ArticleRecord | None:
    """Return one article with its sections, or None when it does not exist or is not visible from ``guild_id``."""
    statement = (
        select(Article)
        .where(Article.id == article_id, visible_articles(guild_id))
        .options(*_RELATED, selectinload(Article.sections))
    )
    article = await session.scalar(statement)
    return to_record(article, sections=True) if article is not None else None


async def digest_candidates(
    *,
    since: datetime,
    until: datetime,
    topics: Sequence[str] = (),
    countries: Sequence[str] = (),
    languages: Sequence[str] = (),
    guild_id: int | None,
    limit: int = 2000,
    session: AsyncSession,
) -> tuple[list[ArticleRecord], dict[int, int]]:
    """Return the articles ``guild_id`` may see that became ready in (since, until], newest first, as light
    records (their best topic alone; no countries, summary or sections), with the story of each that has one.

    One statement of plain columns: a digest ranks the candidates and loads the few it shows in full
    (``records_by_id``, ``section_records``).
    """
    best = aliased(ArticleTopic)
    query = (
        select(
            Article.id,
            Article.title,
            Article.url,
            func.coalesce(Source.name, Article.source_name),
            Article.published_at,
            Article.ready_at,
            Article.guild_id,
            Article.language,
            best.topic,
            best.score,
            StoryMember.story_id,
        )
        .outerjoin(Source, Source.id == Article.source_id)
        .outerjoin(best, (best.article_id == Article.id) & (best.rank == 0))
        .outerjoin(StoryMember, StoryMember.article_id == Article.id)
        .where(Article.ready_at > since, Article.ready_at <= until, visible_articles(guild_id))
        .order_by(Article.ready_at.desc(), Article.id.desc())
        .limit(limit)
    )
    if topics:
        query = query.where(exists().where(ArticleTopic.article_id == Article.id, ArticleTopic.topic.in_(list(topics))))
    if countries:
        query = query.where(
            exists().where(ArticleCountry.article_id == Article.id, ArticleCountry.code.in_(list(countries)))
        )
    if languages:
        query = query.where(Article.language.in_(list(languages)))
    records: list[ArticleRecord] = []
    story_of: dict[int, int] = {}
    for row in await session.execute(query):
        (id_, title, url, source, published_at, ready_at, guild, language, topic, score, story) = row
        records.append(
            ArticleRecord(
                id=id_,
                title=title,
                url=url,
                source=source,
                published_at=published_at,
                ready_at=ready_at,
                countries=(),
                topics=(topic,) if topic else (),
                topic_score=score,
                summary="",
                guild_id=guild,
                language=language,
            )
        )
        if story is not None:
            story_of[id_] = story
    return records, story_of


async def section_records(article_ids: Sequence[int], *, session: AsyncSession) -> dict[int, list[SectionRecord]]:
    """Return the sections of these articles, in order, by article id."""
    statement = (
        select(Section.article_id, Section.heading, Section.summary, Section.text)
        .where(Section.article_id.in_(list(article_ids)))
        .order_by(Section.article_id, Section.position)
    )
    sections: dict[int, list[SectionRecord]] = {}
    for article_id, heading, summary, text_ in await session.execute(statement):
        sections.setdefault(article_id, []).append(SectionRecord(heading, summary, text_))
    return sections


async def count_waiting(*, since: datetime, until: datetime, guild_id: int | None, session: AsyncSession) -> int:
    """Count the articles ``guild_id`` may see, collected in (since, until], that are not ready yet."""
    statement = select(func.count()).where(
        Article.ready_at.is_(None),
        Article.collected_at > since,
        Article.collected_at <= until,
        visible_articles(guild_id),
    )
    return await session.scalar(statement) or 0


async def records_by_id(ids: Sequence[int], *, session: AsyncSession) -> dict[int, ArticleRecord]:
    """Return the articles with these ids, as plain records."""
    rows = await session.scalars(select(Article).where(Article.id.in_(list(ids))).options(*_RELATED))
    return {a.id: to_record(a) for a in rows}
