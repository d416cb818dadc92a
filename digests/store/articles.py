"""Articles coming in: storing what collection read (sections, dedup, teasers waiting for their full text),
and what is stored and waiting; repository functions that never commit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from digests.kinds import FetchOutcome
from digests.store.models import (
    Article,
    Section,
    Source,
)
from digests.store.records import (
    ArticleIn,
    SectionIn,
    StoreCounts,
    TeaserRecord,
)
from digests.store.types import utcnow
from digests.text import sha256

_BATCH = 500


async def existing_keys(
    articles: Iterable[tuple[str, str | None]], *, guild_id: int, session: AsyncSession
) -> dict[str, int | None]:
    """Return which of these (key, url key) articles are already stored, by key, each with the source that stored
    it: found by its key, or by its canonical URL among the articles of the same server."""
    wanted = dict(articles)
    found: dict[str, int | None] = {}
    keys = list(wanted)
    for start in range(0, len(keys), _BATCH):
        statement = select(Article.key, Article.source_id).where(Article.key.in_(keys[start : start + _BATCH]))
        found.update((row[0], row[1]) for row in await session.execute(statement))
    by_url = {url_key: key for key, url_key in wanted.items() if url_key and key not in found}
    for url_key, article in (await _by_url_key(by_url, guild_id, session)).items():
        found[by_url[url_key]] = article.source_id
    return found


async def _by_url_key(url_keys: Iterable[str], guild_id: int, session: AsyncSession) -> dict[str, Article]:
    """Return the server's stored articles with these url keys (with their sections), the oldest of each."""
    wanted = list(url_keys)
    found: dict[str, Article] = {}
    for start in range(0, len(wanted), _BATCH):
        statement = (
            select(Article)
            .where(Article.guild_id == guild_id, Article.url_key.in_(wanted[start : start + _BATCH]))
            .order_by(Article.id.desc())  # the oldest is read last, and kept
            .options(selectinload(Article.sections))
        )
        for article in await session.scalars(statement):
            assert article.url_key is not None
            found[article.url_key] = article
    return found


def _sections(article: ArticleIn, previous: dict[str, str]) -> list[Section]:
    sections = []
    for position, raw in enumerate(article.sections):
        text_hash = sha256(raw.text)
        summary = previous.get(text_hash)
        sections.append(
            Section(
                position=position,
                heading=raw.heading,
                text=raw.text,
                text_hash=text_hash,
                summary=summary,
                needs_summary=summary is None,
            )
        )
    return sections


async def store_articles(
    articles: Sequence[ArticleIn], *, source_id: int | None, guild_id: int, session: AsyncSession
) -> Counter[FetchOutcome]:
    """Insert new articles and update changed ones in place; count what happened to each."""
    latest: dict[str, ArticleIn] = {}
    key_of_url: dict[str, str] = {}
    for incoming in articles:
        # One canonical URL is one article: another guid for the same page is a copy of the first one's entry.
        key = key_of_url.setdefault(incoming.url_key, incoming.key) if incoming.url_key else incoming.key
        latest[key] = incoming  # a feed that lists an entry twice: its last copy wins
    outcomes: Counter[FetchOutcome] = Counter()
    stored: dict[str, Article] = {}
    keys = list(latest)
    for start in range(0, len(keys), _BATCH):
        rows = await session.scalars(
            select(Article).where(Article.key.in_(keys[start : start + _BATCH])).options(selectinload(Article.sections))
        )
        stored.update((article.key, article) for article in rows)
    by_url: dict[str, str] = {}
    for key in keys:
        url_key = latest[key].url_key
        if key not in stored and url_key:
            by_url[url_key] = key
    for url_key, row in (await _by_url_key(by_url, guild_id, session)).items():
        stored[by_url[url_key]] = row
    now = utcnow()
    for key, incoming in latest.items():
        article = stored.get(key)
        if article is None:
            session.add(
                Article(
                    key=key,
                    source_id=source_id,
                    guild_id=guild_id,
                    source_name=incoming.source_name[:200],
                    entry_id=incoming.entry_id,
                    url=incoming.url,
                    url_key=incoming.url_key,
                    title=incoming.title,
                    author=incoming.author,
                    published_at=incoming.published_at,
                    collected_at=now,
                    updated_at=now,
                    content_hash=incoming.content_hash,
                    text=incoming.text,
                    sections=_sections(incoming, {}),
                    full_text_due=incoming.full_text_due if incoming.teaser else None,
                    full_text_attempts=incoming.full_text_attempts,
                )
            )
            outcomes[FetchOutcome.NEW] += 1
            continue
        if article.content_hash == incoming.content_hash or incoming.teaser:
            # A feed's teaser never replaces the text already stored for the same article.
            same_source = article.source_id == source_id
            outcomes[FetchOutcome.UNCHANGED if same_source else FetchOutcome.DUPLICATE] += 1
            continue
        # Sections whose text is unchanged keep their summaries; the rest are marked for summarizing.
        previous = {s.text_hash: s.summary for s in article.sections if s.summary is not None}
        article.sections.clear()
        await session.flush()
        article.sections.extend(_sections(incoming, previous))
        article.title = incoming.title
        article.url = incoming.url or article.url
        article.author = incoming.author or article.author
        article.published_at = incoming.published_at or article.published_at
        article.text = incoming.text
        article.content_hash = incoming.content_hash
        article.updated_at = now
        article.summary = None
        article.needs_tagging = True
        article.ready_at = None  # it appears again in the next digests once summarized
        article.full_text_due = None  # the whole text is here now
        outcomes[FetchOutcome.UPDATED] += 1
    await session.flush()
    return outcomes


async def due_teasers(now: datetime, *, limit: int, session: AsyncSession) -> list[TeaserRecord]:
    """Return up to ``limit`` teasers whose linked page is due to be fetched again, oldest due first."""
    statement = (
        select(Article)
        .where(Article.full_text_due.is_not(None), Article.full_text_due <= now)
        .order_by(Article.full_text_due, Article.id)
        .limit(limit)
        .options(selectinload(Article.sections))
    )
    return [
        TeaserRecord(
            id=a.id,
            key=a.key,
            url=a.url or "",
            title=a.title,
            source_id=a.source_id,
            source_name=a.source_name,
            guild_id=a.guild_id,
            attempts=a.full_text_attempts,
            sections=tuple(SectionIn(s.heading, s.text) for s in a.sections),
        )
        for a in await session.scalars(statement)
    ]


async def full_text_failed(article_id: int, *, retry_at: datetime | None, session: AsyncSession) -> None:
    """Count a failed fetch of a teaser's page: try again at ``retry_at``, or never (None)."""
    article = await session.get(Article, article_id)
    if article is not None:
        article.full_text_attempts += 1
        article.full_text_due = retry_at


async def counts(*, session: AsyncSession) -> StoreCounts:
    """Return what is stored and what waits to be summarized or tagged."""

    async def count(statement: Any) -> int:
        return await session.scalar(statement) or 0

    return StoreCounts(
        last_collection=await session.scalar(select(func.max(Source.last_fetched_at))),
        articles=await count(select(func.count()).select_from(Article)),
        pending_sections=await count(select(func.count()).select_from(Section).where(Section.needs_summary.is_(True))),
        pending_articles=await count(select(func.count()).select_from(Article).where(Article.needs_tagging.is_(True))),
        sources=await count(select(func.count()).select_from(Source).where(Source.enabled.is_(True))),
        failing_sources=await count(select(func.count()).select_from(Source).where(Source.failures > 0)),
    )
