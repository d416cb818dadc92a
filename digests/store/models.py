"""The stored shape of sources, articles and their sections."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from digests.kinds import DeliveryStatus, DisabledBy, Origin, SourceKind, TargetKind
from digests.store.records import GLOBAL_SCOPE as GLOBAL_SCOPE
from digests.store.types import TZDateTime, str_enum, utcnow


class Base(DeclarativeBase):
    """Declarative base with timezone-aware datetimes everywhere."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: TZDateTime}


class Source(Base):
    """A place articles come from: a feed, a web page, or a file or folder of articles."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("guild_id", "name", name="uq_sources_guild_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, default=GLOBAL_SCOPE)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind))
    location: Mapped[str] = mapped_column(Text)
    interval_minutes: Mapped[float] = mapped_column(default=30.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[Origin] = mapped_column(str_enum(Origin), default=Origin.CONFIG)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_by: Mapped[DisabledBy | None] = mapped_column(str_enum(DisabledBy))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="source", passive_deletes=True)


class Article(Base):
    """One article, stored once whatever brought it in, with its text split into sections."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        # Articles waiting for a story, oldest ready first, found without scanning the others.
        Index("ix_articles_needs_story", "needs_story", "ready_at"),
        # One canonical URL is one article within what a server sees, whatever guid or source brought it.
        Index("ix_articles_guild_url_key", "guild_id", "url_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the identity: feed entry id, else canonical URL, else normalized text.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    source_name: Mapped[str] = mapped_column(String(200))
    # Who may see the article: its source's server, or GLOBAL_SCOPE (see store.visibility).
    guild_id: Mapped[int] = mapped_column(BigInteger, default=GLOBAL_SCOPE, index=True)
    entry_id: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the canonical URL (tracking parameters, fragment and case noise removed); None without one.
    url_key: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    collected_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    # Set when the article is new or changed; cleared once it is summarized and tagged.
    needs_tagging: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    tags_version: Mapped[str | None] = mapped_column(String(64))
    # When the article was first ready for digests (summarized and tagged); digests select by it.
    ready_at: Mapped[datetime | None] = mapped_column(index=True)
    # A feed's teaser whose linked page is still to be fetched: when to try next, and failed tries so far.
    full_text_due: Mapped[datetime | None] = mapped_column(index=True)
    full_text_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the article is (again) ready; cleared once it has joined a story.
    needs_story: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO 639-1, detected when the article is tagged (None: not yet, or too little text to tell).
    language: Mapped[str | None] = mapped_column(String(8), index=True)
    # English title and summary of a non-English article, when translation is on.
    title_translated: Mapped[str | None] = mapped_column(Text)
    summary_translated: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source | None] = relationship(back_populates="articles")
    countries: Mapped[list[ArticleCountry]] = relationship(
        order_by="ArticleCountry.rank", cascade="all, delete-orphan", passive_deletes=True
    )
    topics: Mapped[list[ArticleTopic]] = relationship(
        order_by="ArticleTopic.rank", cascade="all, delete-orphan", passive_deletes=True
    )
    vector: Mapped[ArticleVector | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    sections: Mapped[list[Section]] = relationship(
        back_populates="article",
        order_by="Section.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Section(Base):
    """A titled (or untitled) part of an article, summarized on its own."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("article_id", "position", name="uq_sections_article_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    needs_summary: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    summary_backend: Mapped[str | None] = mapped_column(String(32))
    summary_model: Mapped[str | None] = mapped_column(Text)
    summary_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    summarized_at: Mapped[datetime | None]

    article: Mapped[Article] = relationship(back_populates="sections")


class ArticleCountry(Base):
    """A country an article is about, ranked by salience (0 is the most salient)."""

    __tablename__ = "article_countries"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)
    score: Mapped[float]
    rank: Mapped[int] = mapped_column(Integer)


class ArticleTopic(Base):
    """A topic an article is about, with its score (0 is the best rank)."""

    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    score: Mapped[float]
    rank: Mapped[int] = mapped_column(Integer)


class CachedSummary(Base):
    """A summary of some text by some model and parameters, reused wherever the same text recurs."""

    __tablename__ = "summary_cache"
    __table_args__ = (UniqueConstraint("text_hash", "model_key", name="uq_summary_cache_text_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    model_key: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(Text)
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """A scheduled digest: where it goes, when (in its own time zone), and what it holds."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("guild_id", "name", name="uq_subscriptions_guild_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, default=GLOBAL_SCOPE, index=True)
    name: Mapped[str] = mapped_column(String(100))
    # A Discord channel id (through the bot), a webhook URL, or "terminal".
    target_kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind))
    target: Mapped[str] = mapped_column(Text)
    schedule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    # ISO 639-1 codes; empty or None: every language.
    languages: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    max_items: Mapped[int] = mapped_column(Integer, default=10)
    # Channel subscriptions only: updates on a story already sent go to that story's thread.
    threads: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[Origin] = mapped_column(str_enum(Origin), default=Origin.RUNTIME)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One digest for one subscription and window: recorded before sending, marked sent after."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    # pending -> sent, or failed (given up) / superseded (a later digest covers it) / skipped (nothing to send);
    # see digests/services/deliveries.py
    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus), default=DeliveryStatus.PENDING, index=True)
    payload: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # How many articles of each story (by id) the digest carries; the subscription has them once it is sent.
    stories: Mapped[dict[str, int] | None] = mapped_column(JSON)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    # The message being sent when the process stopped, if any: its outcome is unknown.
    sending_index: Mapped[int | None] = mapped_column(Integer)
    message_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Failed rounds so far, and when the next round is due (None: not waiting for one).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    # The process sending it, until when: another takes it over once the lease runs out.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ArticleVector(Base):
    """An article's embedding (float16), for search by meaning."""

    __tablename__ = "article_vectors"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # When the vector was last written: search indexes read what changed since they last looked.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, index=True)


class Story(Base):
    """Articles about one event, from any outlet, followed while it develops."""

    __tablename__ = "stories"
    __table_args__ = (Index("ix_stories_guild_last_updated", "guild_id", "last_updated"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stories form within one visibility scope: global articles with global ones, a server's with its own.
    guild_id: Mapped[int] = mapped_column(BigInteger, default=GLOBAL_SCOPE)
    title: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_updated: Mapped[datetime]
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[StoryMember]] = relationship(
        back_populates="story", cascade="all, delete-orphan", passive_deletes=True, order_by="StoryMember.joined_at"
    )


class StoryMerge(Base):
    """A story merged into another (and deleted): its number, in messages and commands, leads to that one."""

    __tablename__ = "story_merges"

    story_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    into_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoryMember(Base):
    """An article in a story (an article is in one story at most), with the vector it was matched on."""

    __tablename__ = "story_members"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    # When the article happened (published, else collected), as clustering placed it.
    joined_at: Mapped[datetime]
    similarity: Mapped[float]
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)

    story: Mapped[Story] = relationship(back_populates="members")


class StoryDelivery(Base):
    """What a subscription has been sent of a story: how many members, and the thread that follows it."""

    __tablename__ = "story_deliveries"

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    members_sent: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For a subscription with threads: the Discord thread its updates on this story go to.
    thread_id: Mapped[str | None] = mapped_column(String(40))


class StoryFollow(Base):
    """A member following a story: told by direct message when it gets new articles."""

    __tablename__ = "story_follows"

    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    # Where the member followed it from: they are told only of articles visible there.
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    members_notified: Mapped[int] = mapped_column(Integer, default=0)
    notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Worker(Base):
    """A running Sitrep process: what it does, and when it last said it was alive."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    roles: Mapped[str] = mapped_column(String(100))
    shard: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
