"""The app core: resources built once at start, the sender registry, and the scheduler with its jobs.

The command line and the bot are sibling front doors over one ``App``: they call services with
its resources and never reach into models or sessions themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import entry_points
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from digests import jobs
from digests.errors import ConfigError, SitrepError
from digests.kinds import ALL_ROLES, Role, TargetKind
from digests.senders import Sender, SenderRegistry, TerminalSender, WebhookSender
from digests.services.deliveries import due_catch_up, release_claims, resume_pending
from digests.services.digests import describe_subscription, sync_settings_subscriptions
from digests.services.enrichment import Enricher
from digests.services.sources import sync_sources
from digests.services.subscriptions import Subscriptions
from digests.services.workers import retire
from digests.settings import Settings
from digests.store import Database, open_database, single_runner
from digests.store.records import SubscriptionRecord

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


def parse_roles(text: str) -> frozenset[Role]:
    """Turn "all" or a comma-separated list such as "collect,enrich" into roles; anything else is a ConfigError."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names or names == ["all"]:
        return ALL_ROLES
    unknown = [name for name in names if name not in {role.value for role in Role}]
    if unknown:
        choices = ", ".join(role.value for role in Role)
        raise ConfigError(f"unknown role {unknown[0]!r}: use all, or a comma-separated list of {choices}")
    return frozenset(Role(name) for name in names)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Return the shard that Discord gives a server's events to."""
    return (guild_id >> 22) % shard_count


class App:
    """One running Sitrep: its resources, its roles, where digests go, and the scheduler that drives the jobs."""

    def __init__(
        self,
        resources: Resources,
        *,
        console: Console,
        status: Console | None = None,
        roles: frozenset[Role] = ALL_ROLES,
    ) -> None:
        self.resources = resources
        self.console = console
        # Spinners go where the log lines go, so that the two share one terminal line discipline.
        self.status = status or console
        self.roles = roles
        self.senders = SenderRegistry()
        if Role.DELIVER in roles:
            self.senders.register(TargetKind.TERMINAL, lambda _target: TerminalSender(console))
            self.senders.register(TargetKind.WEBHOOK, lambda url: WebhookSender(url, resources.http))
        self.notifiers: list[jobs.Notify] = []
        # Set by the bot when it runs here (``tell_followers_through``): followers are told of new articles by it.
        self.follow_messenger: jobs.FollowerMessenger | None = None
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.schedule = jobs.DigestSchedule(
            self.scheduler, self.database, self.settings, self._scheduled_digest, ours=self.delivers
        )
        # Servers' subscriptions: each change brings the digest jobs in line at once.
        self.subscriptions = Subscriptions(self.database, self.settings, changed=self.schedule.reconcile)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        console: Console,
        status: Console | None = None,
        roles: frozenset[Role] = ALL_ROLES,
    ) -> App:
        """Open the resources, load sources and subscriptions from the configuration, and say so."""
        resources = await Resources.open(settings)
        app = cls(resources, console=console, status=status, roles=roles)
        sources = await sync_sources(database=resources.database, settings=settings)
        subscriptions = await sync_settings_subscriptions(database=resources.database, settings=settings)
        console.print(
            f"Sitrep is running on {resources.database.describe()} as {app.describe_roles()} with "
            f"{len(sources)} source(s) and {len(subscriptions)} subscription(s) from the settings. "
            "Press Ctrl-C to stop."
        )
        for subscription in subscriptions:
            console.print(f"The {describe_subscription(subscription)}.", markup=False, highlight=False)
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

    @property
    def shard(self) -> tuple[int, int] | None:
        """The (shard id, shard count) of this process's bot, when the bot is split into shards."""
        discord = self.settings.discord
        if Role.BOT not in self.roles or discord.shard_count <= 1 or not discord.shard_ids:
            return None
        return discord.shard_ids[0], discord.shard_count

    def describe_roles(self) -> str:
        """Name this process's roles (and shard) for logs and the workers table."""
        names = "all" if self.roles == ALL_ROLES else ",".join(sorted(role.value for role in self.roles))
        return names if self.shard is None else f"{names} (shard {self.shard[0]} of {self.shard[1]})"

    def sender_for(self, subscription: SubscriptionRecord) -> Sender | None:
        """Return the sender for a subscription's target, or None when another process delivers there."""
        kind = subscription.target_kind
        if kind is TargetKind.CHANNEL:
            if self.shard is not None and shard_of(subscription.guild_id, self.shard[1]) != self.shard[0]:
                return None  # another shard's process posts in that server
            if Role.BOT not in self.roles:
                return None  # a bot process does
        elif Role.DELIVER not in self.roles:
            return None
        return self.senders.sender(kind, subscription.target)

    def delivers(self, subscription: SubscriptionRecord) -> bool:
        """Tell whether this process delivers a subscription's digests (a missing bot counts as trying)."""
        try:
            return self.sender_for(subscription) is not None
        except SitrepError:
            return True  # nobody else will: deliveries record why they cannot be sent

    async def notify(self, message: str) -> None:
        """Tell the operator something needs them (a source was disabled), wherever notices are registered."""
        for notifier in self.notifiers:
            try:
                await notifier(message)
            except Exception:
                log.exception("Could not send a notice: %s", message)

    async def collect(self) -> None:
        """Poll due sources, then summarize and tag what came in (with the enrich role)."""
        models = self.models if Role.ENRICH in self.roles else None
        await jobs.collect_and_enrich(
            database=self.database, settings=self.settings, models=models, console=self.status, notify=self.notify
        )

    async def enrich(self) -> None:
        """Summarize and tag what waits."""
        await jobs.enrich(database=self.database, models=self.models)

    async def deliver(self, subscription_id: int, window_end: datetime) -> None:
        """Deliver one subscription's digest for the window ending at ``window_end``."""
        await jobs.deliver_window(
            subscription_id, window_end, database=self.database, settings=self.settings, sender_for=self.sender_for
        )

    async def retry_deliveries(self) -> None:
        """Try again the deliveries whose failed round is due, or whose sender died."""
        await jobs.retry_deliveries(database=self.database, settings=self.settings, sender_for=self.sender_for)

    async def heartbeat(self) -> None:
        """Tell the database this process is alive."""
        shard = None if self.shard is None else f"{self.shard[0]}/{self.shard[1]}"
        await jobs.heartbeat(database=self.database, roles=self.describe_roles(), shard=shard)

    async def _scheduled_digest(self, subscription_id: int) -> None:
        await jobs.scheduled_digest(
            subscription_id, database=self.database, settings=self.settings, sender_for=self.sender_for
        )

    async def tell_followers(self) -> int:
        """Tell followers of their stories' new articles, if a messenger (the bot) runs here; return how many."""
        if self.follow_messenger is None:
            return 0
        return await jobs.tell_followers(
            database=self.database, settings=self.settings, messenger=self.follow_messenger
        )

    async def _tell_followers(self) -> None:
        await self.tell_followers()

    def tell_followers_through(self, messenger: jobs.FollowerMessenger | None) -> None:
        """Tell followers through ``messenger`` (None: stop); a delivering process runs that as a job."""
        self.follow_messenger = messenger
        if self.scheduler.running:
            self._follow_job()

    def _follow_job(self) -> None:
        """Run the follow job when this process delivers and has a messenger, and not otherwise."""
        wanted = self.follow_messenger is not None and Role.DELIVER in self.roles
        present = self.scheduler.get_job("tell-followers") is not None
        if wanted and not present:
            self._every(self.settings.discord.follow_check_seconds, self._tell_followers, "tell-followers")
        elif present and not wanted:
            self.scheduler.remove_job("tell-followers")

    def _every(self, seconds: float, job: Callable[[], Awaitable[None]], name: str, **options: Any) -> None:
        self.scheduler.add_job(
            job, "interval", seconds=seconds, id=name, name=name, max_instances=1, coalesce=True, **options
        )

    async def start(self) -> None:
        """Do this process's roles once (collect, finish or catch up on digests), then start the scheduler."""
        await self.heartbeat()
        self._every(jobs.HEARTBEAT_SECONDS, self.heartbeat, "heartbeat")
        check = self.settings.collect.check_seconds
        if Role.COLLECT in self.roles:
            await self.collect()
            self._every(check, self.collect, "collect", jitter=min(10, check / 6))
        elif Role.ENRICH in self.roles:
            await self.enrich()
            self._every(check / 2, self.enrich, "enrich", jitter=min(5, check / 12))
        if self.roles & {Role.DELIVER, Role.BOT}:
            await resume_pending(database=self.database, sender_for=self.sender_for, settings=self.settings)
            now = datetime.now(UTC)
            due = await due_catch_up(database=self.database, settings=self.settings, now=now)
            for subscription_id, window_end in due:
                await self.deliver(subscription_id, window_end)
            self._every(jobs.RECONCILE_SECONDS, partial(self.schedule.reconcile), "reconcile")
            self._every(jobs.RETRY_CHECK_SECONDS, self.retry_deliveries, "retry-deliveries")
            self._follow_job()
            await self.schedule.reconcile()
        self.scheduler.start()
        log.info("Scheduler running with %d job(s) as %s", len(self.scheduler.get_jobs()), self.describe_roles())
        freeze_start_up()

    async def close(self) -> None:
        """Stop the scheduler, say this process is gone, and close every resource."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with contextlib.suppress(Exception):
            await release_claims(self.database)
        with contextlib.suppress(Exception):
            await retire(self.database)
        await self.resources.close()


@functools.cache
def freeze_start_up() -> None:
    """Keep what start-up made (modules, settings, open resources) out of every later garbage collection, once a
    process. A full collection walks every object it tracks: about 125,000 after start-up, a 37-62 ms pause here,
    paid by whichever command or delivery is running when it comes."""
    gc.collect()
    gc.freeze()


def front_door(name: str) -> Callable[..., Awaitable[None]]:
    """Return a front door registered under the ``sitrep.front_doors`` entry points (the bot is one)."""
    for entry in entry_points(group="sitrep.front_doors"):
        if entry.name == name:
            door: Callable[..., Awaitable[None]] = entry.load()
            return door
    raise SitrepError(f"the {name} front door is not installed (reinstall Sitrep with `make run`)")


async def run_forever(
    settings: Settings,
    *,
    console: Console,
    status: Console | None = None,
    roles: frozenset[Role] = ALL_ROLES,
) -> None:
    """Run Sitrep in ``roles`` until Ctrl-C or SIGTERM; with the bot role and a Discord token, inside the bot.

    Digests printed in the terminal go to ``console``; spinners go to ``status``, where the log is.
    """
    token = settings.discord_token.get_secret_value() if settings.discord_token else ""
    if roles != ALL_ROLES and Role.BOT in roles and not token:
        log.warning("The bot role needs SITREP_DISCORD_TOKEN; this process runs without the bot")
        roles = roles - {Role.BOT}
        if not roles:
            raise ConfigError("the bot role needs SITREP_DISCORD_TOKEN, and this process has no other role")
    with single_runner(settings.database_url):
        if token and Role.BOT in roles:
            await front_door("discord")(settings, console=console, status=status, roles=roles)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        app = await App.open(settings, console=console, status=status, roles=roles)
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
