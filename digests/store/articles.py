"""Articles, their sections, tags, vectors and cached summaries: repository functions that never commit."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from digests.kinds import FetchOutcome
from digests.store.db import skip_locked
from digests.store.models import (
    Article,
    ArticleCountry,
    ArticleTopic,
    ArticleVector,
    CachedSummary,
    Section,
    Source,
    StoryMember,
)
from digests.store.records import (
    ArticleFilter,
    ArticleIn,
    ArticleRecord,
    SectionIn,
    SectionRecord,
    StoreCounts,
    SummaryIn,
    TeaserRecord,
)
from digests.store.types import utcnow
from digests.store.visibility import visible_articles
from digests.text import sha256

_BATCH = 500
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


async def existing_keys(keys: Iterable[str], *, session: AsyncSession) -> dict[str, int | None]:
    """Return which of ``keys`` are already stored, each with the source that stored it."""
    wanted = list(set(keys))
    found: dict[str, int | None] = {}
    for start in range(0, len(wanted), _BATCH):
        statement = select(Article.key, Article.source_id).where(Article.key.in_(wanted[start : start + _BATCH]))
        found.update((row[0], row[1]) for row in await session.execute(statement))
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
    for incoming in articles:
        latest[incoming.key] = incoming  # a feed that lists an entry twice: its last copy wins
    outcomes: Counter[FetchOutcome] = Counter()
    stored: dict[str, Article] = {}
    keys = list(latest)
    for start in range(0, len(keys), _BATCH):
        rows = await session.scalars(
            select(Article).where(Article.key.in_(keys[start : start + _BATCH])).options(selectinload(Article.sections))
        )
        stored.update((article.key, article) for article in rows)
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


def _ready(query: ArticleFilter) -> Select[Any]:
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
    statement = _ready(query).order_by(Article.ready_at.desc(), Article.id.desc()).limit(limit).options(*_RELATED)
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


async def allowed_ids(ids: Sequence[int], query: ArticleFilter, *, session: AsyncSession) -> set[int]:
    """Return which of ``ids`` are ready articles that ``query`` allows."""
    allowed: set[int] = set()
    for start in range(0, len(ids), _BATCH):
        chunk = list(ids[start : start + _BATCH])
        allowed.update(await session.scalars(_ready(query).with_only_columns(Article.id).where(Article.id.in_(chunk))))
    return allowed


async def recent_vectors(query: ArticleFilter, *, limit: int, session: AsyncSession) -> list[tuple[int, bytes]]:
    """Return (article id, stored float16 embedding) of the newest ``limit`` articles ``query`` allows."""
    recent = _ready(query).with_only_columns(Article.id).order_by(Article.ready_at.desc()).limit(limit)
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
    allowed = set(await session.scalars(_ready(query).with_only_columns(Article.id).where(Article.id.in_(hits))))
    return [i for i in hits if i in allowed]


async def search_texts(ids: Sequence[int], *, session: AsyncSession) -> dict[int, str]:
    """Return each article's title and summary as one text, for scoring words."""
    statement = select(Article.id, Article.title, Article.summary).where(Article.id.in_(list(ids)))
    return {row[0]: f"{row[1]} {row[2] or ''}" for row in await session.execute(statement)}


async def records_by_id(ids: Sequence[int], *, session: AsyncSession) -> dict[int, ArticleRecord]:
    """Return the articles with these ids, as plain records."""
    rows = await session.scalars(select(Article).where(Article.id.in_(list(ids))).options(*_RELATED))
    return {a.id: to_record(a) for a in rows}


async def claim_sections(limit: int, *, session: AsyncSession) -> list[tuple[Section, str]]:
    """Return up to ``limit`` sections that need a summary, each with its article's title, locked for this worker."""
    statement = (
        select(Section, Article.title)
        .join(Article, Section.article_id == Article.id)
        .where(Section.needs_summary.is_(True))
        .order_by(Section.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(skip_locked(statement, session))]


async def cached_summaries(hashes: Iterable[str], model_key: str, *, session: AsyncSession) -> dict[str, CachedSummary]:
    """Return the cached summaries of these texts by this model and parameters, by text hash."""
    statement = select(CachedSummary).where(
        CachedSummary.model_key == model_key, CachedSummary.text_hash.in_(list(hashes))
    )
    return {c.text_hash: c for c in await session.scalars(statement)}


async def save_section_summaries(
    sections: Sequence[Section],
    *,
    cached: dict[str, CachedSummary],
    fresh: Mapping[str, SummaryIn],
    model_key: str,
    now: datetime,
    session: AsyncSession,
) -> int:
    """Cache the fresh summaries, give every section its summary, and return how many are guarded fallbacks."""
    for text_hash, summary in fresh.items():
        entry = CachedSummary(
            text_hash=text_hash,
            model_key=model_key,
            summary=summary.summary,
            backend=summary.backend,
            model_id=summary.model_id,
            fallback=summary.fallback,
            created_at=now,
        )
        session.add(entry)
        cached[text_hash] = entry
    fallbacks = 0
    for section in sections:
        entry = cached[section.text_hash]
        section.summary = entry.summary
        section.summary_backend = entry.backend
        section.summary_model = entry.model_id
        section.summary_fallback = entry.fallback
        section.summarized_at = now
        section.needs_summary = False
        fallbacks += entry.fallback
    return fallbacks


async def claim_articles_to_tag(version: str, limit: int, *, session: AsyncSession) -> list[Article]:
    """Return up to ``limit`` articles whose sections are summarized and whose tags are missing or stale."""
    pending = exists().where(Section.article_id == Article.id, Section.needs_summary.is_(True))
    stale = or_(Article.needs_tagging.is_(True), Article.tags_version.is_(None), Article.tags_version != version)
    statement = (
        select(Article)
        .where(stale, ~pending)
        .order_by(Article.id)
        .limit(limit)
        .options(
            selectinload(Article.sections),
            selectinload(Article.countries),
            selectinload(Article.topics),
            selectinload(Article.vector),
        )
    )
    return list(await session.scalars(skip_locked(statement, session)))


def save_tags(
    article: Article,
    *,
    summary: str,
    countries: Sequence[tuple[str, float]],
    topics: Sequence[tuple[str, float]],
    version: str,
    vector: bytes,
    model_id: str,
    now: datetime,
    language: str | None = None,
    translated: tuple[str, str] | None = None,
) -> None:
    """Record an article's summary, language (and English title and summary), ranked countries and topics and
    embedding; it is ready from ``now`` on."""
    article.summary = summary
    article.language = language
    article.title_translated, article.summary_translated = translated or (None, None)
    article.countries = [ArticleCountry(code=code, score=score, rank=r) for r, (code, score) in enumerate(countries)]
    article.topics = [ArticleTopic(topic=name, score=score, rank=r) for r, (name, score) in enumerate(topics)]
    article.needs_tagging = False
    article.tags_version = version
    article.ready_at = article.ready_at or now
    article.needs_story = True
    if article.vector is None:
        article.vector = ArticleVector(model_id=model_id, vector=vector, updated_at=now)
    else:
        article.vector.model_id, article.vector.vector, article.vector.updated_at = model_id, vector, now


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
