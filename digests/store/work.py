"""The enrichment work queue: sections waiting for a summary and articles waiting for tags, claimed in
batches and saved as plain records; repository functions that never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from digests.store.db import skip_locked
from digests.store.models import (
    Article,
    ArticleCountry,
    ArticleTopic,
    ArticleVector,
    CachedSummary,
    Section,
)
from digests.store.records import (
    ArticleToTag,
    SectionToSummarize,
    SummaryIn,
    TagsIn,
)


async def claim_sections(limit: int, *, session: AsyncSession) -> list[SectionToSummarize]:
    """Return up to ``limit`` sections that need a summary, each with its article's title, locked for this worker."""
    statement = (
        select(Section, Article.title)
        .join(Article, Section.article_id == Article.id)
        .where(Section.needs_summary.is_(True))
        .order_by(Section.id)
        .limit(limit)
    )
    return [
        SectionToSummarize(section.id, title, section.heading, section.text, section.text_hash, section.position)
        for section, title in await session.execute(skip_locked(statement, session))
    ]


async def cached_summaries(hashes: Iterable[str], model_key: str, *, session: AsyncSession) -> dict[str, SummaryIn]:
    """Return the cached summaries of these texts by this model and parameters, by text hash."""
    statement = select(CachedSummary).where(
        CachedSummary.model_key == model_key, CachedSummary.text_hash.in_(list(hashes))
    )
    return {
        c.text_hash: SummaryIn(c.summary, c.backend, c.model_id, c.fallback) for c in await session.scalars(statement)
    }


async def save_section_summaries(
    sections: Sequence[SectionToSummarize],
    *,
    cached: Mapping[str, SummaryIn],
    fresh: Mapping[str, SummaryIn],
    model_key: str,
    now: datetime,
    session: AsyncSession,
) -> int:
    """Cache the fresh summaries, give every section its summary, and return how many are guarded fallbacks."""
    for text_hash, summary in fresh.items():
        session.add(
            CachedSummary(
                text_hash=text_hash,
                model_key=model_key,
                summary=summary.summary,
                backend=summary.backend,
                model_id=summary.model_id,
                fallback=summary.fallback,
                created_at=now,
            )
        )
    known = {**cached, **fresh}
    rows = await session.scalars(select(Section).where(Section.id.in_([s.id for s in sections])))
    fallbacks = 0
    for section in rows:
        entry = known[section.text_hash]
        section.summary = entry.summary
        section.summary_backend = entry.backend
        section.summary_model = entry.model_id
        section.summary_fallback = entry.fallback
        section.summarized_at = now
        section.needs_summary = False
        fallbacks += entry.fallback
    return fallbacks


async def claim_articles_to_tag(version: str, limit: int, *, session: AsyncSession) -> list[ArticleToTag]:
    """Return up to ``limit`` articles whose sections are summarized and whose tags are missing or stale, locked
    for this worker."""
    pending = exists().where(Section.article_id == Article.id, Section.needs_summary.is_(True))
    stale = or_(Article.needs_tagging.is_(True), Article.tags_version.is_(None), Article.tags_version != version)
    statement = (
        select(Article).where(stale, ~pending).order_by(Article.id).limit(limit).options(selectinload(Article.sections))
    )
    return [
        ArticleToTag(a.id, a.title, a.text, tuple(s.summary or "" for s in a.sections))
        for a in await session.scalars(skip_locked(statement, session))
    ]


async def save_tags(
    found: Mapping[int, TagsIn], *, version: str, model_id: str, now: datetime, session: AsyncSession
) -> None:
    """Record what tagging found for claimed articles, by article id; each is ready from ``now`` on and waits for
    its story."""
    statement = (
        select(Article)
        .where(Article.id.in_(list(found)))
        .options(selectinload(Article.countries), selectinload(Article.topics), selectinload(Article.vector))
    )
    for article in await session.scalars(statement):
        tags = found[article.id]
        article.summary = tags.summary
        article.language = tags.language
        article.title_translated, article.summary_translated = tags.translated or (None, None)
        article.countries = [ArticleCountry(code=c, score=score, rank=r) for r, (c, score) in enumerate(tags.countries)]
        article.topics = [ArticleTopic(topic=name, score=score, rank=r) for r, (name, score) in enumerate(tags.topics)]
        article.needs_tagging = False
        article.tags_version = version
        article.ready_at = article.ready_at or now
        article.needs_story = True
        if article.vector is None:
            article.vector = ArticleVector(model_id=model_id, vector=tags.vector, updated_at=now)
        else:
            article.vector.model_id, article.vector.vector, article.vector.updated_at = model_id, tags.vector, now
