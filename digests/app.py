"""The app core: resources built once at start, the sender registry, and the scheduler with its jobs.

The command line and the bot are sibling front doors over one ``App``: they call services with
its resources and never reach into models or sessions themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import entry_points

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from digests import jobs
from digests.delivery import Sender, SenderRegistry, TerminalSender, WebhookSender
from digests.errors import SitrepError
from digests.kinds import TargetKind
from digests.services.collection import sync_sources
from digests.services.deliveries import due_catch_up, resume_pending
from digests.services.digests import sync_settings_subscriptions
from digests.services.enrichment import Enricher
from digests.settings import Settings
from digests.store import Database, open_database
from digests.store.models import Subscription

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 30


@dataclass(slots=True)
class Resources:
    """What a running Sitrep holds open: settings, database, models (loaded on first use), HTTP session."""

    settings: Settings
    database: Database
    models: Enricher
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        """Open the database (applying migrations) and prepare the models without loading them."""
        database = await open_database(settings.database_url)
        return cls(settings, database, Enricher(settings))

    @property
    def http(self) -> aiohttp.ClientSession:
        """The HTTP session for webhooks, opened on first use."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS))
        return self._http

    async def close(self) -> None:
        """Stop the model thread and close connections."""
        self.models.close()
        if self._http is not None:
            await self._http.close()
        await self.database.dispose()


class App:
    """One running Sitrep: its resources, where digests go, and the scheduler that drives the jobs."""

    def __init__(self, resources: Resources, *, console: Console, status: Console | None = None) -> None:
        self.resources = resources
        self.console = console
        # Spinners go where the log lines go, so that the two share one terminal line discipline.
        self.status = status or console
        self.senders = SenderRegistry()
        self.senders.register(TargetKind.TERMINAL, lambda _target: TerminalSender(console))
        self.senders.register(TargetKind.WEBHOOK, lambda url: WebhookSender(url, resources.http))
        self.notifiers: list[jobs.Notify] = []
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.schedule = jobs.DigestSchedule(self.scheduler, self.database, self.settings, self._scheduled_digest)

    @classmethod
    async def open(cls, settings: Settings, *, console: Console, status: Console | None = None) -> App:
        """Open the resources, load sources and subscriptions from the configuration, and say so."""
        resources = await Resources.open(settings)
        app = cls(resources, console=console, status=status)
        sources = await sync_sources(database=resources.database, settings=settings)
        subscriptions = await sync_settings_subscriptions(database=resources.database, settings=settings)
        console.print(
            f"Sitrep is running on {resources.database.describe()} with {len(sources)} source(s) and "
            f"{len(subscriptions)} subscription(s) from the settings. Press Ctrl-C to stop."
        )
        return app

    @property
    def settings(self) -> Settings:
        """The settings."""
        return self.resources.settings

    @property
    def database(self) -> Database:
        """The open database."""
        return self.resources.database

    @property
    def models(self) -> Enricher:
        """The models, loaded on first use."""
        return self.resources.models

    def sender_for(self, subscription: Subscription) -> Sender:
        """Return the sender registered for a subscription's target kind."""
        return self.senders.sender(subscription.target_kind, subscription.target)

    async def notify(self, message: str) -> None:
        """Tell the operator something needs them (a source was disabled), wherever notices are registered."""
        for notifier in self.notifiers:
            try:
                await notifier(message)
            except Exception:
                log.exception("Could not send a notice: %s", message)

    async def collect(self) -> None:
        """Poll due sources, then summarize and tag what came in."""
        await jobs.collect_and_enrich(
            database=self.database, settings=self.settings, models=self.models, console=self.status, notify=self.notify
        )

    async def deliver(self, subscription_id: int, window_end: datetime) -> None:
        """Deliver one subscription's digest for the window ending at ``window_end``."""
        await jobs.deliver_window(
            subscription_id, window_end, database=self.database, settings=self.settings, sender_for=self.sender_for
        )

    async def retry_deliveries(self) -> None:
        """Try again the deliveries whose failed round is due."""
        await jobs.retry_deliveries(database=self.database, settings=self.settings, sender_for=self.sender_for)

    async def _scheduled_digest(self, subscription_id: int) -> None:
        await jobs.scheduled_digest(
            subscription_id, database=self.database, settings=self.settings, sender_for=self.sender_for
        )

    async def subscriptions_changed(self) -> None:
        """Bring the digest jobs in line with the subscriptions now (a command added or removed one)."""
        await self.schedule.reconcile()

    async def start(self) -> None:
        """Collect once, finish or catch up on digests, then start the scheduler."""
        await self.collect()
        await resume_pending(database=self.database, sender_for=self.sender_for, settings=self.settings)
        now = datetime.now(UTC)
        for subscription_id, window_end in await due_catch_up(database=self.database, settings=self.settings, now=now):
            await self.deliver(subscription_id, window_end)
        self.scheduler.add_job(
            self.collect,
            "interval",
            seconds=jobs.COLLECT_CHECK_SECONDS,
            id="collect",
            name="collect due sources, then summarize and tag",
            max_instances=1,
            coalesce=True,
            jitter=10,
        )
        self.scheduler.add_job(
            partial(self.schedule.reconcile), "interval", seconds=jobs.RECONCILE_SECONDS, id="reconcile", coalesce=True
        )
        self.scheduler.add_job(
            self.retry_deliveries,
            "interval",
            seconds=jobs.RETRY_CHECK_SECONDS,
            id="retry-deliveries",
            name="retry failed deliveries",
            max_instances=1,
            coalesce=True,
        )
        await self.schedule.reconcile()
        self.scheduler.start()
        log.info("Scheduler running with %d job(s)", len(self.scheduler.get_jobs()))

    async def close(self) -> None:
        """Stop the scheduler and close every resource."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.resources.close()


def front_door(name: str) -> Callable[..., Awaitable[None]]:
    """Return a front door registered under the ``sitrep.front_doors`` entry points (the bot is one)."""
    for entry in entry_points(group="sitrep.front_doors"):
        if entry.name == name:
            return entry.load()
    raise SitrepError(f"the {name} front door is not installed (reinstall Sitrep with `make run`)")


async def run_forever(settings: Settings, *, console: Console, status: Console | None = None) -> None:
    """Run Sitrep until Ctrl-C or SIGTERM; with a Discord token, run it inside the bot.

    Digests printed in the terminal go to ``console``; spinners go to ``status``, where the log is.
    """
    if settings.discord_token is not None and settings.discord_token.get_secret_value():
        await front_door("discord")(settings, console=console, status=status)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    app = await App.open(settings, console=console, status=status)
    # Ctrl-C must stop Sitrep even while it is still starting (a delivery waiting to retry, say).
    starting = asyncio.create_task(app.start(), name="sitrep-start")
    stopping = asyncio.create_task(stop.wait(), name="sitrep-stop")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stopping
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        console.print("Stopping Sitrep.")
        await app.close()
