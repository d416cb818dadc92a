"""Repository functions: each takes a keyword-only session and never commits."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from digests.collect.identity import sha256
from digests.collect.parse import ParsedArticle
from digests.collect.sources import SourceSpec
from digests.store.models import GLOBAL_SCOPE, Article, ArticleCountry, ArticleTopic, Section, Source
from digests.store.types import utcnow

Outcome = Literal["new", "updated", "unchanged"]


async def existing_keys(keys: Iterable[str], *, session: AsyncSession) -> set[str]:
    """Return which of ``keys`` are already stored."""
    wanted = list(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        rows = await session.scalars(select(Article.key).where(Article.key.in_(wanted[start : start + 500])))
        found.update(rows)
    return found


def _sections(parsed: ParsedArticle, previous: dict[str, str]) -> list[Section]:
    sections = []
    for position, raw in enumerate(parsed.sections):
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
    articles: Sequence[ParsedArticle], *, source_id: int | None, session: AsyncSession
) -> Counter[Outcome]:
    """Insert new articles and update changed ones in place; count what happened to each."""
    latest: dict[str, ParsedArticle] = {}
    for parsed in articles:
        latest[parsed.key] = parsed  # a feed that lists an entry twice: its last copy wins
    outcomes: Counter[Outcome] = Counter()
    stored: dict[str, Article] = {}
    keys = list(latest)
    for start in range(0, len(keys), 500):
        rows = await session.scalars(
            select(Article).where(Article.key.in_(keys[start : start + 500])).options(selectinload(Article.sections))
        )
        stored.update((article.key, article) for article in rows)
    now = utcnow()
    for key, parsed in latest.items():
        content_hash = parsed.content_hash
        article = stored.get(key)
        if article is None:
            session.add(
                Article(
                    key=key,
                    source_id=source_id,
                    source_name=parsed.source_name[:200],
                    entry_id=parsed.entry_id,
                    url=parsed.url,
                    title=parsed.title,
                    author=parsed.author,
                    published_at=parsed.published_at,
                    collected_at=now,
                    updated_at=now,
                    content_hash=content_hash,
                    text=parsed.text,
                    sections=_sections(parsed, {}),
                )
            )
            outcomes["new"] += 1
            continue
        if article.content_hash == content_hash or parsed.teaser:
            # A feed's teaser never replaces the text already stored for the same article.
            outcomes["unchanged"] += 1
            continue
        # Sections whose text is unchanged keep their summaries; the rest are marked for summarizing.
        previous = {s.text_hash: s.summary for s in article.sections if s.summary is not None}
        article.sections.clear()
        await session.flush()
        article.sections.extend(_sections(parsed, previous))
        article.title = parsed.title
        article.url = parsed.url or article.url
        article.author = parsed.author or article.author
        article.published_at = parsed.published_at or article.published_at
        article.text = parsed.text
        article.content_hash = content_hash
        article.updated_at = now
        article.summary = None
        article.needs_tagging = True
        article.ready_at = None  # it appears again in the next digests once summarized
        outcomes["updated"] += 1
    await session.flush()
    return outcomes


async def get_article(article_id: int, *, session: AsyncSession) -> Article | None:
    """Return one article with its sections, or None."""
    return await session.scalar(select(Article).where(Article.id == article_id).options(selectinload(Article.sections)))


async def count_articles(*, session: AsyncSession) -> int:
    """Return how many articles are stored."""
    return await session.scalar(select(func.count()).select_from(Article)) or 0


async def list_sources(*, session: AsyncSession, guild_id: int | None = None) -> list[Source]:
    """Return sources in name order: the global ones, plus one server's own when ``guild_id`` is given."""
    scopes = [GLOBAL_SCOPE] if guild_id is None else [GLOBAL_SCOPE, guild_id]
    rows = await session.scalars(
        select(Source).where(Source.guild_id.in_(scopes)).order_by(Source.guild_id, Source.name)
    )
    return list(rows)


async def due_sources(now: datetime, *, session: AsyncSession) -> list[Source]:
    """Return the enabled sources whose next fetch is due."""
    rows = await session.scalars(
        select(Source)
        .where(Source.enabled.is_(True), or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now))
        .order_by(Source.next_fetch_at.is_not(None), Source.next_fetch_at, Source.id)
    )
    return list(rows)


async def get_source(source_id: int, *, session: AsyncSession) -> Source | None:
    """Return one source, or None."""
    return await session.get(Source, source_id)


def mark_success(source: Source, now: datetime, *, etag: str | None, last_modified: str | None) -> None:
    """Record a good fetch: failures reset, next fetch one interval later."""
    source.last_fetched_at = now
    source.last_success_at = now
    source.failures = 0
    source.last_error = None
    if etag is not None or last_modified is not None:
        source.etag = etag
        source.last_modified = last_modified
    # Up to a tenth of the interval of jitter, so sources with the same interval drift apart.
    jitter = random.uniform(0, 0.1 * source.interval_minutes)
    source.next_fetch_at = now + timedelta(minutes=source.interval_minutes + jitter)


def mark_failure(source: Source, now: datetime, error: str, *, max_backoff_minutes: float, max_failures: int) -> None:
    """Record a failed fetch: back off exponentially, and disable after too many in a row."""
    source.last_fetched_at = now
    source.failures += 1
    source.last_error = error
    delay = min(source.interval_minutes * 2**source.failures, max_backoff_minutes)
    source.next_fetch_at = now + timedelta(minutes=delay)
    if source.failures >= max_failures:
        source.enabled = False
        source.disabled_reason = f"disabled after {source.failures} failures in a row; last: {error}"


async def sync_config_sources(specs: Sequence[SourceSpec], *, session: AsyncSession) -> list[Source]:
    """Make the global sources match the sources file, keeping each source's fetch history."""
    rows = await session.scalars(select(Source).where(Source.guild_id == GLOBAL_SCOPE, Source.origin == "config"))
    stored = {source.name: source for source in rows}
    result = []
    for spec in specs:
        source = stored.pop(spec.name, None)
        if source is None:
            source = Source(guild_id=GLOBAL_SCOPE, name=spec.name, origin="config", failures=0)
            session.add(source)
        elif source.location != spec.location:
            source.etag = source.last_modified = None  # validators belong to the old location
        if source.enabled != spec.enabled or source.location != spec.location:
            source.failures = 0
            source.disabled_reason = None
            source.next_fetch_at = None
        source.kind = spec.kind or "path"
        source.location = spec.location
        source.interval_minutes = spec.interval_minutes
        source.enabled = spec.enabled
        result.append(source)
    for source in stored.values():
        if source.enabled:
            source.enabled = False
            source.disabled_reason = "no longer listed in the sources file"
    await session.flush()
    return result


async def digest_candidates(
    *,
    since: datetime,
    until: datetime,
    topics: Sequence[str] = (),
    countries: Sequence[str] = (),
    guild_id: int | None = None,
    limit: int = 2000,
    session: AsyncSession,
) -> list[Article]:
    """Return the articles that became ready in (since, until], filtered, newest first, with their tags."""
    query = (
        select(Article)
        .where(Article.ready_at > since, Article.ready_at <= until)
        .order_by(Article.ready_at.desc(), Article.id.desc())
        .limit(limit)
        .options(
            selectinload(Article.sections),
            selectinload(Article.countries),
            selectinload(Article.topics),
            selectinload(Article.source),
        )
    )
    if topics:
        query = query.where(exists().where(ArticleTopic.article_id == Article.id, ArticleTopic.topic.in_(list(topics))))
    if countries:
        query = query.where(
            exists().where(ArticleCountry.article_id == Article.id, ArticleCountry.code.in_(list(countries)))
        )
    if guild_id is not None:
        scoped = select(Source.id).where(Source.guild_id.in_([GLOBAL_SCOPE, guild_id]))
        query = query.where(or_(Article.source_id.is_(None), Article.source_id.in_(scoped)))
    return list(await session.scalars(query))


_SEARCH_WORD = re.compile(r"\w+")


async def full_text_hits(text_query: str, *, backend: str, limit: int, session: AsyncSession) -> list[int]:
    """Return ids of articles whose title or summary has any of the query's words, newest first, from the index."""
    words = [w for w in dict.fromkeys(_SEARCH_WORD.findall(text_query.casefold())) if len(w) > 1][:12]
    if not words:
        return []
    if backend == "sqlite":
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
    return [row[0] for row in rows]
