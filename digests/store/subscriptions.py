"""Subscriptions and their deliveries: repository functions that never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from digests.kinds import DeliveryStatus, Origin
from digests.store.db import rowcount
from digests.store.models import GLOBAL_SCOPE, Delivery, Subscription
from digests.store.records import SubscriptionIn, SubscriptionRecord

DONE = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED)


def _locking(statement: Any, session: AsyncSession) -> Any:
    return statement.with_for_update() if session.get_bind().dialect.name == "postgresql" else statement


async def get_subscription(subscription_id: int, *, session: AsyncSession) -> SubscriptionRecord | None:
    """Return one subscription, or None."""
    row = await session.get(Subscription, subscription_id)
    return subscription_record(row) if row is not None else None


async def lock_subscription(subscription_id: int, *, session: AsyncSession) -> SubscriptionRecord | None:
    """Return one subscription, locked until the transaction ends (PostgreSQL), so that its digests are
    recorded by one process at a time."""
    statement = _locking(select(Subscription).where(Subscription.id == subscription_id), session)
    row: Subscription | None = await session.scalar(statement)
    return subscription_record(row) if row is not None else None


async def enabled_subscriptions(*, session: AsyncSession) -> list[SubscriptionRecord]:
    """Return every enabled subscription."""
    rows = await session.scalars(select(Subscription).where(Subscription.enabled.is_(True)).order_by(Subscription.id))
    return [subscription_record(row) for row in rows]


async def disable_subscription(subscription_id: int, reason: str, *, session: AsyncSession) -> None:
    """Stop a subscription's digests, saying why (its channel or webhook is gone)."""
    await session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(enabled=False, disabled_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def declare_subscriptions(
    declared: Sequence[SubscriptionIn], *, session: AsyncSession
) -> list[SubscriptionRecord]:
    """Make the subscriptions declared in the settings match the database, keeping their history: a new one is
    added, a changed one updated and enabled again, and one no longer declared disabled."""
    statement = select(Subscription).where(
        Subscription.guild_id == GLOBAL_SCOPE, Subscription.origin == Origin.SETTINGS
    )
    stored = {row.name: row for row in await session.scalars(statement)}
    result = []
    for new in declared:
        row = stored.pop(new.name, None)
        if row is None:
            row = Subscription(guild_id=GLOBAL_SCOPE, name=new.name, origin=Origin.SETTINGS)
            session.add(row)
        values = {
            "target_kind": new.target_kind,
            "target": new.target,
            "schedule": new.schedule,
            "timezone": new.timezone,
            "topics": list(new.topics),
            "countries": list(new.countries),
            "languages": list(new.languages),
            "max_items": new.max_items,
            "threads": new.threads,
        }
        changed = any(getattr(row, key, None) != value for key, value in values.items())
        for key, value in values.items():
            setattr(row, key, value)
        if changed:
            row.enabled, row.disabled_reason = True, None
        result.append(row)
    for row in stored.values():
        row.enabled, row.disabled_reason = False, "no longer declared in the settings"
    await session.flush()
    return [subscription_record(row) for row in result]


def subscription_record(row: Subscription) -> SubscriptionRecord:
    """Return a subscription row as the plain record callers hold."""
    return SubscriptionRecord(
        id=row.id,
        guild_id=row.guild_id,
        name=row.name,
        target_kind=row.target_kind,
        target=row.target,
        schedule=row.schedule,
        timezone=row.timezone,
        topics=list(row.topics or ()),
        countries=list(row.countries or ()),
        languages=list(row.languages or ()),
        max_items=row.max_items,
        threads=row.threads,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        origin=row.origin,
    )


async def server_subscriptions(guild_id: int, *, session: AsyncSession) -> list[SubscriptionRecord]:
    """Return a server's subscriptions, oldest first."""
    statement = select(Subscription).where(Subscription.guild_id == guild_id).order_by(Subscription.id)
    return [subscription_record(row) for row in await session.scalars(statement)]


async def count_server_subscriptions(guild_id: int, *, session: AsyncSession) -> int:
    """Count a server's subscriptions."""
    return await session.scalar(select(func.count()).where(Subscription.guild_id == guild_id)) or 0


async def create_subscription(new: SubscriptionIn, *, session: AsyncSession) -> SubscriptionRecord:
    """Store a new subscription and return it with its id."""
    row = Subscription(
        guild_id=new.guild_id,
        name=new.name,
        target_kind=new.target_kind,
        target=new.target,
        schedule=new.schedule,
        timezone=new.timezone,
        topics=list(new.topics),
        countries=list(new.countries),
        languages=list(new.languages),
        max_items=new.max_items,
        threads=new.threads,
        origin=new.origin,
    )
    session.add(row)
    await session.flush()
    return subscription_record(row)


async def delete_server_subscription(
    guild_id: int, subscription_id: int, *, session: AsyncSession
) -> SubscriptionRecord | None:
    """Delete one of a server's subscriptions (and its deliveries); return what it was, or None when the server
    has no such subscription."""
    row = await session.get(Subscription, subscription_id)
    if row is None or row.guild_id != guild_id:
        return None
    found = subscription_record(row)
    await session.delete(row)
    return found


async def last_delivered_end(subscription_id: int, before: datetime, *, session: AsyncSession) -> datetime | None:
    """Return the end of the subscription's latest window that was delivered (or had nothing) before ``before``."""
    return await session.scalar(
        select(func.max(Delivery.window_end)).where(
            Delivery.subscription_id == subscription_id, Delivery.status.in_(DONE), Delivery.window_end < before
        )
    )


async def last_window_end(subscription_id: int, *, session: AsyncSession) -> datetime | None:
    """Return the end of the subscription's latest recorded window, whatever became of it."""
    statement = select(func.max(Delivery.window_end)).where(Delivery.subscription_id == subscription_id)
    return await session.scalar(statement)


async def delivery_by_key(key: str, *, session: AsyncSession) -> Delivery | None:
    """Return the delivery recorded under ``key``, or None."""
    return await session.scalar(select(Delivery).where(Delivery.key == key))


async def get_delivery(delivery_id: int, *, session: AsyncSession) -> Delivery | None:
    """Return one delivery, or None."""
    return await session.get(Delivery, delivery_id)


async def add_delivery(delivery: Delivery, *, session: AsyncSession) -> Delivery:
    """Record a delivery and return it with its id."""
    session.add(delivery)
    await session.flush()
    return delivery


def _claimable(now: datetime, claimant: str) -> ColumnElement[bool]:
    return or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now, Delivery.claimed_by == claimant)


async def pending_delivery_ids(
    now: datetime, claimant: str, *, due_only: bool = False, session: AsyncSession
) -> Sequence[int]:
    """Return the ids of pending deliveries ``claimant`` may take, in the order they were recorded.

    With ``due_only``, only those nobody holds whose next round is due (or that were never tried,
    their recorder having died): what a retry job picks up.
    """
    statement = select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING).order_by(Delivery.id)
    if due_only:
        statement = statement.where(
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        )
    else:
        statement = statement.where(_claimable(now, claimant))
    return list(await session.scalars(statement))


async def claim_delivery(
    delivery_id: int, claimant: str, *, now: datetime, until: datetime, session: AsyncSession
) -> Delivery | None:
    """Take a pending delivery for ``claimant`` until ``until``; None when it is done or another holds it."""
    statement = _locking(select(Delivery).where(Delivery.id == delivery_id), session)
    delivery: Delivery | None = await session.scalar(statement)
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        return None
    if delivery.claimed_until is not None and delivery.claimed_until >= now and delivery.claimed_by != claimant:
        return None
    delivery.claimed_by, delivery.claimed_until = claimant, until
    return delivery


async def release_claims(claimant: str, *, session: AsyncSession) -> int:
    """Let go of every pending delivery ``claimant`` holds (it is stopping); return how many."""
    statement = (
        update(Delivery)
        .where(Delivery.claimed_by == claimant, Delivery.status == DeliveryStatus.PENDING)
        .values(claimed_by=None, claimed_until=None)
    )
    result = await session.execute(statement)
    return rowcount(result)


async def pending_before(
    subscription_id: int, window_end: datetime, *, now: datetime, session: AsyncSession
) -> list[Delivery]:
    """Return the subscription's pending deliveries for windows that ended before ``window_end``, except
    those a process is sending right now (a digest is never cut off half-way)."""
    statement = select(Delivery).where(
        Delivery.subscription_id == subscription_id,
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.window_end < window_end,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
    )
    return list(await session.scalars(statement))
