"""Story placement speed as the store grows: articles placed per second with 10k, 100k (or more) stored.

Fills a SQLite file with stored articles at a steady rate (``--per-day``, 2,740 by default: a million a
year), so a bigger store reaches further back and every size has the same stories open in the last
``stories.quiet_hours`` (about 4,100 at the default rate). They are already in stories, two per story
(random unit vectors, titles from a news vocabulary). It then places 1,000 new articles (its own precomputed
vectors, so the encoder's time is left out: the pipeline benchmark has it) and times the placement alone.
Candidates come from the stories updated within ``stories.quiet_hours``, through an index, so the rate
should not fall as the store grows.
Run: .venv/bin/python -m bench.story_scale [--sizes 10000,100000] [--new 1000] [--per-day N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from bench.common import peak_rss_mb
from bench.queries import WORDS
from digests.services.stories import StoryReport, place_batch
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Article, Story, StoryMember

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DIMENSIONS = 384


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _article(number: int, when: datetime, rng: random.Random, *, waiting: bool) -> dict[str, object]:
    """Return one ready article row; ``waiting``: not in a story yet."""
    title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize() + f" {number}"
    return {"id": number + 1, "key": f"k{number}", "source_name": "Wire", "guild_id": 0, "title": title,
            "collected_at": when, "updated_at": when, "content_hash": "h", "text": title, "summary": title,
            "needs_tagging": False, "ready_at": when, "needs_story": waiting, "full_text_attempts": 0}  # fmt: skip


async def _fill(database: Database, size: int, per_day: int, rng: random.Random, vectors: np.random.Generator) -> None:
    """Store ``size`` placed articles, ``per_day`` a day up to now, two per story."""
    span = round(size / per_day * 24 * 60)  # minutes
    batch = 5000
    for start in range(0, size, batch):
        count = min(batch, size - start)
        articles, stories, members = [], [], []
        unit = _unit(vectors, count).astype(np.float16)
        for offset in range(count):
            number = start + offset
            when = NOW - timedelta(minutes=rng.randint(0, span))
            article = _article(number, when, rng, waiting=False)
            articles.append(article)
            story = number // 2 + 1
            if number % 2 == 0:
                stories.append(
                    {"id": story, "guild_id": 0, "title": article["title"], "first_seen": when, "last_updated": when,
                     "member_count": 2, "created_at": when}
                )  # fmt: skip
            members.append(
                {"article_id": number + 1, "story_id": story, "joined_at": when, "similarity": 1.0,
                 "vector": unit[offset].tobytes()}
            )  # fmt: skip
        async with database.sessions.begin() as session:
            await session.execute(insert(Article), articles)
            await session.execute(insert(Story), stories)
            await session.execute(insert(StoryMember), members)


async def _new(database: Database, size: int, count: int, rng: random.Random) -> None:
    rows = [_article(size + offset, NOW + timedelta(seconds=offset), rng, waiting=True) for offset in range(count)]
    async with database.sessions.begin() as session:
        await session.execute(insert(Article), rows)


async def measure(size: int, new: int, per_day: int) -> dict[str, float]:
    """Return placement figures for ``new`` articles with ``size`` already stored."""
    settings = Settings()
    rng, vectors = random.Random(size), np.random.default_rng(size)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'scale.db'}")
        await database.migrate()
        try:
            await _fill(database, size, per_day, rng, vectors)
            await _new(database, size, new, rng)
            async with database.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
                open_now = (
                    await connection.execute(
                        text("SELECT count(*) FROM stories WHERE last_updated >= :since"),
                        {"since": NOW - timedelta(hours=settings.stories.quiet_hours)},
                    )
                ).scalar_one()

            async def embed(texts: list[str]) -> np.ndarray:
                return _unit(vectors, len(texts))

            report = StoryReport()
            started = time.perf_counter()
            batch = settings.stories.batch_size
            while await place_batch(database, embed, settings.stories, batch_size=batch, report=report):
                pass
            seconds = time.perf_counter() - started
        finally:
            await database.dispose()
    return {
        "stored": size,
        "stored_per_day": per_day,
        "placed": report.placed,
        "open_stories_in_window": open_now,
        "articles_per_second": round(report.placed / seconds, 1),
    }


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=2740, help="Stored articles a day (default: a million a year).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    figures = [asyncio.run(measure(size, args.new, args.per_day)) for size in sizes]
    print(json.dumps({"sizes": figures, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
