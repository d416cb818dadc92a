"""Enrichment services: summarize sections, then summarize and tag the articles they belong to."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from digests.collect.sectionize import Sectionizer
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Article, ArticleCountry, ArticleTopic, ArticleVector, CachedSummary, Section
from digests.store.types import utcnow
from digests.summarize import SectionInput, SectionSummary, Summarizer, article_summary, build_encoder, build_summarizer
from digests.summarize.encoder import SentenceEncoder
from digests.tagging.countries import CountryScore, CountryTagger
from digests.tagging.topics import TopicScore, TopicTagger, load_topics

log = logging.getLogger(__name__)
T = TypeVar("T")
COUNTRY_TAGGER_VERSION = "c1"


@dataclass(slots=True)
class ArticleTags:
    """What tagging found for one article."""

    countries: list[CountryScore]
    topics: list[TopicScore]
    vector: np.ndarray


class Enricher:
    """Holds the models (loaded lazily, once) and runs all inference on one worker thread."""

    def __init__(self, settings: Settings, *, encoder: SentenceEncoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or build_encoder(settings)
        self.summarizer: Summarizer = build_summarizer(settings, self.encoder)
        self.countries = CountryTagger(max_countries=settings.tagging.max_countries)
        self.sectionizer = Sectionizer(settings.sections)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sitrep-model")
        self._topics: TopicTagger | None = None
        self._topics_stamp = 0

    @property
    def topics(self) -> TopicTagger:
        """The topic tagger over the taxonomy file, read again whenever the file changes."""
        tagging = self.settings.tagging
        path = self.settings.config_path(tagging.topics_file)
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        if self._topics is None or self._topics_stamp != stamp:
            topics = load_topics(path)
            self._topics = TopicTagger(
                topics, self.encoder, threshold=tagging.topic_threshold, max_topics=tagging.max_topics
            )
            self._topics_stamp = stamp
        return self._topics

    @property
    def tags_version(self) -> str:
        """Identify the taggers; stored tags made by other versions are recomputed."""
        return f"{COUNTRY_TAGGER_VERSION}:{self.topics.version}"

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking model work on the model thread, keeping the event loop free."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def summarize(self, sections: Sequence[SectionInput]) -> list[SectionSummary]:
        """Summarize sections (blocking)."""
        return self.summarizer.summarize(sections) if sections else []

    def tag(self, articles: Sequence[tuple[str, str]]) -> list[ArticleTags]:
        """Tag articles given as (title, text) pairs (blocking)."""
        scores, vectors = self.topics.analyse(articles)
        return [
            ArticleTags(self.countries.tag(title, text), topic_scores, vector)
            for (title, text), topic_scores, vector in zip(articles, self.topics.pick(scores), vectors, strict=True)
        ]

    def close(self) -> None:
        """Stop the model thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(slots=True)
class EnrichReport:
    """What one summarize-pending run did."""

    sections_summarized: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    articles_tagged: int = 0
    seconds: float = 0.0
    summarize_seconds: float = 0.0
    tag_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        data = asdict(self)
        for key in ("seconds", "summarize_seconds", "tag_seconds"):
            data[key] = round(data[key], 3)
        return data


def _claim(statement: Any, database: Database) -> Any:
    # On PostgreSQL several workers share the queue; each skips rows another has claimed.
    return statement.with_for_update(skip_locked=True) if database.backend == "postgresql" else statement


async def _summarize_batch(database: Database, enricher: Enricher, batch_size: int, report: EnrichReport) -> int:
    key = enricher.summarizer.cache_key
    async with database.sessions.begin() as session:
        rows = (
            await session.execute(
                _claim(
                    select(Section, Article.title)
                    .join(Article, Section.article_id == Article.id)
                    .where(Section.needs_summary.is_(True))
                    .order_by(Section.id)
                    .limit(batch_size),
                    database,
                )
            )
        ).all()
        if not rows:
            return 0
        hashes = {section.text_hash for section, _ in rows}
        cached = {
            c.text_hash: c
            for c in await session.scalars(
                select(CachedSummary).where(CachedSummary.model_key == key, CachedSummary.text_hash.in_(hashes))
            )
        }
        misses: dict[str, tuple[Section, str]] = {}
        for section, title in rows:
            if section.text_hash not in cached:
                misses.setdefault(section.text_hash, (section, title))
        inputs = [SectionInput(s.text, s.heading, title, s.position) for s, title in misses.values()]
        summaries = await enricher.run(enricher.summarize, inputs)
        now = utcnow()
        for text_hash, summary in zip(misses, summaries, strict=True):
            entry = CachedSummary(
                text_hash=text_hash,
                model_key=key,
                summary=summary.summary,
                backend=summary.backend,
                model_id=summary.model_id,
                fallback=summary.fallback,
                created_at=now,
            )
            session.add(entry)
            cached[text_hash] = entry
        for section, _ in rows:
            entry = cached[section.text_hash]
            section.summary = entry.summary
            section.summary_backend = entry.backend
            section.summary_model = entry.model_id
            section.summary_fallback = entry.fallback
            section.summarized_at = now
            section.needs_summary = False
            report.fallbacks += entry.fallback
        report.sections_summarized += len(rows)
        report.cache_hits += len(rows) - len(misses)
        return len(rows)


async def _tag_batch(database: Database, enricher: Enricher, batch_size: int, report: EnrichReport) -> int:
    version = enricher.tags_version
    sentences = enricher.settings.summarize.article_sentences
    pending = exists().where(Section.article_id == Article.id, Section.needs_summary.is_(True))
    stale = or_(Article.needs_tagging.is_(True), Article.tags_version.is_(None), Article.tags_version != version)
    related = (
        selectinload(Article.sections),
        selectinload(Article.countries),
        selectinload(Article.topics),
        selectinload(Article.vector),
    )
    async with database.sessions.begin() as session:
        articles = list(
            await session.scalars(
                _claim(
                    select(Article).where(stale, ~pending).order_by(Article.id).limit(batch_size).options(*related),
                    database,
                )
            )
        )
        if not articles:
            return 0
        tags = await enricher.run(enricher.tag, [(a.title, a.text) for a in articles])
        now = utcnow()
        for article, found in zip(articles, tags, strict=True):
            article.summary = article_summary([s.summary or "" for s in article.sections], sentences)
            article.countries = [
                ArticleCountry(code=c.code, score=c.score, rank=rank) for rank, c in enumerate(found.countries)
            ]
            article.topics = [
                ArticleTopic(topic=t.name, score=t.score, rank=rank) for rank, t in enumerate(found.topics)
            ]
            article.needs_tagging = False
            article.tags_version = version
            article.ready_at = article.ready_at or now
            vector = found.vector.astype(np.float16).tobytes()
            if article.vector is None:
                article.vector = ArticleVector(model_id=enricher.encoder.model_id, vector=vector)
            else:
                article.vector.model_id, article.vector.vector = enricher.encoder.model_id, vector
        report.articles_tagged += len(articles)
        return len(articles)


async def summarize_pending(
    *,
    database: Database,
    enricher: Enricher,
    batch_size: int = 64,
    progress: Callable[[str, int], None] | None = None,
) -> EnrichReport:
    """Summarize every section that needs it, then summarize and tag every article that needs it."""
    started = time.perf_counter()
    report = EnrichReport()
    while done := await _summarize_batch(database, enricher, batch_size, report):
        if progress:
            progress("summarized sections", done)
    report.summarize_seconds = time.perf_counter() - started
    while done := await _tag_batch(database, enricher, batch_size, report):
        if progress:
            progress("tagged articles", done)
    report.seconds = time.perf_counter() - started
    report.tag_seconds = report.seconds - report.summarize_seconds
    if report.sections_summarized or report.articles_tagged:
        log.info(
            "Summarized %d section(s) (%d from cache, %d guarded fallbacks) and tagged %d article(s) in %.1f s",
            report.sections_summarized,
            report.cache_hits,
            report.fallbacks,
            report.articles_tagged,
            report.seconds,
        )
    return report
