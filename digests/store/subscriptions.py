"""Subscriptions and their deliveries: repository functions that never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from digests.kinds import DeliveryStatus, Origin
from digests.store.models import GLOBAL_SCOPE, Delivery, Subscription

DONE = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED)


async def get_subscription(subscription_id: int, *, session: AsyncSession) -> Subscription | None:
    """Return one subscription, or None."""
    return await session.get(Subscription, subscription_id)


async def enabled_subscriptions(*, session: AsyncSession) -> list[Subscription]:
    """Return every enabled subscription."""
    return list(await session.scalars(select(Subscription).where(Subscription.enabled.is_(True))))


async def server_subscriptions(guild_id: int, *, session: AsyncSession) -> list[Subscription]:
    """Return a server's subscriptions, oldest first."""
    statement = select(Subscription).where(Subscription.guild_id == guild_id).order_by(Subscription.id)
    return list(await session.scalars(statement))


async def count_server_subscriptions(guild_id: int, *, session: AsyncSession) -> int:
    """Count a server's subscriptions."""
    return await session.scalar(select(func.count()).where(Subscription.guild_id == guild_id)) or 0


async def settings_subscriptions(*, session: AsyncSession) -> dict[str, Subscription]:
    """Return the subscriptions declared in the settings, by name."""
    statement = select(Subscription).where(
        Subscription.guild_id == GLOBAL_SCOPE, Subscription.origin == Origin.SETTINGS
    )
    return {s.name: s for s in await session.scalars(statement)}


async def add_subscription(subscription: Subscription, *, session: AsyncSession) -> Subscription:
    """Store a new subscription and return it with its id."""
    session.add(subscription)
    await session.flush()
    return subscription


async def delete_subscription(subscription: Subscription, *, session: AsyncSession) -> None:
    """Delete a subscription and its deliveries."""
    await session.delete(subscription)


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


async def pending_delivery_ids(*, due_by: datetime | None = None, session: AsyncSession) -> Sequence[int]:
    """Return the ids of pending deliveries in the order they were recorded; with ``due_by``, only failed
    ones whose next attempt is due by then."""
    statement = select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING).order_by(Delivery.id)
    if due_by is not None:
        statement = statement.where(Delivery.next_attempt_at.is_not(None), Delivery.next_attempt_at <= due_by)
    return list(await session.scalars(statement))


async def pending_before(subscription_id: int, window_end: datetime, *, session: AsyncSession) -> list[Delivery]:
    """Return the subscription's pending deliveries for windows that ended before ``window_end``."""
    statement = select(Delivery).where(
        Delivery.subscription_id == subscription_id,
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.window_end < window_end,
    )
    return list(await session.scalars(statement))
