"""Running processes and the locks that let several share one database: repository functions that never commit."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from functools import cache

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from digests.store.models import Worker
from digests.store.records import ProcessInfo
from digests.store.types import utcnow

# PostgreSQL advisory lock keys (any fixed 64-bit numbers, the same in every process).
MIGRATION_LOCK = 0x5179_0001
CONFIG_LOCK = 0x5179_0002


@cache
def this_process() -> str:
    """Return this process's name in claims and the workers table: host, pid and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def exclusive(key: int, *, session: AsyncSession) -> None:
    """Hold a PostgreSQL advisory lock until the transaction ends (SQLite has one writer: nothing to do)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def announce(roles: str, shard: str | None, *, session: AsyncSession) -> None:
    """Record this process as running, or refresh its heartbeat."""
    worker = await session.get(Worker, this_process())
    now = utcnow()
    if worker is None:
        host, pid, _ = this_process().rsplit(":", 2)
        worker = Worker(id=this_process(), host=host, pid=int(pid), started_at=now)
        session.add(worker)
    worker.roles, worker.shard, worker.heartbeat_at = roles, shard, now
    await session.flush()


async def live_workers(within: timedelta, *, session: AsyncSession) -> list[ProcessInfo]:
    """Return the processes that sent a heartbeat within ``within``, oldest first."""
    cutoff = utcnow() - within
    statement = select(Worker).where(Worker.heartbeat_at >= cutoff).order_by(Worker.started_at, Worker.id)
    return [
        ProcessInfo(w.id, w.host, w.pid, w.roles, w.shard, w.started_at, w.heartbeat_at)
        for w in await session.scalars(statement)
    ]


async def forget_dead(within: timedelta, *, session: AsyncSession) -> None:
    """Delete the rows of processes silent for twice ``within`` (killed ones never retire themselves)."""
    await session.execute(delete(Worker).where(Worker.heartbeat_at < utcnow() - 2 * within))


async def retire(*, session: AsyncSession) -> None:
    """Remove this process from the workers table (it is stopping)."""
    await session.execute(delete(Worker).where(Worker.id == this_process()))
