"""Sources: the global ones the sources file declares, and each server's own, with their fetch health."""

from __future__ import annotations

from urllib.parse import urlsplit

from digests.collect.fetch import AddressPolicy, check_url
from digests.collect.sources import load_source_specs
from digests.errors import NotFoundError, SitrepError
from digests.kinds import DisabledBy, SourceKind
from digests.settings import Settings
from digests.store import Database, Session, workers
from digests.store import sources as source_store
from digests.store.records import GLOBAL_SCOPE, SourceIn, SourceRecord

MAX_SOURCES = 50


def _source_name(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return f"{parts.hostname}{path}"[:200]


async def add_server_source(
    database: Database, settings: Settings, *, guild_id: int, url: str, interval_minutes: float | None = None
) -> SourceRecord:
    """Add a feed or page URL as one of a server's own sources; it is polled from the next collection."""
    location = url.strip()
    check_url(location, allow_private=AddressPolicy.of(settings.fetch))
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


async def server_sources(database: Database, *, guild_id: int) -> list[SourceRecord]:
    """Return a server's own sources, with their health."""
    async with database.sessions() as session:
        return await source_store.server_sources(guild_id, session=session)


async def _own_source(guild_id: int, source_id: int, *, session: Session) -> SourceRecord:
    """Return one of a server's own sources; another server's cannot be named."""
    source = await source_store.get_source(source_id, session=session)
    if source is None or source.guild_id != guild_id:
        raise NotFoundError(f"This server has no source {source_id}. See /sources list.")
    return source


async def enable_server_source(database: Database, *, guild_id: int, source_id: int) -> SourceRecord:
    """Turn one of a server's own sources on again after it was disabled for failing."""
    async with database.sessions.begin() as session:
        source = await _own_source(guild_id, source_id, session=session)
        return await source_store.enable_source(source.id, session=session) or source


async def remove_server_source(database: Database, *, guild_id: int, source_id: int) -> SourceRecord:
    """Remove one of a server's own sources (its articles stay, still seen only by that server)."""
    async with database.sessions.begin() as session:
        source = await _own_source(guild_id, source_id, session=session)
        await source_store.delete_source(source.id, session=session)
        return source


async def sync_sources(*, database: Database, settings: Settings) -> list[SourceRecord]:
    """Bring the stored global sources in line with the sources file."""
    specs = load_source_specs(
        settings.config_path(settings.collect.sources_file),
        default_interval=settings.collect.default_interval_minutes,
    )
    wanted = [SourceIn(s.name, s.location, s.kind or SourceKind.PATH, s.interval_minutes, s.enabled) for s in specs]
    async with database.sessions.begin() as session:
        await workers.exclusive(workers.CONFIG_LOCK, session=session)  # processes starting together take turns
        return await source_store.sync_config_sources(wanted, session=session)


async def list_sources(*, database: Database) -> list[SourceRecord]:
    """Return every global source with its health."""
    async with database.sessions() as session:
        return await source_store.list_sources(session=session)


async def sync_and_list_sources(*, database: Database, settings: Settings) -> list[SourceRecord]:
    """Bring the global sources in line with the sources file, then return them with their health."""
    await sync_sources(database=database, settings=settings)
    return await list_sources(database=database)


async def enable_global_source(name: str, *, database: Database) -> SourceRecord:
    """Turn a global source on again after it was disabled for failing; it is fetched at the next collection."""
    async with database.sessions.begin() as session:
        found = await source_store.find_sources(name, guild_id=GLOBAL_SCOPE, session=session)
        if not found:
            raise NotFoundError(f"There is no source named {name!r}; see `sitrep sources list`.")
        source = found[0]
        if source.disabled_by is DisabledBy.CONFIG:
            raise SitrepError(f"{source.name!r} is {source.disabled_reason}; enable it there.")
        return await source_store.enable_source(source.id, session=session) or source
