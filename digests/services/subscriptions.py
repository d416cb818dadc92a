"""A server's subscriptions: made, listed and removed with every option checked, and the scheduler told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from digests.errors import NotFoundError, SitrepError
from digests.kinds import Origin, TargetKind
from digests.schedule import check_timezone
from digests.services.digests import validate_subscription
from digests.settings import Settings
from digests.store import Database
from digests.store import subscriptions as store
from digests.store.records import SubscriptionIn, SubscriptionRecord
from digests.tagging.countries import resolve_country
from digests.tagging.language import resolve_language
from digests.tagging.topics import current_topics, resolve_topic

MAX_SUBSCRIPTIONS = 25

Changed = Callable[[], Awaitable[None]]


class Subscriptions:
    """A server's subscriptions. ``changed`` is awaited after each change (the app brings its digest jobs in line),
    so whoever makes a change never has to tell the scheduler."""

    def __init__(self, database: Database, settings: Settings, *, changed: Changed | None = None) -> None:
        self.database = database
        self.settings = settings
        self.changed = changed

    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        schedule: str,
        timezone: str,
        topics: Sequence[str] = (),
        countries: Sequence[str] = (),
        languages: Sequence[str] = (),
        max_items: int = 10,
        threads: bool = False,
    ) -> SubscriptionRecord:
        """Create a channel subscription for a server, validating every option with a clear message."""
        check_timezone(timezone)
        validate_subscription(schedule, timezone, max_items)
        settings = self.settings
        taxonomy = current_topics(settings.config_path(settings.tagging.topics_file)) if topics else []
        async with self.database.sessions.begin() as session:
            count = await store.count_server_subscriptions(guild_id, session=session)
            if count >= MAX_SUBSCRIPTIONS:
                raise SitrepError(f"This server already has {MAX_SUBSCRIPTIONS} subscriptions; remove one first.")
            made = await store.create_subscription(
                SubscriptionIn(
                    guild_id=guild_id,
                    name=f"channel-{channel_id}-{count + 1}",
                    target_kind=TargetKind.CHANNEL,
                    target=str(channel_id),
                    schedule=schedule.strip(),
                    timezone=timezone.strip(),
                    topics=tuple(resolve_topic(t, taxonomy) for t in topics),
                    countries=tuple(resolve_country(c) for c in countries),
                    languages=tuple(resolve_language(code) for code in languages),
                    max_items=max_items,
                    threads=threads,
                    origin=Origin.RUNTIME,
                ),
                session=session,
            )
        await self._changed()
        return made

    async def list(self, *, guild_id: int) -> list[SubscriptionRecord]:
        """Return a server's subscriptions, oldest first."""
        async with self.database.sessions() as session:
            return await store.server_subscriptions(guild_id, session=session)

    async def remove(self, *, guild_id: int, subscription_id: int) -> SubscriptionRecord:
        """Delete one of a server's subscriptions; another server's cannot be named."""
        async with self.database.sessions.begin() as session:
            removed = await store.delete_server_subscription(guild_id, subscription_id, session=session)
        if removed is None:
            raise NotFoundError(f"This server has no subscription {subscription_id}. See /subscriptions.")
        await self._changed()
        return removed

    async def _changed(self) -> None:
        if self.changed is not None:
            await self.changed()
