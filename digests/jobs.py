"""The scheduled jobs: plain functions over the app's resources, each calling the services a command would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from digests.errors import SitrepError
from digests.schedule import next_fire_time, parse_schedule, previous_fire_time
from digests.services.collection import collect_due_sources
from digests.services.deliveries import SenderFactory, deliver, retry_due
from digests.services.digests import enabled_subscriptions, get_subscription
from digests.services.enrichment import Enricher, enrich_pending
from digests.services.stories import FollowUpdate, follow_updates
from digests.services.workers import announce_alive
from digests.settings import Settings
from digests.store import Database
from digests.store.records import SubscriptionRecord

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 60
RETRY_CHECK_SECONDS = 30
HEARTBEAT_SECONDS = 15


Notify = Callable[[str], Awaitable[None]]


class FollowerMessenger(Protocol):
    """What tells a member of a followed story's new articles (the bot, by direct message)."""

    async def tell(self, update: FollowUpdate) -> bool:
        """Send one update; False when the member cannot be reached (the claim stands: nothing is resent)."""
        ...


async def tell_followers(*, database: Database, settings: Settings, messenger: FollowerMessenger) -> int:
    """Send the due follow updates, at most one per story and member every ``discord.follow_message_minutes``;
    return how many were sent. Logs rather than raises: one update that fails does not stop the others."""
    sent = 0
    with _logged("Telling followers"):
        updates = await follow_updates(
            database, now=datetime.now(UTC), every_minutes=settings.discord.follow_message_minutes
        )
        for update in updates:
            try:
                sent += await messenger.tell(update)
            except Exception:
                log.exception("Could not tell user %s about story %s", update.user_id, update.story.id)
    return sent


async def collect_and_enrich(
    *, database: Database, settings: Settings, models: Enricher | None, console: Console, notify: Notify
) -> None:
    """Poll due sources, then (given the models) summarize and tag what came in; logs rather than raises."""
    with _logged("Collection"):
        with console.status("Collecting sources…", spinner="dots"):
            report = await collect_due_sources(database=database, settings=settings)
        for source in report.sources:
            for error in source.errors:
                log.warning("%s", error)
            if source.disabled:
                await notify(source.disabled)
    if models is not None:
        with _logged("Enrichment"), console.status("Summarizing and tagging…", spinner="dots"):
            await enrich_pending(database=database, enricher=models)


async def enrich(*, database: Database, models: Enricher) -> None:
    """Summarize and tag whatever waits (the enrich role without the collect role); logs rather than raises."""
    with _logged("Enrichment"):
        await enrich_pending(database=database, enricher=models)


@contextlib.contextmanager
def _logged(work: str) -> Iterator[None]:
    """Log what a background job raises instead of raising it; a stop (Ctrl-C) mid-way is one line."""
    try:
        yield
    except SitrepError as error:
        log.error("%s failed: %s", work, error)
    except asyncio.CancelledError:
        log.info("%s stopped mid-way; the next run picks up where it left off", work)
    except Exception:
        log.exception("%s failed; the next run will try again", work)


async def heartbeat(*, database: Database, roles: str, shard: str | None) -> None:
    """Tell the database this process is alive (and, if its row was swept away, who it is)."""
    try:
        await announce_alive(database, roles=roles, shard=shard)
    except Exception:
        log.exception("Could not record the heartbeat; the next one will try again")


async def deliver_window(
    subscription_id: int, window_end: datetime, *, database: Database, settings: Settings, sender_for: SenderFactory
) -> None:
    """Deliver one subscription's digest for the window ending at ``window_end``; logs rather than raises."""
    # Stopped mid-delivery, the delivery stays recorded and the next start (or another process) finishes it.
    with _logged(f"The digest for subscription {subscription_id}"):
        await deliver(subscription_id, window_end, database=database, sender_for=sender_for, settings=settings)


async def retry_deliveries(*, database: Database, settings: Settings, sender_for: SenderFactory) -> None:
    """Try again the deliveries whose failed round has waited long enough; logs rather than raises."""
    with _logged("Retrying deliveries"):
        await retry_due(database=database, sender_for=sender_for, settings=settings)


async def scheduled_digest(
    subscription_id: int, *, database: Database, settings: Settings, sender_for: SenderFactory
) -> None:
    """Deliver the digest of the window that ends at this run's scheduled time."""
    subscription = await get_subscription(database, subscription_id)
    if subscription is None or not subscription.enabled:
        return
    now = datetime.now(UTC)
    fired = previous_fire_time(parse_schedule(subscription.schedule, subscription.timezone), now) or now
    await deliver_window(subscription_id, fired, database=database, settings=settings, sender_for=sender_for)
    log_next_digest(subscription.name, subscription.schedule, subscription.timezone)


def log_next_digest(name: str, schedule: str, timezone: str) -> None:
    """Say when a subscription's next digest is due, in its own time zone."""
    now = datetime.now(UTC)
    upcoming = next_fire_time(parse_schedule(schedule, timezone), now)
    if upcoming is not None:
        when = upcoming.strftime("%a %d %b %H:%M %Z")
        log.info("Next digest %r at %s (in %s)", name, when, until((upcoming - now).total_seconds()))


def until(seconds: float) -> str:
    """Say how long until something, as a person would: "40 s", "12 min", "3 h 05 min", "2 d 4 h"."""
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


class DigestSchedule:
    """Keeps one cron job per enabled subscription, in its own time zone, in step with the database."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        database: Database,
        settings: Settings,
        job: Callable[[int], Awaitable[None]],
        *,
        ours: Callable[[SubscriptionRecord], bool],
    ) -> None:
        self.scheduler = scheduler
        self.database = database
        self.settings = settings
        self.job = job
        self.ours = ours
        self._signatures: dict[int, str] = {}

    async def reconcile(self) -> None:
        """Add, change and remove digest jobs so that they match the enabled subscriptions this process delivers."""
        subscriptions = [s for s in await enabled_subscriptions(self.database) if self.ours(s)]
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
                self.job,
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
            log_next_digest(subscription.name, subscription.schedule, subscription.timezone)
