"""Sources and their fetch health: repository functions that never commit."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from digests.kinds import DisabledBy, Origin, SourceKind
from digests.store.db import skip_locked
from digests.store.models import GLOBAL_SCOPE, Source
from digests.store.records import SourceIn
from digests.store.visibility import visible_sources


async def list_sources(*, guild_id: int | None = None, session: AsyncSession) -> list[Source]:
    """Return the sources visible from ``guild_id`` (None: the global ones), global first, by name."""
    statement = select(Source).where(visible_sources(guild_id)).order_by(Source.guild_id, Source.name)
    return list(await session.scalars(statement))


async def server_sources(guild_id: int, *, session: AsyncSession) -> list[Source]:
    """Return a server's own sources, oldest first."""
    return list(await session.scalars(select(Source).where(Source.guild_id == guild_id).order_by(Source.id)))


async def count_server_sources(guild_id: int, *, session: AsyncSession) -> int:
    """Count a server's own sources."""
    return await session.scalar(select(func.count()).where(Source.guild_id == guild_id)) or 0


async def find_server_source(guild_id: int, location: str, *, session: AsyncSession) -> Source | None:
    """Return a server's own source at ``location``, if it has one."""
    return await session.scalar(select(Source).where(Source.guild_id == guild_id, Source.location == location))


async def add_source(
    *, guild_id: int, name: str, kind: SourceKind, location: str, interval_minutes: float, session: AsyncSession
) -> Source:
    """Add a source made at run time (a command) and return it with its id."""
    source = Source(
        guild_id=guild_id,
        name=name,
        kind=kind,
        location=location,
        interval_minutes=interval_minutes,
        origin=Origin.RUNTIME,
        failures=0,
    )
    session.add(source)
    await session.flush()
    return source


async def get_source(source_id: int, *, session: AsyncSession) -> Source | None:
    """Return one source, or None."""
    return await session.get(Source, source_id)


async def delete_source(source: Source, *, session: AsyncSession) -> None:
    """Delete a source; its articles stay, still visible only where they were."""
    await session.delete(source)


async def claim_due_sources(now: datetime, *, lease: timedelta, session: AsyncSession) -> list[Source]:
    """Return the enabled sources whose next fetch is due, and hold them for ``lease``.

    Holding means moving their next fetch past the lease: another process polling at the same time
    skips them (and the locked rows), and if this one dies mid-fetch they are due again afterwards.
    """
    statement = (
        select(Source)
        .where(Source.enabled.is_(True), or_(Source.next_fetch_at.is_(None), Source.next_fetch_at <= now))
        .order_by(Source.next_fetch_at.is_not(None), Source.next_fetch_at, Source.id)
    )
    sources = list(await session.scalars(skip_locked(statement, session)))
    for source in sources:
        source.next_fetch_at = now + lease
    await session.flush()
    return sources


def mark_success(source: Source, now: datetime, *, etag: str | None, last_modified: str | None) -> None:
    """Record a good fetch: failures reset, next fetch one interval later."""
    source.last_fetched_at = now
    source.last_success_at = now
    source.failures = 0
    source.last_error = None
    if etag is not None or last_modified is not None:
        source.etag = etag
        source.last_modified = last_modified
    # Up to a tenth of the interval of jitter, so sources with the same interval drift apart.
    jitter = random.uniform(0, 0.1 * source.interval_minutes)
    source.next_fetch_at = now + timedelta(minutes=source.interval_minutes + jitter)


def mark_failure(source: Source, now: datetime, error: str, *, max_backoff_minutes: float, max_failures: int) -> None:
    """Record a failed fetch: back off exponentially, and disable after too many in a row."""
    source.last_fetched_at = now
    source.failures += 1
    source.last_error = error
    delay = min(source.interval_minutes * 2**source.failures, max_backoff_minutes)
    source.next_fetch_at = now + timedelta(minutes=delay)
    if source.failures >= max_failures:
        source.enabled = False
        source.disabled_by = DisabledBy.FAILURES
        source.disabled_reason = f"disabled after {source.failures} failures in a row; last: {error}"


def enable(source: Source) -> None:
    """Turn a source on again with a clean slate: no failures, fetched at the next collection."""
    source.enabled = True
    source.disabled_by = None
    source.disabled_reason = None
    source.failures = 0
    source.last_error = None
    source.next_fetch_at = None


async def find_sources(name: str, *, guild_id: int, session: AsyncSession) -> list[Source]:
    """Return a server's own (or, with GLOBAL_SCOPE, the global) sources named ``name``, in any case."""
    statement = select(Source).where(Source.guild_id == guild_id, func.lower(Source.name) == name.strip().lower())
    return list(await session.scalars(statement))


async def sync_config_sources(specs: Sequence[SourceIn], *, session: AsyncSession) -> list[Source]:
    """Make the global sources match the sources file, keeping each source's fetch history."""
    rows = await session.scalars(select(Source).where(Source.guild_id == GLOBAL_SCOPE, Source.origin == Origin.CONFIG))
    stored = {source.name: source for source in rows}
    result = []
    for spec in specs:
        source = stored.pop(spec.name, None)
        if source is None:
            source = Source(guild_id=GLOBAL_SCOPE, name=spec.name, origin=Origin.CONFIG, failures=0)
            session.add(source)
        elif source.location != spec.location:
            source.etag = source.last_modified = None  # validators belong to the old location
            enable(source)  # a new location deserves a fresh try
        source.kind = spec.kind
        source.location = spec.location
        source.interval_minutes = spec.interval_minutes
        if source.disabled_by is DisabledBy.FAILURES:
            pass  # disabled after failing: it stays off until an admin turns it on again
        elif spec.enabled and not source.enabled:
            enable(source)
        elif spec.enabled:
            source.enabled = True
        else:
            source.enabled, source.disabled_by = False, DisabledBy.CONFIG
            source.disabled_reason = "disabled in the sources file"
        result.append(source)
    for source in stored.values():
        if source.enabled:
            source.enabled, source.disabled_by = False, DisabledBy.CONFIG
            source.disabled_reason = "no longer listed in the sources file"
    await session.flush()
    return result
