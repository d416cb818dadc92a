"""The main job: collect, summarize and tag on schedule, and deliver each subscription's digests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

import aiohttp
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console
from sqlalchemy import select

from digests.delivery import Sender, TerminalSender, WebhookSender
from digests.errors import SitrepError
from digests.schedule import parse_schedule, previous_fire_time
from digests.services.collection import collect_due_sources, sync_sources
from digests.services.digests import deliver, due_catch_up, resume_pending, sync_settings_subscriptions
from digests.services.enrichment import Enricher, summarize_pending
from digests.settings import Settings
from digests.store.db import Database, open_database
from digests.store.models import Subscription

log = logging.getLogger(__name__)

COLLECT_CHECK_SECONDS = 60
RECONCILE_SECONDS = 60


class MainJob:
    """Owns the database, the models, the scheduler and the senders for one running Sitrep."""

    def __init__(
        self, settings: Settings, *, console: Console, channel_sender: Callable[[int], Sender] | None = None
    ) -> None:
        self.settings = settings
        self.console = console
        self.channel_sender = channel_sender
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.terminal = TerminalSender(console)
        self._signatures: dict[int, str] = {}
        self.database: Database | None = None
        self.enricher: Enricher | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def db(self) -> Database:
        """The open database; only after ``start``."""
        if self.database is None:
            raise RuntimeError("the main job has not started")
        return self.database

    def sender_for(self, subscription: Subscription) -> Sender:
        """Return the sender for a subscription's target."""
        if subscription.target_kind == "terminal":
            return self.terminal
        if subscription.target_kind == "webhook":
            if self._http is None:
                self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            return WebhookSender(subscription.target, self._http)
        if subscription.target_kind == "channel" and self.channel_sender is not None:
            return self.channel_sender(int(subscription.target))
        raise SitrepError("digests to a Discord channel need the bot: set SITREP_DISCORD_TOKEN")

    async def open(self) -> None:
        """Open the database (applying migrations), load sources and subscriptions, and prepare the models."""
        self.database = await open_database(self.settings.database_url)
        sources = await sync_sources(database=self.database, settings=self.settings)
        subscriptions = await sync_settings_subscriptions(database=self.database, settings=self.settings)
        self.enricher = Enricher(self.settings)
        self.console.print(
            f"Sitrep is running on {self.database.describe()} with {len(sources)} source(s) and "
            f"{len(subscriptions)} subscription(s) from the settings. Press Ctrl-C to stop."
        )

    async def begin(self) -> None:
        """Run a first collection, finish or catch up on digests, then start the scheduler."""
        await self.collect()
        await resume_pending(database=self.db, sender_for=self.sender_for, settings=self.settings)
        now = datetime.now(UTC)
        for subscription_id, window_end in await due_catch_up(database=self.db, settings=self.settings, now=now):
            await self._deliver(subscription_id, window_end)
        self.scheduler.add_job(
            self.collect,
            "interval",
            seconds=COLLECT_CHECK_SECONDS,
            id="collect",
            name="collect due sources, then summarize and tag",
            max_instances=1,
            coalesce=True,
            jitter=10,
        )
        self.scheduler.add_job(self.reconcile, "interval", seconds=RECONCILE_SECONDS, id="reconcile", coalesce=True)
        await self.reconcile()
        self.scheduler.start()
        log.info("Scheduler running with %d job(s)", len(self.scheduler.get_jobs()))

    async def start(self) -> None:
        """Open, then begin: everything ``sitrep run`` does before it waits."""
        await self.open()
        await self.begin()

    async def stop(self) -> None:
        """Stop the scheduler, the model thread, and close connections."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.enricher is not None:
            self.enricher.close()
        if self._http is not None:
            await self._http.close()
        if self.database is not None:
            await self.database.dispose()

    async def collect(self) -> None:
        """Poll due sources, then summarize and tag what came in; logs rather than raises."""
        if self.enricher is None:
            raise RuntimeError("the main job has not started")
        try:
            with self.console.status("Collecting sources…", spinner="dots"):
                report = await collect_due_sources(database=self.db, settings=self.settings)
            for source in report.sources:
                for error in source.errors:
                    log.warning("%s", error)
            with self.console.status("Summarizing and tagging…", spinner="dots"):
                await summarize_pending(database=self.db, enricher=self.enricher)
        except SitrepError as error:
            log.error("%s", error)
        except Exception:
            log.exception("Collection failed; the next run will try again")

    async def reconcile(self) -> None:
        """Keep one cron job per enabled subscription, in its own time zone, in step with the database."""
        async with self.db.sessions() as session:
            subscriptions = list(await session.scalars(select(Subscription).where(Subscription.enabled.is_(True))))
        wanted = {s.id for s in subscriptions}
        for subscription_id in set(self._signatures) - wanted:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(f"digest:{subscription_id}")
            del self._signatures[subscription_id]
        for subscription in subscriptions:
            signature = f"{subscription.schedule}|{subscription.timezone}"
            if self._signatures.get(subscription.id) == signature:
                continue
            try:
                trigger = parse_schedule(subscription.schedule, subscription.timezone)
            except SitrepError as error:
                log.error("Subscription %r has an unusable schedule: %s", subscription.name, error)
                continue
            self.scheduler.add_job(
                self.digest_job,
                trigger,
                args=(subscription.id,),
                id=f"digest:{subscription.id}",
                name=f"digest {subscription.name}",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(self.settings.digest.grace_minutes * 60) or None,
            )
            self._signatures[subscription.id] = signature

    async def digest_job(self, subscription_id: int) -> None:
        """Deliver the digest of the window that ends at this run's scheduled time."""
        async with self.db.sessions() as session:
            subscription = await session.get(Subscription, subscription_id)
        if subscription is None or not subscription.enabled:
            return
        now = datetime.now(UTC)
        fired = previous_fire_time(parse_schedule(subscription.schedule, subscription.timezone), now) or now
        await self._deliver(subscription_id, fired)

    async def _deliver(self, subscription_id: int, window_end: datetime) -> None:
        try:
            await deliver(
                subscription_id, window_end, database=self.db, sender_for=self.sender_for, settings=self.settings
            )
        except SitrepError as error:
            log.error("Digest for subscription %d failed: %s", subscription_id, error)
        except Exception:
            log.exception("Digest for subscription %d failed", subscription_id)


def _front_door(name: str) -> Callable[..., Any]:
    """Return a front door registered under the ``sitrep.front_doors`` entry points (the bot is one)."""
    for entry in entry_points(group="sitrep.front_doors"):
        if entry.name == name:
            return entry.load()
    raise SitrepError(f"the {name} front door is not installed (reinstall Sitrep with `make run`)")


async def run_forever(settings: Settings, *, console: Console) -> None:
    """Run the main job until Ctrl-C or SIGTERM; with a Discord token, run it inside the bot."""
    if settings.discord_token is not None and settings.discord_token.get_secret_value():
        await _front_door("discord")(settings, console=console)
        return
    job = MainJob(settings, console=console)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await job.start()
        await stop.wait()
    finally:
        console.print("Stopping Sitrep.")
        await job.stop()
