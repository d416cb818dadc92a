"""Enrichment services: summarize sections, then summarize and tag the articles they belong to."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np

from digests.collect.sectionize import Sectionizer
from digests.errors import SitrepError
from digests.inference import ModelLoadError, ModelWorker, SentenceEncoder, build_encoder
from digests.services.stories import StoryReport, place_batch
from digests.settings import Settings
from digests.store import Database, work
from digests.store import articles as store
from digests.store.records import SectionToSummarize, SummaryIn, TagsIn
from digests.store.types import utcnow
from digests.summarize import SectionInput, SectionSummary, Summarizer, article_summary, build_summarizer
from digests.summarize.abstractive import AbstractiveSummarizer
from digests.summarize.translate import Translator
from digests.tagging.countries import CountryScore, CountryTagger
from digests.tagging.language import detect_language, preload
from digests.tagging.topics import Topic, TopicScore, TopicTagger, current_topics

log = logging.getLogger(__name__)
T = TypeVar("T")
# Bump when the country tagger or language detection changes: stored tags are computed again.
TAGGER_VERSION = "c2-l1"


@dataclass(slots=True)
class ArticleTags:
    """What tagging found for one article."""

    countries: list[CountryScore]
    topics: list[TopicScore]
    vector: np.ndarray
    language: str | None = None
    # The English title and summary of an article in another language, when translation is on.
    english: tuple[str, str] | None = None


class Enricher:
    """Holds the models (loaded lazily, once) and runs all inference on one worker thread."""

    def __init__(self, settings: Settings, *, encoder: SentenceEncoder | None = None) -> None:
        self.settings = settings
        self.encoder = encoder or build_encoder(settings.summarize)
        self.summarizer: Summarizer = build_summarizer(settings.summarize, self.encoder)
        self.countries = CountryTagger(max_countries=settings.tagging.max_countries)
        self.translator = Translator(settings.translate)
        self.sectionizer = Sectionizer(settings.sections)
        self._worker = ModelWorker()
        self._topics: TopicTagger | None = None

    @property
    def taxonomy(self) -> list[Topic]:
        """The topics of the taxonomy file, read again whenever the file changes."""
        return current_topics(self.settings.config_path(self.settings.tagging.topics_file))

    @property
    def topics(self) -> TopicTagger:
        """The topic tagger over the current taxonomy."""
        topics = self.taxonomy
        if self._topics is None or self._topics.topics != topics:
            tagging = self.settings.tagging
            self._topics = TopicTagger(
                topics,
                self.encoder,
                threshold=tagging.topic_threshold,
                first_threshold=tagging.first_topic_threshold,
                max_topics=tagging.max_topics,
            )
        return self._topics

    @property
    def tags_version(self) -> str:
        """Identify the taggers; stored tags made by other versions are recomputed."""
        return f"{TAGGER_VERSION}:{self.topics.version}"

    @property
    def summarizer_name(self) -> str:
        """Name the summarizer in use, for status reports."""
        return f"{self.summarizer.backend} ({self.summarizer.model_id})"

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking model work on the model thread, keeping the event loop free."""
        return await self._worker.run(work, *args)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Return one unit vector per text, computed on the model thread."""
        return await self.run(self.encoder.encode, texts)

    def summarize(self, sections: Sequence[SectionInput]) -> list[SectionSummary]:
        """Summarize sections (blocking)."""
        if not sections:
            return []
        try:
            return self.summarizer.summarize(sections)
        except ModelLoadError as error:
            if not isinstance(self.summarizer, AbstractiveSummarizer):
                raise
            # Said once: from now on this process summarizes with the extractive summarizer.
            log.warning(
                "The abstractive summarizer's model %r cannot be used, so sections are summarized by the extractive "
                "summarizer until Sitrep restarts: %s",
                self.summarizer.model_id,
                error,
            )
            self.summarizer = self.summarizer.fallback
            return self.summarizer.summarize(sections)

    def tag(self, articles: Sequence[tuple[str, str]], summaries: Sequence[str] = ()) -> list[ArticleTags]:
        """Tag articles given as (title, text) pairs (blocking): language, countries, topics, embedding.

        With ``summaries`` (one per article) and translation on, an article in another language gets an English
        title and summary, and its topics are found in them.
        """
        languages = [detect_language(title, text) for title, text in articles]
        english = self._translate(articles, summaries, languages) if summaries else [None] * len(articles)
        readable = [pair if done is None else done for pair, done in zip(articles, english, strict=True)]
        scores, vectors = self.topics.analyse(readable)
        return [
            ArticleTags(self.countries.tag(title, text, language), topic_scores, vector, language, translated)
            for (title, text), language, translated, topic_scores, vector in zip(
                articles, languages, english, self.topics.pick(scores), vectors, strict=True
            )
        ]

    def _translate(
        self, articles: Sequence[tuple[str, str]], summaries: Sequence[str], languages: Sequence[str | None]
    ) -> list[tuple[str, str] | None]:
        """Return the English (title, summary) of each article the settings translate, else None.

        A model that cannot be loaded or run is logged and the articles stay untranslated: tags still come.
        """
        wanted = [i for i, language in enumerate(languages) if self.translator.wanted(language)]
        results: list[tuple[str, str] | None] = [None] * len(articles)
        if not wanted:
            return results
        try:
            translated = self.translator.translate([part for i in wanted for part in (articles[i][0], summaries[i])])
        except ModelLoadError as error:
            log.warning("Translation is on but failed; articles stay untranslated until Sitrep restarts: %s", error)
            return results
        except SitrepError as error:
            log.error("Translation is on but failed; articles stay untranslated: %s", error)
            return results
        for number, i in enumerate(wanted):
            results[i] = (translated[2 * number], translated[2 * number + 1])
        return results

    def close(self) -> None:
        """Stop the model thread."""
        self._worker.close()


@dataclass(slots=True)
class EnrichReport:
    """What one summarize-pending run did."""

    sections_summarized: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    articles_tagged: int = 0
    articles_placed: int = 0
    new_stories: int = 0
    stories_merged: int = 0
    seconds: float = 0.0
    summarize_seconds: float = 0.0
    tag_seconds: float = 0.0
    story_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        data = asdict(self)
        for key in ("seconds", "summarize_seconds", "tag_seconds", "story_seconds"):
            data[key] = round(data[key], 3)
        return data


async def _summarize_batch(database: Database, enricher: Enricher, batch_size: int, report: EnrichReport) -> int:
    key = enricher.summarizer.cache_key
    async with database.sessions.begin() as session:
        rows = await work.claim_sections(batch_size, session=session)
        if not rows:
            return 0
        cached = await work.cached_summaries({section.text_hash for section in rows}, key, session=session)
        misses: dict[str, SectionToSummarize] = {}
        for section in rows:
            if section.text_hash not in cached:
                misses.setdefault(section.text_hash, section)
        inputs = [SectionInput(s.text, s.heading, s.article_title, s.position) for s in misses.values()]
        summaries = await enricher.run(enricher.summarize, inputs)
        fresh = {
            text_hash: SummaryIn(summary.summary, summary.backend, summary.model_id, summary.fallback)
            for text_hash, summary in zip(misses, summaries, strict=True)
        }
        # Cached under the summarizer that wrote them (the extractive one, if the model failed just now).
        report.fallbacks += await work.save_section_summaries(
            rows, cached=cached, fresh=fresh, model_key=enricher.summarizer.cache_key, now=utcnow(), session=session
        )
        report.sections_summarized += len(rows)
        report.cache_hits += len(rows) - len(misses)
        return len(rows)


async def _tag_batch(database: Database, enricher: Enricher, batch_size: int, report: EnrichReport) -> int:
    version = enricher.tags_version
    sentences = enricher.settings.summarize.article_sentences
    async with database.sessions.begin() as session:
        articles = await work.claim_articles_to_tag(version, batch_size, session=session)
        if not articles:
            return 0
        summaries = [article_summary(a.section_summaries, sentences) for a in articles]
        tags = await enricher.run(enricher.tag, [(a.title, a.text) for a in articles], summaries)
        found_tags = {
            article.id: TagsIn(
                summary=summary,
                countries=[(c.code, c.score) for c in found.countries],
                topics=[(t.name, t.score) for t in found.topics],
                vector=found.vector.astype(np.float16).tobytes(),
                language=found.language,
                translated=found.english,
            )
            for article, summary, found in zip(articles, summaries, tags, strict=True)
        }
        await work.save_tags(
            found_tags, version=version, model_id=enricher.encoder.model_id, now=utcnow(), session=session
        )
        report.articles_tagged += len(articles)
        return len(articles)


Progress = Callable[[int, int], None]
"""Told (work done, work known) after every batch: sections summarized plus articles tagged. Story placement,
which follows, is told through ``placed`` (articles placed so far)."""


async def enrich_pending(
    *,
    database: Database,
    enricher: Enricher,
    batch_size: int = 64,
    progress: Progress | None = None,
    placed: Callable[[int], None] | None = None,
) -> EnrichReport:
    """Enrich what is stored: summarize every section that needs it, then summarize and tag every article that
    needs it, then place the newly ready articles in stories."""
    started = time.perf_counter()
    report = EnrichReport()
    async with database.sessions() as session:
        waiting = await store.counts(session=session)
    total = waiting.pending_sections + waiting.pending_articles

    def advance() -> None:
        if progress is not None:
            done = report.sections_summarized + report.articles_tagged
            progress(done, max(total, done))

    if waiting.pending_articles:
        preload()  # loads beside the summarizer; tagging needs it next
    while await _summarize_batch(database, enricher, batch_size, report):
        advance()
    report.summarize_seconds = time.perf_counter() - started
    while await _tag_batch(database, enricher, batch_size, report):
        advance()
    report.tag_seconds = time.perf_counter() - started - report.summarize_seconds
    stories = StoryReport()
    placing = enricher.settings.stories
    while await place_batch(database, enricher.embed, placing, batch_size=placing.batch_size, report=stories):
        if placed is not None:
            placed(stories.placed)  # told after every batch: placing a large backlog takes a while
    report.articles_placed, report.new_stories = stories.placed, stories.new_stories
    report.stories_merged = stories.merged
    report.seconds = time.perf_counter() - started
    report.story_seconds = report.seconds - report.summarize_seconds - report.tag_seconds
    if report.sections_summarized or report.articles_tagged or report.articles_placed:
        log.info(
            "Summarized %d section(s) (%d from cache, %d guarded fallbacks), tagged %d article(s) and placed"
            " %d in stories (%d new, %d merged into others) in %.1f s",
            report.sections_summarized,
            report.cache_hits,
            report.fallbacks,
            report.articles_tagged,
            report.articles_placed,
            report.new_stories,
            report.stories_merged,
            report.seconds,
        )
    return report
