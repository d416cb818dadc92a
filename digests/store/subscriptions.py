"""Subscriptions: repository functions that never commit (their deliveries are ``deliveries``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from digests.kinds import Origin
from digests.store.db import locked
from digests.store.models import GLOBAL_SCOPE, Subscription
from digests.store.records import SubscriptionIn, SubscriptionRecord


async def get_subscription(subscription_id: int, *, session: AsyncSession) -> SubscriptionRecord | None:
    """Return one subscription, or None."""
    row = await session.get(Subscription, subscription_id)
    return subscription_record(row) if row is not None else None


async def lock_subscription(subscription_id: int, *, session: AsyncSession) -> SubscriptionRecord | None:
    """Return one subscription, locked until the transaction ends (PostgreSQL), so that its digests are
    recorded by one process at a time."""
    statement = locked(select(Subscription).where(Subscription.id == subscription_id), session)
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
