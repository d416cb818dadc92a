"""The delivery state machine, in one place: each subscription window's digest is posted exactly once.

A delivery is recorded (with its rendered messages) before anything is sent, then sent message by
message, each marked as Discord confirms it:

- ``pending``: recorded, not all messages confirmed. A failed round is retried while Sitrep runs,
  with backoff (``next_attempt_at``), until it succeeds or is given up.
- ``sent``: every message confirmed (or, for a webhook whose answer was really lost, marked
  ``unconfirmed`` rather than risk posting it twice).
- ``failed``: given up, with the reason in ``last_error`` (the target refused us for good, Discord
  refused the message, or too many rounds failed).
- ``superseded``: a later digest of the same subscription covers its articles, so it is dropped
  rather than posted late.
- ``skipped``: nothing new in the window.

Before each message the delivery records which message it is sending (``sending_index``) and
clears that mark as soon as Discord answers, whatever the answer; so after a crash a mark that is
still set means the answer was lost, and only then is a message called unconfirmed.

Several processes may share the work (PostgreSQL): the one that records a digest holds it
(``claimed_by``, ``claimed_until``), renewing the hold before each message; the others leave it alone
until the hold runs out, when any process's retry job takes it over where it stopped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from digests.errors import SitrepError
from digests.kinds import DeliveryStatus, TargetKind
from digests.render.discord import discord_messages
from digests.schedule import parse_schedule, previous_fire_time
from digests.senders import Sender, SendFailed, TargetGone
from digests.services.digests import compose, digest_filters
from digests.settings import Settings
from digests.store import Database, Session
from digests.store import deliveries as store
from digests.store import stories as story_store
from digests.store import subscriptions as subscription_store
from digests.store.records import DeliveryIn, DeliveryRecord, SubscriptionRecord
from digests.store.types import utcnow
from digests.store.visibility import scope_of
from digests.store.workers import this_process

log = logging.getLogger(__name__)

SenderFactory = Callable[[SubscriptionRecord], Sender | None]
"""The sender for a subscription's target, or None when this process does not deliver there (another does)."""
UNCONFIRMED = "unconfirmed"
MAX_ROUND_DELAY = timedelta(hours=1)

# Deliveries being sent by this process right now, so that its own jobs never send one twice at once;
# between processes, the claim in the database does that.
_in_flight: set[int] = set()
NOT_OURS = "not this process's target"
HELD = "held by another process"


def _lease(settings: Settings) -> datetime:
    return utcnow() + timedelta(seconds=settings.digest.claim_seconds)


@dataclass(slots=True)
class DeliveryOutcome:
    """What one delivery attempt did."""

    key: str
    status: DeliveryStatus
    messages: int = 0
    error: str | None = None
    unconfirmed: int = 0


def delivery_key(subscription_id: int, window_end: datetime) -> str:
    """Return the idempotency key of a subscription's digest for the window ending at ``window_end``."""
    return f"{subscription_id}:{window_end.isoformat()}"


def _nonce(key: str, index: int) -> str:
    # Discord nonces are at most 25 characters.
    return hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:25]


async def _window_start(
    session: Session, subscription: SubscriptionRecord, window_end: datetime, hours: float
) -> datetime:
    last = await store.last_delivered_end(subscription.id, window_end, session=session)
    return last if last is not None else window_end - timedelta(hours=hours)


async def record_delivery(
    subscription_id: int,
    window_end: datetime,
    *,
    database: Database,
    settings: Settings,
    claimant: str | None = None,
) -> DeliveryRecord | None:
    """Compose the window's digest and record it as pending, claimed by this process; None if already recorded.

    Older deliveries of the subscription still pending are superseded: this digest starts where the
    last delivered one ended, so it covers their articles.
    """
    async with database.sessions.begin() as session:
        # Locked: of several processes firing the same schedule, one composes the digest; the others
        # find it recorded (and claimed) and leave it to that one.
        subscription = await subscription_store.lock_subscription(subscription_id, session=session)
        if subscription is None or not subscription.enabled:
            return None
        key = delivery_key(subscription.id, window_end)
        if await store.is_recorded(key, session=session):
            return None
        start = await _window_start(session, subscription, window_end, settings.digest.window_hours)
        filters = digest_filters(
            settings,
            since=start,
            until=window_end,
            topics=subscription.topics,
            countries=subscription.countries,
            languages=subscription.languages or (),
            max_items=subscription.max_items,
            guild_id=scope_of(subscription),
        )
        digest = await compose(filters, subscription.timezone, session=session, subscription_id=subscription.id)
        new = DeliveryIn(
            subscription_id=subscription.id,
            key=key,
            window_start=start,
            window_end=window_end,
            payload=discord_messages(
                digest,
                threads=subscription.threads and subscription.target_kind is TargetKind.CHANNEL,
                subscription_id=subscription.id,
            )
            if digest.matched
            else [],
            status=DeliveryStatus.PENDING if digest.matched else DeliveryStatus.SKIPPED,
            stories=dict(digest.carried),
            claimed_by=(claimant or this_process()) if digest.matched else None,
            claimed_until=_lease(settings) if digest.matched else None,
        )
        delivery = await store.add_delivery(new, session=session)
        if not digest.matched:
            log.info("Nothing new for subscription %r between %s and %s", subscription.name, start, window_end)
            return None
        reason = f"superseded by the digest for {window_end.isoformat()}, which covers its articles"
        for older in await store.supersede_pending_before(
            subscription.id, window_end, reason, now=utcnow(), session=session
        ):
            log.warning("Delivery %s dropped: the digest for %s covers its articles", older, window_end)
        return delivery


async def _confirm(database: Database, delivery_id: int, index: int, message_id: str) -> None:
    async with database.sessions.begin() as session:
        await store.confirm_message(delivery_id, index, message_id, session=session)


def _round_delay(settings: Settings, rounds: int) -> timedelta:
    minutes = settings.digest.retry_round_minutes * 2 ** max(rounds - 1, 0)
    return min(timedelta(minutes=minutes), MAX_ROUND_DELAY)


async def _send_one(
    sender: Sender,
    payload: dict[str, Any],
    nonce: str,
    *,
    database: Database,
    delivery_id: int,
    index: int,
    settings: Settings,
) -> str:
    """Send one message, retrying in place with backoff; the sending mark is set only while a request is out."""
    attempt = 0
    while True:
        async with database.sessions.begin() as session:
            await store.mark_sending(delivery_id, index, until=_lease(settings), session=session)
        try:
            return await sender.send(payload, nonce=nonce)
        except SendFailed as error:
            if not error.maybe_sent:  # Discord answered: not posted
                async with database.sessions.begin() as session:
                    await store.clear_sending(delivery_id, session=session)
            attempt += 1
            if (
                not error.retry
                or attempt >= settings.digest.send_attempts
                or (error.maybe_sent and not sender.idempotent)
            ):
                raise
            delay = settings.digest.retry_base_seconds * 2 ** (attempt - 1)
            log.info("Send failed (%s); trying again in %.0f s", error, delay)
            await asyncio.sleep(delay)


async def send_delivery(
    delivery_id: int,
    *,
    database: Database,
    sender_for: SenderFactory,
    settings: Settings,
    claimant: str | None = None,
) -> DeliveryOutcome:
    """Claim a recorded delivery and send its remaining messages, marking each as it goes.

    Safe to call again after a crash, and from several processes: only the one holding the claim sends.
    """
    if delivery_id in _in_flight:
        return DeliveryOutcome(str(delivery_id), DeliveryStatus.PENDING, error="being sent already")
    _in_flight.add(delivery_id)
    try:
        claimant = claimant or this_process()
        return await _send(delivery_id, database=database, sender_for=sender_for, settings=settings, claimant=claimant)
    finally:
        _in_flight.discard(delivery_id)


async def _send(
    delivery_id: int, *, database: Database, sender_for: SenderFactory, settings: Settings, claimant: str
) -> DeliveryOutcome:
    async with database.sessions.begin() as session:
        delivery = await store.claim_delivery(
            delivery_id, claimant, now=utcnow(), until=_lease(settings), session=session
        )
        if delivery is None:
            other = await store.get_delivery(delivery_id, session=session)
            if other is None:
                raise SitrepError(f"no delivery {delivery_id}")
            held = HELD if other.status is DeliveryStatus.PENDING else None
            return DeliveryOutcome(other.key, other.status, other.sent_count, held)
        subscription = await subscription_store.get_subscription(delivery.subscription_id, session=session)
        if subscription is None:
            return DeliveryOutcome(delivery.key, delivery.status, delivery.sent_count)
    try:
        sender = sender_for(subscription)
    except SitrepError as error:
        return await _failed_round(database, delivery, str(error), settings, give_up=False)
    if sender is None:  # another process delivers to this target (the bot, or another shard)
        async with database.sessions.begin() as session:
            await store.release_delivery(delivery_id, session=session)
        return DeliveryOutcome(delivery.key, DeliveryStatus.PENDING, delivery.sent_count, NOT_OURS)
    payload = delivery.payload
    index = delivery.sent_count
    unconfirmed = sum(1 for i in delivery.message_ids if i == UNCONFIRMED)
    try:
        while index < len(payload):
            if delivery.sending_index == index and not sender.idempotent:
                # The answer to this message was lost: it may be posted, and a webhook cannot be asked
                # without a nonce. Never risk posting it twice.
                log.warning("Delivery %s: message %d may have been posted; not sending it again", delivery.key, index)
                await _confirm(database, delivery_id, index, UNCONFIRMED)
                unconfirmed += 1
                index += 1
                continue
            message_id = await _send_one(
                sender,
                payload[index],
                _nonce(delivery.key, index),
                database=database,
                delivery_id=delivery_id,
                index=index,
                settings=settings,
            )
            await _confirm(database, delivery_id, index, message_id)
            index += 1
    except TargetGone as error:
        async with database.sessions.begin() as session:
            await store.mark_failed(delivery_id, str(error), session=session)
            await subscription_store.disable_subscription(
                delivery.subscription_id, f"disabled: {error}", session=session
            )
        log.error("Subscription %r disabled: %s", subscription.name, error)
        return DeliveryOutcome(delivery.key, DeliveryStatus.FAILED, index, str(error), unconfirmed)
    except SendFailed as error:
        outcome = await _failed_round(database, delivery, str(error), settings, give_up=not error.retry)
        outcome.messages, outcome.unconfirmed = index, unconfirmed
        return outcome
    async with database.sessions.begin() as session:
        carried = await store.mark_sent(delivery_id, now=utcnow(), session=session)
        # Only now has the subscription seen these stories: a digest never sent leaves them new.
        await story_store.record_sent(delivery.subscription_id, carried, session=session)
    posted = len(payload) - unconfirmed
    lost = f"; {unconfirmed} unconfirmed (the answer was lost, not sent again)" if unconfirmed else ""
    log.info(
        "Delivered %s to %s: %d of %d message(s) posted%s",
        delivery.key,
        subscription.target_kind,
        posted,
        len(payload),
        lost,
    )
    return DeliveryOutcome(delivery.key, DeliveryStatus.SENT, len(payload), unconfirmed=unconfirmed)


async def _failed_round(
    database: Database, delivery: DeliveryRecord, error: str, settings: Settings, *, give_up: bool
) -> DeliveryOutcome:
    """Record a failed round: try again later with backoff, or give up with the reason.

    Either way the delivery is freed for whichever process tries the next round.
    """
    async with database.sessions.begin() as session:
        counted = await store.count_failed_round(delivery.id, error, session=session)
        if counted is None:
            return DeliveryOutcome(delivery.key, DeliveryStatus.FAILED, error=error)
        if give_up or counted.attempts >= settings.digest.delivery_rounds:
            reason = error if give_up else f"given up after {counted.attempts} failed rounds; last: {error}"
            await store.mark_failed(delivery.id, reason, session=session)
            log.error("Delivery %s given up: %s", counted.key, reason)
            return DeliveryOutcome(counted.key, DeliveryStatus.FAILED, counted.sent_count, reason)
        when = utcnow() + _round_delay(settings, counted.attempts)
        await store.retry_at(delivery.id, when, session=session)
        log.warning("Delivery %s not finished (%s); trying again at %s", counted.key, error, when)
        return DeliveryOutcome(counted.key, DeliveryStatus.PENDING, counted.sent_count, error)


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
    """Finish every pending delivery nobody else holds (left by a crash or a failed send), oldest first."""
    async with database.sessions() as session:
        ids = await store.pending_delivery_ids(utcnow(), this_process(), session=session)
    outcomes = [await send_delivery(i, database=database, sender_for=sender_for, settings=settings) for i in ids]
    return [o for o in outcomes if o.error not in (NOT_OURS, HELD)]


async def retry_due(
    *, database: Database, sender_for: SenderFactory, settings: Settings, now: datetime | None = None
) -> list[DeliveryOutcome]:
    """Try again the pending deliveries nobody holds whose next round is due, or whose sender died."""
    async with database.sessions() as session:
        ids = await store.pending_delivery_ids(now or utcnow(), this_process(), due_only=True, session=session)
    outcomes = [await send_delivery(i, database=database, sender_for=sender_for, settings=settings) for i in ids]
    return [o for o in outcomes if o.error not in (NOT_OURS, HELD)]


async def release_claims(database: Database) -> None:
    """Let go of the deliveries this process holds, so that the next process to start sends them at once."""
    async with database.sessions.begin() as session:
        released = await store.release_claims(this_process(), session=session)
    if released:
        log.info("Released %d unfinished delivery(ies) for the next process", released)


async def due_catch_up(*, database: Database, settings: Settings, now: datetime) -> list[tuple[int, datetime]]:
    """Return (subscription, window end) for digests missed while Sitrep was down, one per subscription.

    Only the latest missed run counts, and only within the grace period; a subscription that has never
    delivered to the terminal gets a digest now, so a fresh start shows one at once.
    """
    grace = timedelta(minutes=settings.digest.grace_minutes)
    due: list[tuple[int, datetime]] = []
    async with database.sessions() as session:
        for subscription in await subscription_store.enabled_subscriptions(session=session):
            last = await store.last_window_end(subscription.id, session=session)
            if last is None and subscription.target_kind is TargetKind.TERMINAL:
                due.append((subscription.id, now))
                continue
            fired = previous_fire_time(parse_schedule(subscription.schedule, subscription.timezone), now)
            if fired is not None and now - fired <= grace and (last is None or last < fired):
                due.append((subscription.id, fired))
    return due
