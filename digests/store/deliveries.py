"""Deliveries: each subscription window's digest, recorded before sending; repository functions that never commit.

Every change to a delivery row is made here, by name (``confirm_message``, ``mark_sent``, ...); the
state machine that decides which change to make is ``digests/services/deliveries.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from digests.kinds import DeliveryStatus
from digests.store.db import locked, rowcount
from digests.store.models import Delivery
from digests.store.records import DeliveryIn, DeliveryRecord

DONE = (DeliveryStatus.SENT, DeliveryStatus.SKIPPED)


def _record(row: Delivery) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        subscription_id=row.subscription_id,
        key=row.key,
        window_start=row.window_start,
        window_end=row.window_end,
        status=row.status,
        payload=list(row.payload or ()),
        stories={int(story): count for story, count in (row.stories or {}).items()},
        sent_count=row.sent_count,
        sending_index=row.sending_index,
        message_ids=tuple(row.message_ids or ()),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_by=row.claimed_by,
        last_error=row.last_error,
    )


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


async def is_recorded(key: str, *, session: AsyncSession) -> bool:
    """Whether a delivery is recorded under ``key``."""
    return await session.scalar(select(Delivery.id).where(Delivery.key == key)) is not None


async def get_delivery(delivery_id: int, *, session: AsyncSession) -> DeliveryRecord | None:
    """Return one delivery, or None."""
    row = await session.get(Delivery, delivery_id)
    return _record(row) if row is not None else None


async def add_delivery(new: DeliveryIn, *, session: AsyncSession) -> DeliveryRecord:
    """Record a delivery and return it with its id."""
    row = Delivery(
        subscription_id=new.subscription_id,
        key=new.key,
        window_start=new.window_start,
        window_end=new.window_end,
        payload=list(new.payload),
        status=new.status,
        stories={str(story): count for story, count in new.stories.items()},
        claimed_by=new.claimed_by,
        claimed_until=new.claimed_until,
    )
    session.add(row)
    await session.flush()
    return _record(row)


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
) -> DeliveryRecord | None:
    """Take a pending delivery for ``claimant`` until ``until``; None when it is done or another holds it."""
    statement = locked(select(Delivery).where(Delivery.id == delivery_id), session)
    row: Delivery | None = await session.scalar(statement)
    if row is None or row.status is not DeliveryStatus.PENDING:
        return None
    if row.claimed_until is not None and row.claimed_until >= now and row.claimed_by != claimant:
        return None
    row.claimed_by, row.claimed_until = claimant, until
    return _record(row)


async def _update(delivery_id: int, session: AsyncSession, **values: Any) -> None:
    row = await session.get(Delivery, delivery_id)
    if row is not None:
        for name, value in values.items():
            setattr(row, name, value)


async def mark_sending(delivery_id: int, index: int, *, until: datetime, session: AsyncSession) -> None:
    """Note that message ``index`` is going out now, and renew the claim until ``until``."""
    await _update(delivery_id, session, sending_index=index, claimed_until=until)


async def clear_sending(delivery_id: int, *, session: AsyncSession) -> None:
    """Discord answered the message being sent (whatever the answer): its outcome is known."""
    await _update(delivery_id, session, sending_index=None)


async def release_delivery(delivery_id: int, *, session: AsyncSession) -> None:
    """Let go of one delivery, for whichever process may send it."""
    await _update(delivery_id, session, claimed_by=None, claimed_until=None)


async def confirm_message(delivery_id: int, index: int, message_id: str, *, session: AsyncSession) -> None:
    """Record that message ``index`` was posted as ``message_id`` (or is unconfirmed)."""
    row = await session.get(Delivery, delivery_id)
    if row is not None:
        row.message_ids = [*row.message_ids, message_id]
        row.sent_count = index + 1
        row.sending_index = None


async def mark_sent(delivery_id: int, *, now: datetime, session: AsyncSession) -> dict[int, int]:
    """Mark a delivery sent and free it; return how many articles of each story it carried."""
    row = await session.get(Delivery, delivery_id)
    if row is None:
        return {}
    row.status, row.sent_at, row.next_attempt_at = DeliveryStatus.SENT, now, None
    row.claimed_by = row.claimed_until = None
    return {int(story): count for story, count in (row.stories or {}).items()}


async def mark_failed(delivery_id: int, reason: str, *, session: AsyncSession) -> None:
    """Give a delivery up for good, saying why."""
    await _update(
        delivery_id,
        session,
        status=DeliveryStatus.FAILED,
        last_error=reason,
        next_attempt_at=None,
        claimed_by=None,
        claimed_until=None,
    )


async def count_failed_round(delivery_id: int, error: str, *, session: AsyncSession) -> DeliveryRecord | None:
    """Count one more failed round with its error and free the delivery for the next; return it as it is now."""
    row = await session.get(Delivery, delivery_id)
    if row is None:
        return None
    row.attempts += 1
    row.last_error = error
    row.claimed_by = row.claimed_until = None
    return _record(row)


async def retry_at(delivery_id: int, when: datetime, *, session: AsyncSession) -> None:
    """Schedule a delivery's next round."""
    await _update(delivery_id, session, next_attempt_at=when)


async def release_claims(claimant: str, *, session: AsyncSession) -> int:
    """Let go of every pending delivery ``claimant`` holds (it is stopping); return how many."""
    statement = (
        update(Delivery)
        .where(Delivery.claimed_by == claimant, Delivery.status == DeliveryStatus.PENDING)
        .values(claimed_by=None, claimed_until=None)
    )
    result = await session.execute(statement)
    return rowcount(result)


async def supersede_pending_before(
    subscription_id: int, window_end: datetime, reason: str, *, now: datetime, session: AsyncSession
) -> list[str]:
    """Drop the subscription's pending deliveries for windows that ended before ``window_end``, saying why,
    except those a process is sending right now (a digest is never cut off half-way); return their keys."""
    statement = select(Delivery).where(
        Delivery.subscription_id == subscription_id,
        Delivery.status == DeliveryStatus.PENDING,
        Delivery.window_end < window_end,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
    )
    keys = []
    for row in await session.scalars(statement):
        row.status, row.last_error, row.next_attempt_at = DeliveryStatus.SUPERSEDED, reason, None
        keys.append(row.key)
    return keys
