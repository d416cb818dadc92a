"""Compose a digest: a plain data object built from stored, summarized and tagged articles."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digests.store.records import ArticleRecord, SectionRecord

OTHER = "Other news"


@dataclass(slots=True, frozen=True)
class DigestFilters:
    """What a digest covers: a window of readiness times, optional topics and countries, and a cap."""

    since: datetime
    until: datetime
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    max_items: int = 10
    guild_id: int | None = None


@dataclass(slots=True, frozen=True)
class SectionLine:
    """One section's summary under its heading (None for an untitled section)."""

    heading: str | None
    summary: str


@dataclass(slots=True)
class DigestItem:
    """One article in a digest."""

    article_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    ready_at: datetime | None
    countries: list[str]
    topics: list[str]
    summary: str
    sections: list[SectionLine]
    score: float = 0.0
    also_reported_by: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DigestGroup:
    """The items of one topic."""

    topic: str
    items: list[DigestItem]


@dataclass(slots=True)
class Digest:
    """A digest ready to render: groups of items, and how many more matched than are shown."""

    title: str
    window_start: datetime
    window_end: datetime
    timezone: str
    groups: list[DigestGroup]
    matched: int
    counts_by_topic: dict[str, int]
    filters: DigestFilters
    # Articles collected in the window that are not summarized and tagged yet, so not in the digest.
    waiting: int = 0

    @property
    def items(self) -> list[DigestItem]:
        """Return every item, group by group."""
        return [item for group in self.groups for item in group.items]

    @property
    def shown(self) -> int:
        """Count the items shown."""
        return sum(len(group.items) for group in self.groups)

    @property
    def more(self) -> int:
        """Count the matching articles left out by the cap."""
        return max(self.matched - self.shown, 0)


def _item(article: ArticleRecord) -> DigestItem:
    return DigestItem(
        article_id=article.id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        ready_at=article.ready_at,
        countries=list(article.countries),
        topics=list(article.topics),
        summary=article.summary,
        sections=[],  # filled for the shown items only, by attach_sections
    )


def attach_sections(digest: Digest, sections: Mapping[int, Sequence[SectionRecord]]) -> Digest:
    """Give each shown item its summarized sections (loaded for the shown items only)."""
    for item in digest.items:
        item.sections = [SectionLine(s.heading, s.summary) for s in sections.get(item.article_id, ()) if s.summary]
    return digest


def _salience(article: ArticleRecord, until: datetime) -> float:
    """Score relevance and freshness: the best topic score plus a day-long half-life on age."""
    topic = article.topic_score if article.topic_score is not None else 0.3
    when = article.when or until
    age_hours = max((until - when).total_seconds() / 3600, 0.0)
    return topic + math.pow(0.5, age_hours / 24)


_TITLE_NOISE = re.compile(r"[^\w]+")


def _story_keys(article: ArticleRecord) -> list[str]:
    keys = [f"title:{_TITLE_NOISE.sub(' ', article.title).strip().casefold()}"]
    if article.url and article.url.startswith(("http://", "https://")):
        keys.append(f"url:{article.url}")
    return keys


def merge_syndicated(articles: list[ArticleRecord], until: datetime) -> list[DigestItem]:
    """Fold copies of one story from several sources into one item that names the others."""
    ranked = sorted(articles, key=lambda a: (-_salience(a, until), a.id))
    items: list[DigestItem] = []
    seen: dict[str, DigestItem] = {}
    for article in ranked:
        keys = _story_keys(article)
        existing = next((seen[k] for k in keys if k in seen), None)
        source = article.source
        if existing is not None:
            if source != existing.source and source not in existing.also_reported_by:
                existing.also_reported_by.append(source)
            continue
        item = _item(article)
        item.score = round(_salience(article, until), 4)
        items.append(item)
        seen.update(dict.fromkeys(keys, item))
    return items


def group_items(items: list[DigestItem], topics: tuple[str, ...]) -> list[DigestGroup]:
    """Group items under their first (wanted) topic; groups ordered by their best item."""
    groups: dict[str, list[DigestItem]] = {}
    for item in sorted(items, key=lambda i: -i.score):
        wanted = [t for t in item.topics if not topics or t in topics]
        groups.setdefault(wanted[0] if wanted else OTHER, []).append(item)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == OTHER, -kv[1][0].score))
    return [DigestGroup(topic, members) for topic, members in ordered]


def compose_digest(
    articles: list[ArticleRecord], filters: DigestFilters, *, title: str = "Sitrep briefing", timezone: str = "UTC"
) -> Digest:
    """Compose the digest of ``filters`` from the candidate articles the store returned for it."""
    items = merge_syndicated(articles, filters.until)
    counts = Counter((item.topics[0] if item.topics else OTHER) for item in items)
    shown = sorted(items, key=lambda i: -i.score)[: filters.max_items]
    return Digest(
        title=title,
        window_start=filters.since,
        window_end=filters.until,
        timezone=timezone,
        groups=group_items(shown, filters.topics),
        matched=len(items),
        counts_by_topic=dict(counts.most_common()),
        filters=filters,
    )
