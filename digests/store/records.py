"""What goes into the store and what comes out of it as plain data, so callers never hold ORM rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digests.kinds import DeliveryStatus, DisabledBy, Origin, SourceKind, TargetKind

GLOBAL_SCOPE = 0
"""The guild id of sources that every server sees (those from ``config/sources.toml``), and of the settings'
own subscriptions."""


@dataclass(slots=True, frozen=True)
class SectionIn:
    """A section to store: its heading (None when untitled) and text."""

    heading: str | None
    text: str


@dataclass(slots=True, frozen=True)
class ArticleIn:
    """An article to store, as collection read it."""

    key: str
    source_name: str
    title: str
    text: str
    content_hash: str
    sections: tuple[SectionIn, ...]
    entry_id: str | None = None
    url: str | None = None
    # The hash of the canonical URL: another guid or source with the same one is the same article.
    url_key: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    # A feed's short excerpt: it never replaces the full text already stored for the same article.
    teaser: bool = False
    # For a teaser whose linked page could not be fetched yet: when to try again, and failed tries so far.
    full_text_due: datetime | None = None
    full_text_attempts: int = 0


@dataclass(slots=True, frozen=True)
class SourceIn:
    """A global source as the sources file declares it."""

    name: str
    location: str
    kind: SourceKind
    interval_minutes: float
    enabled: bool = True


@dataclass(slots=True, frozen=True)
class SourceRecord:
    """A stored source with its fetch health, as callers see it."""

    id: int
    guild_id: int
    name: str
    kind: SourceKind
    location: str
    interval_minutes: float
    enabled: bool
    origin: Origin
    etag: str | None
    last_modified: str | None
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    failures: int
    last_error: str | None
    disabled_reason: str | None
    disabled_by: DisabledBy | None


@dataclass(slots=True, frozen=True)
class SectionRecord:
    """A stored section: heading, summary (None until summarized) and text."""

    heading: str | None
    summary: str | None
    text: str


@dataclass(slots=True, frozen=True)
class ArticleRecord:
    """A stored article as every reader sees it: the one mapping from rows to results."""

    id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    ready_at: datetime | None
    countries: tuple[str, ...]
    topics: tuple[str, ...]
    # The best topic's score, or None for an untagged article.
    topic_score: float | None
    summary: str
    sections: tuple[SectionRecord, ...] = ()
    score: float = 0.0  # a query's relevance, where the query ranks
    guild_id: int = 0
    language: str | None = None  # ISO 639-1, once detected
    title_translated: str | None = None
    summary_translated: str | None = None

    @property
    def when(self) -> datetime | None:
        """Return when the article was published, or else when it became ready."""
        return self.published_at or self.ready_at


@dataclass(slots=True, frozen=True)
class ProcessInfo:
    """A running Sitrep process as the workers table knows it."""

    id: str
    host: str
    pid: int
    roles: str
    shard: str | None
    started_at: datetime
    heartbeat_at: datetime


@dataclass(slots=True, frozen=True)
class StoreCounts:
    """What the store holds and what waits for work, for status reports."""

    last_collection: datetime | None
    articles: int
    pending_sections: int
    pending_articles: int
    sources: int
    failing_sources: int


@dataclass(slots=True, frozen=True)
class ArticleFilter:
    """Which ready articles a query may return: who asks, how recent, on what topic, about what country."""

    guild_id: int | None
    since: datetime | None = None
    topic: str | None = None
    country: str | None = None
    language: str | None = None


@dataclass(slots=True, frozen=True)
class SummaryIn:
    """A section summary to store, with the model that wrote it and whether the guard fell back."""

    summary: str
    backend: str
    model_id: str
    fallback: bool = False


@dataclass(slots=True, frozen=True)
class TeaserRecord:
    """A stored teaser whose linked page is still to be fetched."""

    id: int
    key: str
    url: str
    title: str
    source_id: int | None
    source_name: str
    guild_id: int
    attempts: int
    sections: tuple[SectionIn, ...]


@dataclass(slots=True, frozen=True)
class StoryWork:
    """A ready article waiting to join a story."""

    id: int
    guild_id: int
    title: str
    text: str
    at: datetime
    source: str = ""


@dataclass(slots=True, frozen=True)
class OpenStoryRecord:
    """A story that still takes members: its scope and its latest members' (title, start of text, source,
    float16 vector)."""

    id: int
    guild_id: int
    members: tuple[tuple[str, str, str, bytes | None], ...]


@dataclass(slots=True, frozen=True)
class CoverageRecord:
    """One article of a story, as its coverage lists it."""

    article_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    joined_at: datetime
    summary: str
    countries: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class StoryRecord:
    """A story with the coverage a reader may see, oldest first."""

    id: int
    title: str
    first_seen: datetime
    last_updated: datetime
    coverage: tuple[CoverageRecord, ...]


@dataclass(slots=True, frozen=True)
class SubscriptionRecord:
    """A subscription as callers see it: where its digests go, when, and what they hold."""

    id: int
    guild_id: int
    name: str
    target_kind: TargetKind
    target: str
    schedule: str
    timezone: str
    topics: list[str]
    countries: list[str]
    languages: list[str]
    max_items: int
    threads: bool
    enabled: bool
    disabled_reason: str | None
    origin: Origin


@dataclass(slots=True, frozen=True)
class SubscriptionIn:
    """A new subscription's fields, checked by the service that makes it."""

    guild_id: int
    name: str
    target_kind: TargetKind
    target: str
    schedule: str
    timezone: str
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    max_items: int = 10
    threads: bool = False
    origin: Origin = Origin.RUNTIME


@dataclass(slots=True, frozen=True)
class DeliveryIn:
    """A digest to record for one subscription window, before anything is sent."""

    subscription_id: int
    key: str
    window_start: datetime
    window_end: datetime
    payload: list[dict[str, Any]]
    status: DeliveryStatus
    stories: dict[int, int]
    claimed_by: str | None = None
    claimed_until: datetime | None = None


@dataclass(slots=True, frozen=True)
class DeliveryRecord:
    """A recorded delivery as the state machine sees it (``digests/services/deliveries.py``)."""

    id: int
    subscription_id: int
    key: str
    window_start: datetime
    window_end: datetime
    status: DeliveryStatus
    payload: list[dict[str, Any]]
    # How many articles of each story the digest carries.
    stories: dict[int, int]
    sent_count: int
    # The message going out when the process stopped, if any: its outcome is unknown.
    sending_index: int | None
    message_ids: tuple[str, ...]
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    last_error: str | None


@dataclass(slots=True, frozen=True)
class SectionToSummarize:
    """A section claimed for summarizing, with its article's title."""

    id: int
    article_title: str
    heading: str | None
    text: str
    text_hash: str
    position: int


@dataclass(slots=True, frozen=True)
class ArticleToTag:
    """An article claimed for tagging: its text and its sections' summaries, in order."""

    id: int
    title: str
    text: str
    section_summaries: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class TagsIn:
    """What tagging found for one article: its summary, language (and English title and summary), ranked countries
    and topics, and its embedding."""

    summary: str
    countries: Sequence[tuple[str, float]]
    topics: Sequence[tuple[str, float]]
    vector: bytes
    language: str | None = None
    translated: tuple[str, str] | None = None
