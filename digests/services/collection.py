"""Collection services: ingest targets once, poll due sources, keep sources in step with config."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from digests.collect.fetch import Fetcher
from digests.collect.identity import url_key
from digests.collect.parse import ParsedArticle
from digests.collect.sectionize import RawSection
from digests.collect.sources import Reader, ReadResult
from digests.errors import FetchError, SitrepError
from digests.kinds import FetchOutcome
from digests.settings import Settings
from digests.store import Database, DatabaseError, IntegrityError
from digests.store import articles as article_store
from digests.store import sources as source_store
from digests.store.records import GLOBAL_SCOPE, ArticleIn, SectionIn, SourceRecord, TeaserRecord
from digests.store.types import utcnow
from digests.text import cut, printable

log = logging.getLogger(__name__)


FullTextLater = tuple[datetime, int]
"""When to ask again for a teaser's page, and how many tries already failed."""


MAX_TITLE = 500
"""Characters of a title kept: a longer one (a feed's whole text in its title) is cut when stored."""


def _line(text: str | None, limit: int) -> str:
    return cut(" ".join(printable(text or "").split()), limit)


def article_in(article: ParsedArticle, *, later: FullTextLater | None = None, key: str | None = None) -> ArticleIn:
    """Return a parsed article as the store takes it: no control characters, a title of at most MAX_TITLE."""
    return ArticleIn(
        key=key or article.key,
        source_name=_line(article.source_name, 200),
        title=_line(article.title, MAX_TITLE),
        text=printable(article.text),
        content_hash=article.content_hash,
        sections=tuple(
            SectionIn(_line(s.heading, MAX_TITLE) if s.heading else s.heading, printable(s.text))
            for s in article.sections
        ),
        entry_id=article.entry_id,
        url=article.url,
        url_key=url_key(article.url),
        author=_line(article.author, 200) if article.author else article.author,
        published_at=article.published_at,
        teaser=article.teaser,
        full_text_due=later[0] if later else None,
        full_text_attempts=later[1] if later else 0,
    )


@dataclass(slots=True)
class PageBudget:
    """How many linked pages one collection (or ingest) may still fetch."""

    left: int

    def take(self, wanted: int) -> int:
        """Take up to ``wanted`` fetches from what is left; return how many were granted."""
        granted = max(min(wanted, self.left), 0)
        self.left -= granted
        return granted


def retry_at(settings: Settings, attempts: int, now: datetime) -> datetime | None:
    """Return when to ask again for a teaser's page after ``attempts`` failures, or None to give up."""
    collect = settings.collect
    if attempts >= collect.full_text_attempts:
        return None
    return now + timedelta(minutes=collect.full_text_retry_minutes * 2 ** max(attempts - 1, 0))


@dataclass(slots=True)
class SourceReport:
    """What collecting one source did."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    not_modified: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Set when this collection disabled the source: what an operator is told.
    disabled: str | None = None


@dataclass(slots=True)
class CollectReport:
    """What one ingest or collection run did, per source and in total."""

    sources: list[SourceReport] = field(default_factory=list)
    seconds: float = 0.0
    # Teasers stored earlier whose linked page this collection fetched at last.
    teasers_completed: int = 0

    @property
    def new(self) -> int:
        """Count new articles."""
        return sum(s.new for s in self.sources)

    @property
    def updated(self) -> int:
        """Count articles whose content changed."""
        return sum(s.updated for s in self.sources)

    @property
    def unchanged(self) -> int:
        """Count articles seen again unchanged."""
        return sum(s.unchanged for s in self.sources)

    @property
    def duplicates(self) -> int:
        """Count articles already stored from another source."""
        return sum(s.duplicates for s in self.sources)

    @property
    def errors(self) -> list[str]:
        """List every error, source by source."""
        return [error for s in self.sources for error in s.errors]

    @property
    def nothing_read(self) -> bool:
        """Whether every source or target failed and none brought an article in (nor found one already in)."""
        read = self.new + self.updated + self.unchanged + self.duplicates
        return bool(self.sources) and read == 0 and all(source.errors for source in self.sources)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "teasers_completed": self.teasers_completed,
            "seconds": round(self.seconds, 3),
            "sources": [asdict(s) for s in self.sources],
        }


async def _complete_teasers(
    reader: Reader, read: ReadResult, report: SourceReport, budget: PageBudget, now: datetime
) -> dict[str, FullTextLater]:
    """Fetch the linked pages of new teasers, within the caps; return when to try again for those that failed."""
    settings = reader.settings
    teasers = [a for a in read.articles if a.teaser]
    granted = budget.take(min(len(teasers), settings.collect.max_page_fetches_per_source))
    later: dict[str, FullTextLater] = {}
    if granted < len(teasers):
        # Not lost: the rest are stored as teasers and their pages fetched by later collections.
        message = (
            f"fetched the linked pages of {granted} of {len(teasers)} teasers now (collect.max_page_fetches_per_source "
            f"and _per_cycle); the others follow in later collections"
        )
        report.warnings.append(message)
        log.info("%s: %s", read.name, message)
        later.update((a.key, (now, 0)) for a in teasers[granted:])

    async def complete(article: ParsedArticle) -> None:
        try:
            await reader.full_text(article, root=read.root)
        except FetchError as error:
            again = retry_at(settings, 1, now) if error.transient else None
            if again is not None:
                later[article.key] = (again, 1)
            kept = "asking again later" if again else "not asking again"
            report.warnings.append(f"kept the feed's teaser, {kept}: {error}")
        except SitrepError as error:
            report.warnings.append(f"kept the feed's teaser: {error}")

    await asyncio.gather(*(complete(a) for a in teasers[:granted]))
    return later


async def _store(
    database: Database,
    reader: Reader,
    read: ReadResult,
    report: SourceReport,
    *,
    source_id: int | None,
    guild_id: int,
    budget: PageBudget,
    now: datetime,
) -> None:
    """Fetch full text for new teasers, then store everything read, in one transaction."""
    articles: list[ParsedArticle] = read.articles
    later: dict[str, FullTextLater] = {}
    if reader.settings.collect.fetch_full_text and any(a.teaser for a in articles):
        async with database.sessions() as session:
            teasers = [(a.key, url_key(a.url)) for a in articles if a.teaser]
            known = await article_store.existing_keys(teasers, guild_id=guild_id, session=session)
        # A stored article already has its full text: its teaser is not news and must not replace it.
        for article in articles:
            if article.teaser and article.key in known:
                if known[article.key] == source_id:
                    report.unchanged += 1
                else:
                    report.duplicates += 1
        read.articles = articles = [a for a in articles if not (a.teaser and a.key in known)]
        later = await _complete_teasers(reader, read, report, budget, now)
    for attempt in range(2):
        try:
            async with database.sessions.begin() as session:
                outcomes = await article_store.store_articles(
                    [article_in(a, later=later.get(a.key)) for a in articles],
                    source_id=source_id,
                    guild_id=guild_id,
                    session=session,
                )
            break
        except IntegrityError:
            # Another source stored one of these articles at the same moment; the retry sees it.
            if attempt:
                raise
    report.new += outcomes[FetchOutcome.NEW]
    report.updated += outcomes[FetchOutcome.UPDATED]
    report.unchanged += outcomes[FetchOutcome.UNCHANGED]
    report.duplicates += outcomes[FetchOutcome.DUPLICATE]


async def ingest(targets: Sequence[str], *, database: Database, settings: Settings) -> CollectReport:
    """Read files, folders and URLs once each and store their articles; failures are reported, not raised."""
    started = time.perf_counter()
    report = CollectReport()
    limit = asyncio.Semaphore(settings.collect.max_concurrent_sources)
    budget = PageBudget(settings.collect.max_page_fetches_per_cycle)
    async with Fetcher(settings.fetch) as fetcher:
        reader = Reader(settings, fetcher)

        async def one(target: str) -> SourceReport:
            source_report = SourceReport(source=target)
            async with limit:
                try:
                    read = await reader.read(target)
                    source_report.errors.extend(read.errors)
                    source_report.warnings.extend(read.warnings)
                    await _store(
                        database,
                        reader,
                        read,
                        source_report,
                        source_id=None,
                        guild_id=GLOBAL_SCOPE,
                        budget=budget,
                        now=utcnow(),
                    )
                except SitrepError as error:
                    source_report.errors.append(str(error))
                except DatabaseError:
                    raise  # not this target's fault: the whole ingest stops, and says why
                except Exception as error:
                    log.exception("Unexpected failure while ingesting %s", target)
                    source_report.errors.append(f"{target}: unexpected error ({type(error).__name__}: {error})")
            return source_report

        report.sources = list(await asyncio.gather(*(one(target) for target in targets)))
    report.seconds = time.perf_counter() - started
    return report


async def collect_source(
    source: SourceRecord, *, database: Database, reader: Reader, now: datetime, budget: PageBudget
) -> SourceReport:
    """Poll one source, store what is new, and record its health; never raises for the source's faults."""
    report = SourceReport(source=source.name)
    try:
        read = await reader.read(
            source.location,
            kind=source.kind,
            name=source.name,
            etag=source.etag,
            last_modified=source.last_modified,
        )
        report.not_modified = read.not_modified
        report.errors.extend(read.errors)
        report.warnings.extend(read.warnings)
        await _store(
            database, reader, read, report, source_id=source.id, guild_id=source.guild_id, budget=budget, now=now
        )
    except SitrepError as error:
        report.errors.append(str(error))
        async with database.sessions.begin() as session:
            stored = await source_store.record_failure(
                source.id,
                now,
                str(error),
                max_backoff_minutes=reader.settings.collect.max_backoff_minutes,
                max_failures=reader.settings.collect.max_failures,
                session=session,
            )
            if stored is not None and not stored.enabled:
                report.disabled = (
                    f"Source {stored.name!r} is disabled: {stored.disabled_reason}. "
                    f"Turn it on again with `sitrep sources enable {stored.name}`"
                    + (" or /sources enable." if stored.guild_id else ".")
                )
                log.warning("%s", report.disabled)
        log.warning("Could not collect %r: %s", source.name, error)
        return report
    async with database.sessions.begin() as session:
        await source_store.record_success(
            source.id, now, etag=read.etag, last_modified=read.last_modified, session=session
        )
    return report


async def collect_due_sources(
    *,
    database: Database,
    settings: Settings,
    now: datetime | None = None,
) -> CollectReport:
    """Poll every enabled source that is due; one source's failure never stops the others."""
    started = time.perf_counter()
    now = now or utcnow()
    async with database.sessions.begin() as session:
        lease = timedelta(minutes=settings.collect.claim_minutes)
        sources = await source_store.claim_due_sources(now, lease=lease, session=session)
    report = CollectReport()
    budget = PageBudget(settings.collect.max_page_fetches_per_cycle)
    limit = asyncio.Semaphore(settings.collect.max_concurrent_sources)
    async with Fetcher(settings.fetch) as fetcher:
        reader = Reader(settings, fetcher)

        async def one(source: SourceRecord) -> SourceReport:
            async with limit:
                work = collect_source(source, database=database, reader=reader, now=now, budget=budget)
                return await _guard(source.name, work)

        report.sources = list(await asyncio.gather(*(one(source) for source in sources)))
        if settings.collect.fetch_full_text:
            report.teasers_completed = await retry_teasers(database=database, reader=reader, budget=budget, now=now)
    if not report.sources and not report.teasers_completed:
        return report
    report.seconds = time.perf_counter() - started
    log.info(
        "Collected %d source(s): %d new, %d updated, %d unchanged, %d also listed by another source (kept once);"
        " %d error(s)",
        len(report.sources),
        report.new,
        report.updated,
        report.unchanged,
        report.duplicates,
        len(report.errors),
    )
    return report


async def _guard(name: str, work: Awaitable[SourceReport]) -> SourceReport:
    """Turn an unexpected exception in one source into that source's error, logged with its traceback."""
    try:
        return await work
    except DatabaseError:
        raise  # not this source's fault
    except Exception as error:
        log.exception("Unexpected failure while collecting %r", name)
        return SourceReport(source=name, errors=[f"{name}: unexpected error ({type(error).__name__}: {error})"])


async def retry_teasers(*, database: Database, reader: Reader, budget: PageBudget, now: datetime) -> int:
    """Ask again for the linked pages of stored teasers that are due; return how many now have their full text."""
    async with database.sessions() as session:
        due = await article_store.due_teasers(now, limit=budget.take(budget.left), session=session)
    completed = 0

    async def one(teaser: TeaserRecord) -> None:
        nonlocal completed
        article = ParsedArticle(
            title=teaser.title,
            sections=[RawSection(s.heading, s.text) for s in teaser.sections],
            source_name=teaser.source_name,
            url=teaser.url,
            teaser=True,
        )
        again: datetime | None = None
        try:
            await reader.full_text(article)
        except FetchError as error:
            again = retry_at(reader.settings, teaser.attempts + 1, now) if error.transient else None
            log.info(
                "Still no full text for %s (%s); %s", teaser.url, error, "asking again later" if again else "giving up"
            )
        except SitrepError as error:
            log.info("No full text for %s: %s; giving up", teaser.url, error)
        if not article.teaser:
            async with database.sessions.begin() as session:
                await article_store.store_articles(
                    [article_in(article, key=teaser.key)],
                    source_id=teaser.source_id,
                    guild_id=teaser.guild_id,
                    session=session,
                )
            completed += 1
            return
        async with database.sessions.begin() as session:
            await article_store.full_text_failed(teaser.id, retry_at=again, session=session)

    await asyncio.gather(*(one(teaser) for teaser in due))
    if due:
        log.info("Fetched the full text of %d of %d teaser(s) due again", completed, len(due))
    return completed
