"""Several processes on one PostgreSQL database: enrichment throughput with 1, 2 and 4 processes, and the
cost of the claims that keep them from doing work twice (statements per delivery and per collection).

Run: .venv/bin/python -m bench.scaleout [--articles 240] [--processes 1,2,4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text

from bench.common import percentile
from bench.corpus import articles
from digests.collect.parse import ParsedArticle
from digests.collect.sectionize import Sectionizer
from digests.kinds import TargetKind
from digests.services.collection import article_in
from digests.services.deliveries import deliver
from digests.settings import SectionSettings, Settings
from digests.store import Database
from digests.store import articles as article_store
from digests.store.models import Subscription

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = os.environ.get("SITREP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _fresh_database() -> tuple[str, str]:
    name = f"sitrep_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _load(url: str, count: int) -> int:
    database = Database(url)
    await database.migrate()
    sectionizer = Sectionizer(SectionSettings())
    _, rows = articles(count)
    parsed = [
        ParsedArticle(title=title, sections=sectionizer.split(body, title=title), source_name="Bench", url=None)
        for title, body in rows
    ]
    async with database.sessions.begin() as session:
        await article_store.store_articles([article_in(a) for a in parsed], source_id=None, guild_id=0, session=session)
    async with database.engine.connect() as connection:
        sections = (await connection.execute(text("SELECT count(*) FROM sections"))).scalar_one()
    await database.dispose()
    return int(sections)


async def _pending(url: str) -> int:
    database = Database(url)
    async with database.engine.connect() as connection:
        waiting = (
            await connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM sections WHERE needs_summary) + "
                    "(SELECT count(*) FROM articles WHERE needs_tagging)"
                )
            )
        ).scalar_one()
    await database.dispose()
    return int(waiting)


async def enrich_with(processes: int, count: int) -> dict[str, Any]:
    """Load ``count`` articles, then time ``processes`` `sitrep run --role enrich` processes until all is done."""
    name, url = await _fresh_database()
    try:
        sections = await _load(url, count)
        with tempfile.TemporaryDirectory() as scratch:
            empty = Path(scratch) / "sources.toml"
            empty.write_text("")
            env = {k: v for k, v in os.environ.items() if not k.startswith("SITREP_")} | {
                "SITREP_DATABASE_URL": url,
                "SITREP_COLLECT__SOURCES_FILE": str(empty),
                "SITREP_DIGEST__SUBSCRIPTIONS": "[]",
                "SITREP_COLLECT__CHECK_SECONDS": "2",
                # Each process gets its share of the cores, as it would on a machine of its own.
                "OMP_NUM_THREADS": str(max((os.cpu_count() or 1) // processes, 1)),
            }
            started = time.perf_counter()
            running = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "digests.cli",
                    "run",
                    "--role",
                    "enrich",
                    cwd=REPO,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                for _ in range(processes)
            ]
            try:
                for _ in range(3600):  # at most half an hour
                    if not await _pending(url):
                        break
                    await asyncio.sleep(0.5)
                seconds = time.perf_counter() - started
            finally:
                for process in running:
                    process.terminate()
                await asyncio.gather(*(asyncio.wait_for(process.wait(), 60) for process in running))
    finally:
        await _drop(name)
    return {
        "processes": processes,
        "articles": count,
        "sections": sections,
        "seconds": round(seconds, 1),
        "sections_per_second": round(sections / seconds, 1),
    }


async def claim_cost(repeat: int) -> dict[str, Any]:
    """Count the SQL statements one delivery (recording, claiming, sending three messages) costs."""
    name, url = await _fresh_database()
    database = Database(url)
    try:
        await database.migrate()
        settings = Settings(database_url=url, digest={"retry_base_seconds": 0, "subscriptions": []})
        now = datetime.now(UTC)
        sectionizer = Sectionizer(SectionSettings())
        _, rows = articles(6)
        async with database.sessions.begin() as session:
            parsed = [
                ParsedArticle(title=t, sections=sectionizer.split(b, title=t), source_name="Bench", url=None)
                for t, b in rows
            ]
            await article_store.store_articles(
                [article_in(a) for a in parsed], source_id=None, guild_id=0, session=session
            )
            await session.execute(
                text("UPDATE articles SET ready_at = :now, summary = 'Summary.', needs_tagging = false"),
                {"now": now - timedelta(minutes=5)},
            )
            await session.execute(text("UPDATE sections SET summary = text, needs_summary = false"))
            subscription = Subscription(
                name="bench", target_kind=TargetKind.TERMINAL, target="terminal", schedule="* * * * *",
                timezone="UTC", topics=[], countries=[], max_items=10,
            )  # fmt: skip
            session.add(subscription)
            await session.flush()
            subscription_id = subscription.id

        class Quiet:
            idempotent = True

            async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
                return nonce

        counts: list[int] = []
        timings: list[float] = []
        messages = 0
        for run in range(repeat):
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            event.listen(database.engine.sync_engine, "before_cursor_execute", count)
            started = time.perf_counter()
            outcome = await deliver(
                subscription_id, now + timedelta(minutes=run), database=database, sender_for=lambda _: Quiet(),
                settings=settings,
            )  # fmt: skip
            timings.append((time.perf_counter() - started) * 1000)
            event.remove(database.engine.sync_engine, "before_cursor_execute", count)
            if outcome is not None and outcome.messages:
                counts.append(statements)
                messages = outcome.messages
            async with database.sessions.begin() as session:  # the next window has the same articles again
                await session.execute(text("UPDATE articles SET ready_at = :t"), {"t": now + timedelta(minutes=run)})
        return {
            "messages_per_delivery": messages,
            "statements_per_delivery": round(sum(counts) / len(counts), 1) if counts else None,
            "delivery_ms_p50": round(percentile(timings, 0.5), 1),
        }
    finally:
        await database.dispose()
        await _drop(name)


async def run(count: int, fleet: list[int], repeat: int) -> dict[str, Any]:
    """Every figure of this benchmark."""
    throughput = [await enrich_with(n, count) for n in fleet]
    base = throughput[0]["sections_per_second"]
    for entry in throughput:
        entry["speed_up"] = round(entry["sections_per_second"] / base, 2)
    return {
        "input": f"{count} {articles(1)[0]} articles on PostgreSQL",
        "cpus": os.cpu_count(),
        "enrich": throughput,
        "claims": await claim_cost(repeat),
    }


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=240)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    fleet = [int(n) for n in args.processes.split(",")]
    print(json.dumps(asyncio.run(run(args.articles, fleet, args.repeat))))


if __name__ == "__main__":
    main()
