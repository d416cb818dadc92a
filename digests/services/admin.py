"""Administration services for one server: its subscriptions, its sources, and Sitrep's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select

from digests.collect.fetch import check_url
from digests.errors import NotFoundError, SitrepError
from digests.schedule import check_timezone
from digests.services.digests import validate_subscription
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Article, Section, Source, Subscription
from digests.tagging.countries import resolve_country
from digests.tagging.topics import load_topics, resolve_topic


async def add_subscription(
    database: Database,
    settings: Settings,
    *,
    guild_id: int,
    channel_id: int,
    schedule: str,
    timezone: str,
    topics: list[str] | None = None,
    countries: list[str] | None = None,
    max_items: int = 10,
) -> Subscription:
    """Create a channel subscription for a server, validating every option with a clear message."""
    check_timezone(timezone)
    validate_subscription(schedule, timezone, max_items)
    taxonomy = load_topics(settings.config_path(settings.tagging.topics_file)) if topics else []
    resolved_topics = [resolve_topic(t, taxonomy) for t in topics or []]
    resolved_countries = [resolve_country(c) for c in countries or []]
    async with database.sessions.begin() as session:
        count = await session.scalar(select(func.count()).where(Subscription.guild_id == guild_id)) or 0
        if count >= 25:
            raise SitrepError("This server already has 25 subscriptions; remove one first.")
        subscription = Subscription(
            guild_id=guild_id,
            name=f"channel-{channel_id}-{count + 1}",
            target_kind="channel",
            target=str(channel_id),
            schedule=schedule.strip(),
            timezone=timezone.strip(),
            topics=resolved_topics,
            countries=resolved_countries,
            max_items=max_items,
            origin="runtime",
        )
        session.add(subscription)
        await session.flush()
        return subscription


async def list_subscriptions(database: Database, *, guild_id: int) -> list[Subscription]:
    """Return a server's subscriptions, oldest first."""
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Subscription).where(Subscription.guild_id == guild_id).order_by(Subscription.id)
        )
        return list(rows)


async def remove_subscription(database: Database, *, guild_id: int, subscription_id: int) -> Subscription:
    """Delete one of a server's subscriptions; another server's cannot be named."""
    async with database.sessions.begin() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.guild_id != guild_id:
            raise NotFoundError(f"This server has no subscription {subscription_id}. See /subscriptions.")
        await session.delete(subscription)
        return subscription


def _source_name(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.hostname}{path}"[:200]


async def add_source(
    database: Database, settings: Settings, *, guild_id: int, url: str, interval_minutes: float | None = None
) -> Source:
    """Add a feed or page URL as one of a server's own sources; it is polled from the next collection."""
    check_url(url.strip(), allow_private=settings.fetch.allow_private_addresses)
    interval = interval_minutes or settings.collect.default_interval_minutes
    if not 5 <= interval <= 7 * 24 * 60:
        raise SitrepError("The interval must be between 5 minutes and a week.")
    async with database.sessions.begin() as session:
        exists = await session.scalar(select(Source).where(Source.guild_id == guild_id, Source.location == url.strip()))
        if exists is not None:
            raise SitrepError(f"This server already has that source (#{exists.id} {exists.name}).")
        count = await session.scalar(select(func.count()).where(Source.guild_id == guild_id)) or 0
        if count >= 50:
            raise SitrepError("This server already has 50 sources; remove one first.")
        source = Source(
            guild_id=guild_id,
            name=_source_name(url.strip()),
            kind="url",
            location=url.strip(),
            interval_minutes=interval,
            origin="runtime",
            failures=0,
        )
        session.add(source)
        await session.flush()
        return source


async def list_own_sources(database: Database, *, guild_id: int) -> list[Source]:
    """Return a server's own sources, with their health."""
    async with database.sessions() as session:
        return list(await session.scalars(select(Source).where(Source.guild_id == guild_id).order_by(Source.id)))


async def remove_source(database: Database, *, guild_id: int, source_id: int) -> Source:
    """Remove one of a server's own sources (its articles stay)."""
    async with database.sessions.begin() as session:
        source = await session.get(Source, source_id)
        if source is None or source.guild_id != guild_id:
            raise NotFoundError(f"This server has no source {source_id}. See /sources list.")
        await session.delete(source)
        return source


@dataclass(slots=True, frozen=True)
class Status:
    """What /status reports."""

    last_collection: datetime | None
    articles: int
    pending_sections: int
    pending_articles: int
    sources: int
    failing_sources: int
    summarizer: str
    database: str


async def status(database: Database, settings: Settings, *, summarizer: str) -> Status:
    """Return Sitrep's health: last collection, backlog, model in use and database backend."""
    async with database.sessions() as session:
        last = await session.scalar(select(func.max(Source.last_fetched_at)))
        articles = await session.scalar(select(func.count()).select_from(Article)) or 0
        pending_sections = (
            await session.scalar(select(func.count()).select_from(Section).where(Section.needs_summary.is_(True))) or 0
        )
        pending_articles = (
            await session.scalar(select(func.count()).select_from(Article).where(Article.needs_tagging.is_(True))) or 0
        )
        sources = await session.scalar(select(func.count()).select_from(Source).where(Source.enabled.is_(True))) or 0
        failing = await session.scalar(select(func.count()).select_from(Source).where(Source.failures > 0)) or 0
    return Status(last, articles, pending_sections, pending_articles, sources, failing, summarizer, database.backend)
