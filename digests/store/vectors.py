"""Search by meaning over every stored article: an HNSW index (usearch) that follows ``article_vectors``.

The table stays the truth; the index is a per-process copy of it, read whole the first time, then only what was
written since it last looked (``article_vectors.updated_at``, re-reading a margin, since other processes commit
late). It is kept on disk beside a SQLite database (or in the model cache for PostgreSQL) so a restart reads it
back rather than building it again. Answers are candidates: the caller filters them through the database,
which also drops articles deleted since.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from digests.store.models import ArticleVector

log = logging.getLogger(__name__)

# Searches start a refresh at most this often (in the background): rows within the margin are read again each time.
REFRESH_SECONDS = 5.0
# Rows written this long before the last one seen are read again: a slow transaction commits after a fast one.
MARGIN = timedelta(minutes=2)
_BATCH = 5000  # rows a page: each page is read on the event loop, so a page is a short pause
_SAVE_EVERY = 60.0  # seconds between saves of an index that changed


def _micros(at: datetime | None) -> int:
    """Return a time as microseconds since the epoch (-1 for none)."""
    return -1 if at is None else round(at.timestamp() * 1_000_000)


class _Recent:
    """The rows read within the margin, with the time each was written: read again, they are not indexed again.

    Arrays rather than a dict: after a bulk load the margin holds hundreds of thousands of rows, which as
    Python objects would cost memory and slow every full garbage collection of the process.
    """

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)  # sorted
        self.times = np.zeros(0, dtype=np.int64)

    def unseen(self, ids: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Return which rows were not read before as written at that time (rows without a time never were)."""
        if not len(self.ids):
            return np.ones(len(ids), dtype=bool)
        at = np.searchsorted(self.ids, ids).clip(max=len(self.ids) - 1)
        changed: np.ndarray = ~((self.ids[at] == ids) & (self.times[at] == times)) | (times < 0)
        return changed

    def remember(self, ids: np.ndarray, times: np.ndarray, edge: int) -> None:
        """Add rows read, keep each row's latest time, and forget those written before ``edge``."""
        ids, times = np.concatenate([self.ids, ids]), np.concatenate([self.times, times])
        keep = times >= edge
        ids, times = ids[keep], times[keep]
        order = np.lexsort((times, ids))
        ids, times = ids[order], times[order]
        last = np.append(ids[1:] != ids[:-1], True)
        self.ids, self.times = ids[last], times[last]


class VectorIndex:
    """An approximate nearest-neighbour index of article vectors (cosine), kept in step with the table."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._index: Any = None
        self._model_id: str | None = None
        self._mark: datetime | None = None  # the newest updated_at read so far
        self._built = False
        self._ready = False  # read whole at least once: searches can use it
        self._refreshed_at = 0.0
        self._building: asyncio.Task[int] | None = None
        self._lock = asyncio.Lock()
        self._guard = threading.Lock()  # the index is changed on worker threads, searched on others
        self._saved_at = time.monotonic()
        self._dirty = False
        self._seen: tuple[int, ...] = (0, 0)  # (rows, highest id) up to the mark, when saved
        self._fresh = _Recent()

    @property
    def ready(self) -> bool:
        """Tell whether the index has read the table whole at least once."""
        return self._ready

    def follow(self, sessions: Callable[[], Any]) -> None:
        """Read the table into the index on a task of its own: whole the first time, then what changed, at most
        every ``REFRESH_SECONDS``. Searches never wait for it; they use what is indexed (or scan, before)."""
        if self._building is not None and not self._building.done():
            return
        if self._ready and time.monotonic() - self._refreshed_at < REFRESH_SECONDS:
            return
        self._building = asyncio.get_running_loop().create_task(self._build(sessions), name="sitrep-search-index")

    async def _build(self, sessions: Callable[[], Any]) -> int:
        started = time.perf_counter()
        first = not self._ready
        async with sessions() as session:
            read = await self.refresh(session)
        if first:
            log.info("Search index ready: %d article(s) read in %.1f s", self.size, time.perf_counter() - started)
        return read

    async def built(self) -> None:
        """Wait for a build in progress (for tests and benchmarks)."""
        if self._building is not None:
            await asyncio.shield(self._building)

    async def stop(self) -> None:
        """Cancel a build in progress."""
        if self._building is not None and not self._building.done():
            self._building.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._building

    @property
    def changed(self) -> bool:
        """Tell whether the index holds what its file does not."""
        return self._dirty

    @property
    def size(self) -> int:
        """Count the vectors indexed."""
        return len(self._index) if self._index is not None else 0

    def _new(self, dimensions: int) -> Any:
        from usearch.index import Index

        # int8 vectors: a quarter of float32's memory, cosines within about 0.01 of the stored vectors'.
        return Index(ndim=dimensions, metric="cos", dtype="i8", connectivity=16, expansion_add=32, expansion_search=96)

    def _meta_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".json") if self.path else None

    def _restore(self) -> None:
        meta = self._meta_path()
        if self.path is None or meta is None or not meta.exists():
            return
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            index = self._new(int(info["dimensions"]))
            index.load(str(self.path.with_name(info["file"])))
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            log.warning("The search index in %s could not be read (%s); it is built again", self.path, error)
            return
        self._index, self._model_id = index, info["model_id"]
        self._mark = datetime.fromisoformat(info["mark"]) if info.get("mark") else None
        self._seen = tuple(info.get("seen") or (0, 0))
        log.info("Read the search index of %d article(s) from %s", len(index), self.path)

    async def _table_state(self, session: AsyncSession) -> tuple[int, int]:
        """Return (rows, highest id) of the table up to the mark: what the index has seen of it."""
        statement = select(func.count(), func.coalesce(func.max(ArticleVector.article_id), 0))
        if self._mark is not None:
            statement = statement.where(ArticleVector.updated_at <= self._mark)
        count, newest = (await session.execute(statement)).one()
        return int(count), int(newest)

    async def _matches_table(self, session: AsyncSession) -> bool:
        """Tell whether the table still holds what the restored index saw (not a new or emptied database)."""
        return await self._table_state(session) == self._seen

    async def save(self, session: AsyncSession) -> None:
        """Write the index to its file (if it has one), with what the table held up to its mark."""
        async with self._lock:
            await self._save(session)

    async def _save(self, session: AsyncSession) -> None:
        # Under ``_lock``: no refresh adds to the index while it is written.
        if self.path is None or self._index is None:
            return
        self._seen = await self._table_state(session)
        await asyncio.to_thread(self._write)

    def _write(self) -> None:
        meta = self._meta_path()
        if self.path is None or meta is None or self._index is None:
            return
        # Each save is a file of its own, named in the description, which is replaced in one step: processes
        # saving at once never pair one's index with another's description.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        name = f"{self.path.stem}.{os.getpid()}-{time.time_ns()}{self.path.suffix}"
        with self._guard:  # usearch does not promise that a save and a search may run at once
            self._index.save(str(self.path.with_name(name)))
        info = {
            "file": name,
            "dimensions": int(self._index.ndim),
            "model_id": self._model_id,
            "mark": self._mark.isoformat() if self._mark else None,
            "seen": list(self._seen),
        }
        scratch = meta.with_name(f".{meta.name}.{os.getpid()}")
        scratch.write_text(json.dumps(info), encoding="utf-8")
        scratch.replace(meta)
        for old in self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}"):
            if old.name != name:
                old.unlink(missing_ok=True)  # earlier saves (another process may have just read one: it has it open)
        self._saved_at, self._dirty = time.monotonic(), False

    async def refresh(self, session: AsyncSession) -> int:
        """Read the vectors written since the last look into the index; return how many were read."""
        async with self._lock:
            if not self._built:
                await asyncio.to_thread(self._restore)
                if self._index is not None and not await self._matches_table(session):
                    log.info("The search index in %s is of another database; it is built again", self.path)
                    self._index, self._model_id, self._mark = None, None, None
                self._built = True
            read = 0
            pages: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, write times) of every row read
            async for rows in self._changes(session):
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                times = np.fromiter((_micros(row[3]) for row in rows), dtype=np.int64, count=len(rows))
                new = [row for row, unseen in zip(rows, self._fresh.unseen(ids, times), strict=True) if unseen]
                if new:
                    await asyncio.to_thread(self._add, new)
                read += len(new)
                pages.append((ids, times))
            if pages and self._mark is not None:  # merged once, off the event loop: the margin may hold many rows
                ids, times = (np.concatenate(parts) for parts in zip(*pages, strict=True))
                await asyncio.to_thread(self._fresh.remember, ids, times, _micros(self._mark - MARGIN))
            self._ready = True
            if self._dirty and time.monotonic() - self._saved_at > _SAVE_EVERY:
                await self._save(session)
            self._refreshed_at = time.monotonic()  # after a save, which may take a while
            return read

    async def _changes(self, session: AsyncSession) -> AsyncIterator[list[Any]]:
        """Yield, in pages, every row (first build) or the rows written since the mark, less the margin."""
        columns = (ArticleVector.article_id, ArticleVector.vector, ArticleVector.model_id, ArticleVector.updated_at)
        if self._mark is None:  # everything, by id (older rows have no time)
            after = -1
            while rows := (
                await session.execute(
                    select(*columns)
                    .where(ArticleVector.article_id > after)
                    .order_by(ArticleVector.article_id)
                    .limit(_BATCH)
                )
            ).all():
                yield list(rows)
                after = rows[-1][0]
            return
        since: datetime = self._mark - MARGIN
        last_id = -1
        while rows := (
            await session.execute(
                select(*columns)
                .where(ArticleVector.updated_at >= since)  # the index's range; ties by id below
                .where(or_(ArticleVector.updated_at > since, ArticleVector.article_id > last_id))
                .order_by(ArticleVector.updated_at, ArticleVector.article_id)
                .limit(_BATCH)
            )
        ).all():
            yield list(rows)
            since, last_id = rows[-1][3] or since, rows[-1][0]

    def _add(self, rows: list[Any]) -> None:
        model_ids = {row[2] for row in rows}
        newest = max((row[3] for row in rows if row[3] is not None), default=None)
        dimensions = {len(row[1]) // 2 for row in rows}
        with self._guard:
            if self._model_id is not None and (model_ids - {self._model_id} or self._index.ndim not in dimensions):
                # Another encoder made these: the old vectors are not comparable with them. Start over.
                log.info("Search index: the encoder changed; indexing again")
                self._index, self._model_id = None, None
            keep = [row for row in rows if len(row[1]) // 2 == max(dimensions)]
            if self._index is None:
                self._index = self._new(max(dimensions))
                self._model_id = keep[0][2]
            keys = np.asarray([row[0] for row in keep], dtype=np.uint64)
            vectors = np.frombuffer(b"".join(row[1] for row in keep), dtype=np.float16).reshape(len(keep), -1)
            present = np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)
            if present.any():
                self._index.remove(keys[present])
            self._index.add(keys, vectors.astype(np.float32), threads=2)
            if newest is not None and (self._mark is None or newest > self._mark):
                self._mark = newest
            self._dirty = True

    def search(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        """Return up to ``count`` (article id, cosine similarity) nearest to ``vector``, best first.

        Called on the event loop: while a refresh is adding vectors on its thread, it answers nothing at once
        (the caller scans instead) rather than wait.
        """
        if not self._guard.acquire(blocking=False):
            return []
        try:
            if self._index is None or len(self._index) == 0:
                return []
            matches = self._index.search(vector.astype(np.float32), min(count, len(self._index)))
        finally:
            self._guard.release()
        return [
            (int(key), 1.0 - float(distance)) for key, distance in zip(matches.keys, matches.distances, strict=True)
        ]


def index_path(url: str, database_file: str | None, cache: Path) -> Path | None:
    """Return where the index of a database is kept: beside a SQLite file, else in ``cache`` by the URL (None:
    in memory only, for an in-memory database)."""
    if database_file == ":memory:" or (url.startswith("sqlite") and not database_file):
        return None
    if database_file and url.startswith("sqlite"):
        return Path(database_file).expanduser().with_suffix(".vectors.usearch")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return cache / f"search-{digest}.usearch"
