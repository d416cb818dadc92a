"""Query latency behind /country, /topic and /search, and digest composition, with many stored articles.

Stores synthetic articles (random vectors, titles and summaries from a news vocabulary) in bulk, then
times the query services: p50 and p95 over repeated calls, at each size, on SQLite and PostgreSQL (each
query's first call is timed apart: it opens connections and reads cold pages).
Run: .venv/bin/python -m bench.queries [--sizes 10000,100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, text

from bench.baselines import recent_scan_rank, scan_search
from bench.common import peak_rss_mb, percentile
from digests.compose import DigestFilters
from digests.render.discord import discord_messages
from digests.services import queries
from digests.services.digests import digest_now
from digests.store.db import Database
from digests.store.models import Article, ArticleCountry, ArticleTopic, ArticleVector, Section
from digests.store.records import ArticleFilter

TOPICS = [
    "energy",
    "trade and tariffs",
    "cybersecurity",
    "diplomacy and alliances",
    "economy and markets",
    "defense and military",
    "technology and AI",
    "health",
    "migration",
    "space",
]
COUNTRIES = ["US", "GB", "JP", "CN", "DE", "FR", "IN", "BR", "KE", "CL", "TW", "KR", "RU", "UA", "ZA"]
WORDS = (
    "minister talks agreement trade tariffs security cyber supply chain minerals energy market election "
    "parliament sanctions border military alliance summit economy growth inflation ports shipping steel "
    "lithium grid satellite vaccine refugees drought pipeline"
).split()
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _rows(start: int, count: int, rng: random.Random) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {"articles": [], "sections": [], "topics": [], "countries": [], "vectors": []}
    vectors = np.random.default_rng(start).standard_normal((count, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    written = datetime.now(UTC)  # when tagging would have written the vectors: now, not when the news happened
    for number, vector in zip(range(start, start + count), vectors, strict=True):
        title = " ".join(rng.choice(WORDS) for _ in range(7)).capitalize()
        summary = ". ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() for _ in range(3)) + "."
        ready = NOW - timedelta(minutes=rng.randint(0, 7 * 24 * 60))
        rows["articles"].append(
            {
                "id": number,
                "key": uuid.uuid4().hex,
                "source_name": "Bench",
                "title": title,
                "url": f"https://bench.example/{number}",
                "collected_at": ready,
                "updated_at": ready,
                "ready_at": ready,
                "published_at": ready,
                "content_hash": "x",
                "text": summary,
                "summary": summary,
                "needs_tagging": False,
                "tags_version": "bench",
            }
        )
        for position, heading in enumerate(("What's Happening?", "Why It's Important?")):
            rows["sections"].append(
                {
                    "article_id": number,
                    "position": position,
                    "heading": heading,
                    "text": summary,
                    "text_hash": "x",
                    "summary": summary,
                    "needs_summary": False,
                    "summary_fallback": False,
                }
            )
        for rank, topic in enumerate(rng.sample(TOPICS, 2)):
            rows["topics"].append({"article_id": number, "topic": topic, "score": rng.random(), "rank": rank})
        for rank, code in enumerate(rng.sample(COUNTRIES, 2)):
            rows["countries"].append({"article_id": number, "code": code, "score": rng.random(), "rank": rank})
        rows["vectors"].append(
            {
                "article_id": number,
                "model_id": "bench",
                "vector": vector.astype(np.float16).tobytes(),
                "updated_at": written,
            }
        )
    return rows


async def _load(database: Database, start: int, count: int) -> float:
    rng = random.Random(start)
    started = time.perf_counter()
    tables = (
        ("articles", Article),
        ("sections", Section),
        ("topics", ArticleTopic),
        ("countries", ArticleCountry),
        ("vectors", ArticleVector),
    )
    for offset in range(0, count, 5000):
        rows = _rows(start + offset, min(5000, count - offset), rng)
        async with database.sessions.begin() as session:
            for name, model in tables:
                await session.execute(insert(model), rows[name])
    async with database.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _time(call, repeat: int) -> dict:
    started = time.perf_counter()
    await call()  # the first call opens connections and reads cold pages: reported apart from the percentiles
    first = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(percentile(samples, 0.5), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "first_ms": round(first, 2),
    }


async def measure(database: Database, repeat: int) -> dict:
    """Time each query service on the stored articles."""
    rng = np.random.default_rng(1)
    vector = rng.normal(size=384).astype(np.float32)
    vector /= np.linalg.norm(vector)
    started = time.perf_counter()
    async with database.sessions() as session:
        await database.vectors.refresh(session)  # reads what was loaded since the last size
    index_seconds = time.perf_counter() - started
    results: dict = {
        "country": await _time(lambda: queries.latest(database, guild_id=None, country="JP"), repeat),
        "topic": await _time(lambda: queries.latest(database, guild_id=None, topic="energy"), repeat),
        "search": await _time(
            lambda: queries.rank(database, vector, "steel tariffs", ArticleFilter(guild_id=None)), repeat
        ),
        "search_before_index": await _time(
            lambda: recent_scan_rank(database, vector, "steel tariffs", guild_id=None), repeat
        ),
        "search_before_fts": await _time(lambda: scan_search(database, vector, "steel tariffs", guild_id=None), repeat),
    }

    async def digest() -> None:
        built = await digest_now(database, DigestFilters(since=NOW - timedelta(hours=24), until=NOW))
        discord_messages(built)

    results["digest"] = await _time(digest, max(repeat // 2, 3))
    results["index"] = {"refresh_seconds": round(index_seconds, 1), "vectors": database.vectors.size}
    return results


async def run(sizes: list[int], backends: list[str], repeat: int) -> dict:
    """Load each backend up to each size and time the queries there."""
    report: dict = {"input": "generated articles", "repeat": repeat, "results": []}
    for backend in backends:
        with tempfile.TemporaryDirectory() as scratch:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
                cleanup = None
            else:
                import asyncpg

                name = f"sitrep_bench_{uuid.uuid4().hex[:8]}"
                admin = await asyncpg.connect(POSTGRES_ADMIN)
                await admin.execute(f'CREATE DATABASE "{name}"')
                await admin.close()
                url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
                cleanup = name
            database = Database(url)
            await database.migrate()
            stored = 0
            try:
                for size in sizes:
                    load_seconds = await _load(database, stored, size - stored)
                    stored = size
                    entry = {"backend": backend, "articles": size, "load_seconds": round(load_seconds, 1)}
                    entry.update(await measure(database, repeat))
                    report["results"].append(entry)
            finally:
                await database.dispose()
                if cleanup:
                    admin = await asyncpg.connect(POSTGRES_ADMIN)
                    await admin.execute(f'DROP DATABASE IF EXISTS "{cleanup}" WITH (FORCE)')
                    await admin.close()
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def main() -> None:
    """Print the query figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(asyncio.run(run(sizes, args.backends.split(","), args.repeat))))


if __name__ == "__main__":
    main()
