"""The processes sharing the work: each announces itself and beats, and ``status`` reports the live ones with the
store's health."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from digests.services.enrichment import Enricher
from digests.store import Database
from digests.store import articles as article_store
from digests.store import workers as worker_store
from digests.store.records import ProcessInfo, StoreCounts


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
