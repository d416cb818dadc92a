"""Digest services: build a digest now, manage subscriptions, and deliver each window exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from digests.compose import Digest, DigestFilters, compose_digest
from digests.delivery import Sender, SendFailed, TargetGone, check_webhook_url
from digests.errors import ConfigError, SitrepError
from digests.kinds import DeliveryStatus, Origin, TargetKind
from digests.render.discord import discord_messages
from digests.schedule import check_timezone, parse_schedule, previous_fire_time
from digests.settings import Settings, SubscriptionSpec
from digests.store import Database, Session
from digests.store import articles as article_store
from digests.store import subscriptions as store
from digests.store.models import GLOBAL_SCOPE, Delivery, Subscription
from digests.store.types import utcnow
from digests.store.visibility import scope_of

log = logging.getLogger(__name__)

SenderFactory = Callable[[Subscription], Sender]
TITLE = "Sitrep briefing"


async def _compose(filters: DigestFilters, timezone: str, *, session: Session) -> Digest:
    candidates = await article_store.digest_candidates(
        since=filters.since,
        until=filters.until,
        topics=filters.topics,
        countries=filters.countries,
        guild_id=filters.guild_id,
        session=session,
    )
    return compose_digest(candidates, filters, title=TITLE, timezone=timezone)


async def digest_now(database: Database, filters: DigestFilters, *, timezone: str = "UTC") -> Digest:
    """Build a digest for ``filters`` without recording any delivery."""
    check_timezone(timezone)
    async with database.sessions() as session:
        return await _compose(filters, timezone, session=session)


def parse_target(target: str, settings: Settings) -> tuple[TargetKind, str]:
    """Turn "terminal", "webhook:<url>", "channel:<id>" or "auto" into (kind, target)."""
    value = target.strip()
    if value == "auto":
        url = settings.discord_webhook_url.get_secret_value() if settings.discord_webhook_url else ""
        return (TargetKind.WEBHOOK, url) if url else (TargetKind.TERMINAL, "terminal")
    if value == "terminal":
        return TargetKind.TERMINAL, "terminal"
    if value.startswith("webhook:"):
        url = check_webhook_url(value.removeprefix("webhook:"), allow_any_host=settings.digest.allow_any_webhook_host)
        return TargetKind.WEBHOOK, url
    if value.startswith("channel:") and value.removeprefix("channel:").isdigit():
        return TargetKind.CHANNEL, value.removeprefix("channel:")
    raise ConfigError(f"unknown digest target {target!r}: use terminal, webhook:<url>, channel:<id> or auto")


def validate_subscription(schedule: str, timezone: str, max_items: int) -> None:
    """Raise a SitrepError with an example when a schedule, zone or cap is unusable."""
    parse_schedule(schedule, timezone)
    if not 1 <= max_items <= 50:
        raise SitrepError("max_items must be between 1 and 50")


async def sync_settings_subscriptions(*, database: Database, settings: Settings) -> list[Subscription]:
    """Make the subscriptions declared in the settings match the database (keeping their history)."""
    specs: Sequence[SubscriptionSpec] = settings.digest.subscriptions
    async with database.sessions.begin() as session:
        stored = await store.settings_subscriptions(session=session)
        result = []
        for spec in specs:
            validate_subscription(spec.schedule, spec.timezone, spec.max_items)
            kind, target = parse_target(spec.target, settings)
            subscription = stored.pop(spec.name, None)
            if subscription is None:
                subscription = Subscription(guild_id=GLOBAL_SCOPE, name=spec.name, origin=Origin.SETTINGS)
                session.add(subscription)
            values = {
                "target_kind": kind,
                "target": target,
                "schedule": spec.schedule,
                "timezone": spec.timezone,
                "topics": list(spec.topics),
                "countries": [c.upper() for c in spec.countries],
                "max_items": spec.max_items,
            }
            changed = any(getattr(subscription, k, None) != v for k, v in values.items())
            for key, value in values.items():
                setattr(subscription, key, value)
            if changed:
                subscription.enabled = True
                subscription.disabled_reason = None
            result.append(subscription)
        for subscription in stored.values():
            subscription.enabled = False
            subscription.disabled_reason = "no longer declared in the settings"
        await session.flush()
        return result


async def _window_start(session: Session, subscription: Subscription, window_end: datetime, hours: float) -> datetime:
    last = await store.last_delivered_end(subscription.id, window_end, session=session)
    return last if last is not None else window_end - timedelta(hours=hours)


def delivery_key(subscription_id: int, window_end: datetime) -> str:
    """Return the idempotency key of a subscription's digest for the window ending at ``window_end``."""
    return f"{subscription_id}:{window_end.isoformat()}"


def _nonce(key: str, index: int) -> str:
    # Discord nonces are at most 25 characters.
    return hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:25]


@dataclass(slots=True)
class DeliveryOutcome:
    """What one delivery attempt did."""

    key: str
    status: DeliveryStatus
    messages: int = 0
    error: str | None = None


async def record_delivery(
    subscription_id: int, window_end: datetime, *, database: Database, settings: Settings
) -> Delivery | None:
    """Compose the window's digest and record it as pending (once); return it, or None if already done."""
    async with database.sessions.begin() as session:
        subscription = await store.get_subscription(subscription_id, session=session)
        if subscription is None or not subscription.enabled:
            return None
        key = delivery_key(subscription.id, window_end)
        delivery = await store.delivery_by_key(key, session=session)
        if delivery is not None:
            return delivery if delivery.status is DeliveryStatus.PENDING else None
        start = await _window_start(session, subscription, window_end, settings.digest.window_hours)
        filters = DigestFilters(
            since=start,
            until=window_end,
            topics=tuple(subscription.topics),
            countries=tuple(subscription.countries),
            max_items=subscription.max_items,
            guild_id=scope_of(subscription),
        )
        digest = await _compose(filters, subscription.timezone, session=session)
        delivery = Delivery(
            subscription_id=subscription.id,
            key=key,
            window_start=start,
            window_end=window_end,
            payload=discord_messages(digest) if digest.matched else [],
            status=DeliveryStatus.PENDING if digest.matched else DeliveryStatus.SKIPPED,
        )
        await store.add_delivery(delivery, session=session)
        if not digest.matched:
            log.info("Nothing new for subscription %r between %s and %s", subscription.name, start, window_end)
            return None
        return delivery


async def send_delivery(
    delivery_id: int, *, database: Database, sender_for: SenderFactory, settings: Settings
) -> DeliveryOutcome:
    """Send a recorded delivery's remaining messages, marking each as it goes; safe to call again after a crash."""
    async with database.sessions() as session:
        delivery = await store.get_delivery(delivery_id, session=session)
        if delivery is None:
            raise SitrepError(f"no delivery {delivery_id}")
        subscription = await store.get_subscription(delivery.subscription_id, session=session)
    if delivery.status is not DeliveryStatus.PENDING or subscription is None:
        return DeliveryOutcome(delivery.key, delivery.status, delivery.sent_count)
    try:
        sender = sender_for(subscription)
    except SitrepError as error:
        return DeliveryOutcome(delivery.key, DeliveryStatus.PENDING, delivery.sent_count, str(error))
    payload = delivery.payload
    index = delivery.sent_count
    try:
        while index < len(payload):
            if delivery.sending_index == index and not sender.idempotent:
                # A previous attempt may have posted this message before stopping; never risk posting it twice.
                log.warning(
                    "Delivery %s: message %d may not have been posted; not sending it again", delivery.key, index
                )
                await _mark(database, delivery_id, index, "unconfirmed")
                index += 1
                continue
            async with database.sessions.begin() as session:
                sending = await store.get_delivery(delivery_id, session=session)
                if sending is not None:
                    sending.sending_index = index
            message_id = await _send_with_retries(sender, payload[index], _nonce(delivery.key, index), settings)
            await _mark(database, delivery_id, index, message_id)
            index += 1
    except TargetGone as error:
        async with database.sessions.begin() as session:
            stored = await store.get_delivery(delivery_id, session=session)
            sub = await store.get_subscription(delivery.subscription_id, session=session)
            if stored is not None:
                stored.status, stored.last_error = DeliveryStatus.FAILED, str(error)
            if sub is not None:
                sub.enabled, sub.disabled_reason = False, f"disabled: {error}"
        log.error("Subscription %r disabled: %s", subscription.name, error)
        return DeliveryOutcome(delivery.key, DeliveryStatus.FAILED, index, str(error))
    except SendFailed as error:
        async with database.sessions.begin() as session:
            stored = await store.get_delivery(delivery_id, session=session)
            if stored is not None:
                stored.attempts += 1
                stored.last_error = str(error)
                if not error.maybe_sent:
                    stored.sending_index = None  # Discord answered: the message was not posted
                if not error.retry or stored.attempts >= settings.digest.send_attempts:
                    stored.status = DeliveryStatus.FAILED
        log.warning("Delivery %s not finished: %s", delivery.key, error)
        status = DeliveryStatus.PENDING if error.retry else DeliveryStatus.FAILED
        return DeliveryOutcome(delivery.key, status, index, str(error))
    async with database.sessions.begin() as session:
        stored = await store.get_delivery(delivery_id, session=session)
        if stored is not None:
            stored.status, stored.sent_at, stored.sending_index = DeliveryStatus.SENT, utcnow(), None
    log.info("Delivered %s to %s (%d message(s))", delivery.key, subscription.target_kind, len(payload))
    return DeliveryOutcome(delivery.key, DeliveryStatus.SENT, len(payload))


async def _mark(database: Database, delivery_id: int, index: int, message_id: str) -> None:
    async with database.sessions.begin() as session:
        stored = await store.get_delivery(delivery_id, session=session)
        if stored is not None:
            stored.message_ids = [*stored.message_ids, message_id]
            stored.sent_count = index + 1
            stored.sending_index = None


async def _send_with_retries(sender: Sender, payload: dict[str, Any], nonce: str, settings: Settings) -> str:
    attempt = 0
    while True:
        try:
            return await sender.send(payload, nonce=nonce)
        except SendFailed as error:
            attempt += 1
            last = attempt >= settings.digest.send_attempts
            if not error.retry or last or (error.maybe_sent and not sender.idempotent):
                raise
            delay = settings.digest.retry_base_seconds * 2 ** (attempt - 1)
            log.info("Send failed (%s); trying again in %.0f s", error, delay)
            await asyncio.sleep(delay)


async def deliver(
    subscription_id: int,
    window_end: datetime,
    *,
    database: Database,
    sender_for: SenderFactory,
    settings: Settings,
) -> DeliveryOutcome | None:
    """Record, then send, the digest of one subscription's window; nothing is posted twice."""
    delivery = await record_delivery(subscription_id, window_end, database=database, settings=settings)
    if delivery is None:
        return None
    return await send_delivery(delivery.id, database=database, sender_for=sender_for, settings=settings)


async def resume_pending(*, database: Database, sender_for: SenderFactory, settings: Settings) -> list[DeliveryOutcome]:
    """Finish every delivery left pending (by a crash or a failed send), in the order they were recorded."""
    async with database.sessions() as session:
        ids = await store.pending_delivery_ids(session=session)
    return [await send_delivery(i, database=database, sender_for=sender_for, settings=settings) for i in ids]


async def due_catch_up(*, database: Database, settings: Settings, now: datetime) -> list[tuple[int, datetime]]:
    """Return (subscription, window end) for digests missed while Sitrep was down, one per subscription.

    Only the latest missed run counts, and only within the grace period; a subscription that has never
    delivered to the terminal gets a digest now, so a fresh start shows one at once.
    """
    grace = timedelta(minutes=settings.digest.grace_minutes)
    due: list[tuple[int, datetime]] = []
    async with database.sessions() as session:
        for subscription in await store.enabled_subscriptions(session=session):
            last = await store.last_window_end(subscription.id, session=session)
            if last is None and subscription.target_kind is TargetKind.TERMINAL:
                due.append((subscription.id, now))
                continue
            fired = previous_fire_time(parse_schedule(subscription.schedule, subscription.timezone), now)
            if fired is not None and now - fired <= grace and (last is None or last < fired):
                due.append((subscription.id, fired))
    return due


async def get_subscription(database: Database, subscription_id: int) -> Subscription | None:
    """Return one subscription, or None."""
    async with database.sessions() as session:
        return await store.get_subscription(subscription_id, session=session)


async def enabled_subscriptions(database: Database) -> list[Subscription]:
    """Return every enabled subscription."""
    async with database.sessions() as session:
        return await store.enabled_subscriptions(session=session)
