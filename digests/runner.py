"""The main job: keep collecting on schedule until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from digests.errors import SitrepError
from digests.services.collection import collect_due_sources, sync_sources
from digests.services.enrichment import Enricher, summarize_pending
from digests.settings import Settings
from digests.store.db import Database, open_database

log = logging.getLogger(__name__)

COLLECT_CHECK_SECONDS = 60


async def collect_job(database: Database, settings: Settings, enricher: Enricher) -> None:
    """Poll due sources, then summarize and tag what came in; logs rather than raises."""
    try:
        report = await collect_due_sources(database=database, settings=settings)
        for source in report.sources:
            for error in source.errors:
                log.warning("%s", error)
        await summarize_pending(database=database, enricher=enricher)
    except SitrepError as error:
        log.error("%s", error)
    except Exception:
        log.exception("Collection failed; the next run will try again")


def build_scheduler(database: Database, settings: Settings, enricher: Enricher) -> AsyncIOScheduler:
    """Return a scheduler holding the collection job; it checks for due sources every minute."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        collect_job,
        "interval",
        seconds=COLLECT_CHECK_SECONDS,
        args=(database, settings, enricher),
        id="collect",
        name="collect due sources, then summarize and tag",
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=COLLECT_CHECK_SECONDS,
    )
    return scheduler


async def run_forever(settings: Settings, *, console: Console) -> None:
    """Apply migrations, sync the sources file, start the scheduler, and wait for Ctrl-C or SIGTERM."""
    database = await open_database(settings.database_url)
    try:
        sources = await sync_sources(database=database, settings=settings)
        console.print(
            f"Sitrep is running on {database.describe()} with {len(sources)} configured source(s). "
            "Press Ctrl-C to stop."
        )
        enricher = Enricher(settings)
        scheduler = build_scheduler(database, settings, enricher)
        scheduler.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            enricher.close()
            console.print("Stopping Sitrep.")
    finally:
        await database.dispose()
