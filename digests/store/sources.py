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
from digests.store.records import SourceIn, SourceRecord
from digests.store.visibility import visible_sources


def source_record(row: Source) -> SourceRecord:
    """Return a source row as the plain record callers hold."""
    return SourceRecord(
        id=row.id,
        guild_id=row.guild_id,
        name=row.name,
        kind=row.kind,
        location=row.location,
        interval_minutes=row.interval_minutes,
        enabled=row.enabled,
        origin=row.origin,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetched_at=row.last_fetched_at,
        last_success_at=row.last_success_at,
        next_fetch_at=row.next_fetch_at,
        failures=row.failures,
        last_error=row.last_error,
        disabled_reason=row.disabled_reason,
        disabled_by=row.disabled_by,
    )


async def list_sources(*, guild_id: int | None = None, session: AsyncSession) -> list[SourceRecord]:
    """Return the sources visible from ``guild_id`` (None: the global ones), global first, by name."""
    statement = select(Source).where(visible_sources(guild_id)).order_by(Source.guild_id, Source.name)
    return [source_record(row) for row in await session.scalars(statement)]


async def server_sources(guild_id: int, *, session: AsyncSession) -> list[SourceRecord]:
    """Return a server's own sources, oldest first."""
    statement = select(Source).where(Source.guild_id == guild_id).order_by(Source.id)
    return [source_record(row) for row in await session.scalars(statement)]


async def count_server_sources(guild_id: int, *, session: AsyncSession) -> int:
    """Count a server's own sources."""
    return await session.scalar(select(func.count()).where(Source.guild_id == guild_id)) or 0


async def find_server_source(guild_id: int, location: str, *, session: AsyncSession) -> SourceRecord | None:
    """Return a server's own source at ``location``, if it has one."""
    row = await session.scalar(select(Source).where(Source.guild_id == guild_id, Source.location == location))
    return source_record(row) if row is not None else None


async def add_source(
    *, guild_id: int, name: str, kind: SourceKind, location: str, interval_minutes: float, session: AsyncSession
) -> SourceRecord:
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
    return source_record(source)


async def get_source(source_id: int, *, session: AsyncSession) -> SourceRecord | None:
    """Return one source, or None."""
    row = await session.get(Source, source_id)
    return source_record(row) if row is not None else None


async def delete_source(source_id: int, *, session: AsyncSession) -> None:
    """Delete a source; its articles stay, still visible only where they were."""
    row = await session.get(Source, source_id)
    if row is not None:
        await session.delete(row)


async def claim_due_sources(now: datetime, *, lease: timedelta, session: AsyncSession) -> list[SourceRecord]:
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
    return [source_record(source) for source in sources]


async def record_success(
    source_id: int, now: datetime, *, etag: str | None, last_modified: str | None, session: AsyncSession
) -> None:
    """Record a good fetch: failures reset, next fetch one interval later."""
    source = await session.get(Source, source_id)
    if source is None:
        return
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


async def record_failure(
    source_id: int, now: datetime, error: str, *, max_backoff_minutes: float, max_failures: int, session: AsyncSession
) -> SourceRecord | None:
    """Record a failed fetch: back off exponentially, and disable after too many in a row; return the source now."""
    source = await session.get(Source, source_id)
    if source is None:
        return None
    source.last_fetched_at = now
    source.failures += 1
    source.last_error = error
    delay = min(source.interval_minutes * 2**source.failures, max_backoff_minutes)
    source.next_fetch_at = now + timedelta(minutes=delay)
    if source.failures >= max_failures:
        source.enabled = False
        source.disabled_by = DisabledBy.FAILURES
        source.disabled_reason = f"disabled after {source.failures} failures in a row; last: {error}"
    return source_record(source)


async def enable_source(source_id: int, *, session: AsyncSession) -> SourceRecord | None:
    """Turn a source on again with a clean slate: no failures, fetched at the next collection."""
    source = await session.get(Source, source_id)
    if source is None:
        return None
    _enable(source)
    return source_record(source)


def _enable(source: Source) -> None:
    """Turn a source on again with a clean slate: no failures, fetched at the next collection."""
    source.enabled = True
    source.disabled_by = None
    source.disabled_reason = None
    source.failures = 0
    source.last_error = None
    source.next_fetch_at = None


async def find_sources(name: str, *, guild_id: int, session: AsyncSession) -> list[SourceRecord]:
    """Return a server's own (or, with GLOBAL_SCOPE, the global) sources named ``name``, in any case."""
    statement = select(Source).where(Source.guild_id == guild_id, func.lower(Source.name) == name.strip().lower())
    return [source_record(row) for row in await session.scalars(statement)]


async def sync_config_sources(specs: Sequence[SourceIn], *, session: AsyncSession) -> list[SourceRecord]:
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
            _enable(source)  # a new location deserves a fresh try
        source.kind = spec.kind
        source.location = spec.location
        source.interval_minutes = spec.interval_minutes
        if source.disabled_by is DisabledBy.FAILURES:
            pass  # disabled after failing: it stays off until an admin turns it on again
        elif spec.enabled and not source.enabled:
            _enable(source)
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
    return [source_record(source) for source in result]
