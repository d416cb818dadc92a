"""Administration services for one server: its sources, and Sitrep's status (subscriptions: services.subscriptions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from digests.collect.fetch import check_url
from digests.errors import NotFoundError, SitrepError
from digests.kinds import SourceKind
from digests.services.enrichment import Enricher
from digests.settings import Settings
from digests.store import Database, Session
from digests.store import articles as article_store
from digests.store import sources as source_store
from digests.store import workers as worker_store
from digests.store.records import ProcessInfo, SourceRecord, StoreCounts

MAX_SOURCES = 50


def _source_name(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.hostname}{path}"[:200]


async def add_source(
    database: Database, settings: Settings, *, guild_id: int, url: str, interval_minutes: float | None = None
) -> SourceRecord:
    """Add a feed or page URL as one of a server's own sources; it is polled from the next collection."""
    location = url.strip()
    check_url(location, allow_private=settings.fetch.allow_private_addresses)
    interval = interval_minutes or settings.collect.default_interval_minutes
    if not 5 <= interval <= 7 * 24 * 60:
        raise SitrepError("The interval must be between 5 minutes and a week.")
    async with database.sessions.begin() as session:
        existing = await source_store.find_server_source(guild_id, location, session=session)
        if existing is not None:
            raise SitrepError(f"This server already has that source (#{existing.id} {existing.name}).")
        if await source_store.count_server_sources(guild_id, session=session) >= MAX_SOURCES:
            raise SitrepError(f"This server already has {MAX_SOURCES} sources; remove one first.")
        return await source_store.add_source(
            guild_id=guild_id,
            name=_source_name(location),
            kind=SourceKind.URL,
            location=location,
            interval_minutes=interval,
            session=session,
        )


async def list_own_sources(database: Database, *, guild_id: int) -> list[SourceRecord]:
    """Return a server's own sources, with their health."""
    async with database.sessions() as session:
        return await source_store.server_sources(guild_id, session=session)


async def _own_source(guild_id: int, source_id: int, *, session: Session) -> SourceRecord:
    """Return one of a server's own sources; another server's cannot be named."""
    source = await source_store.get_source(source_id, session=session)
    if source is None or source.guild_id != guild_id:
        raise NotFoundError(f"This server has no source {source_id}. See /sources list.")
    return source


async def enable_source(database: Database, *, guild_id: int, source_id: int) -> SourceRecord:
    """Turn one of a server's own sources on again after it was disabled for failing."""
    async with database.sessions.begin() as session:
        source = await _own_source(guild_id, source_id, session=session)
        return await source_store.enable_source(source.id, session=session) or source


async def remove_source(database: Database, *, guild_id: int, source_id: int) -> SourceRecord:
    """Remove one of a server's own sources (its articles stay, still seen only by that server)."""
    async with database.sessions.begin() as session:
        source = await _own_source(guild_id, source_id, session=session)
        await source_store.delete_source(source.id, session=session)
        return source


@dataclass(slots=True, frozen=True)
class Status(StoreCounts):
    """What /status reports: the store's counts, the model in use, the database and the live processes."""

    summarizer: str = ""
    database: str = ""
    processes: tuple[ProcessInfo, ...] = ()


LIVE_WITHIN = timedelta(seconds=60)
"""A process whose last heartbeat is older than this is taken for dead."""


async def status(database: Database, models: Enricher) -> Status:
    """Return Sitrep's health: last collection, backlog, model in use, database and live processes."""
    async with database.sessions.begin() as session:
        counts = await article_store.counts(session=session)
        await worker_store.forget_dead(LIVE_WITHIN, session=session)
        processes = await worker_store.live_workers(LIVE_WITHIN, session=session)
    return Status(
        **asdict(counts),
        summarizer=models.summarizer_name,
        database=database.describe(),
        processes=tuple(processes),
    )


async def announce_alive(database: Database, *, roles: str, shard: str | None) -> None:
    """Record this process in the workers table with its roles, or refresh its heartbeat."""
    async with database.sessions.begin() as session:
        await worker_store.announce(roles, shard, session=session)


async def retire(database: Database) -> None:
    """Remove this process from the workers table."""
    async with database.sessions.begin() as session:
        await worker_store.retire(session=session)
