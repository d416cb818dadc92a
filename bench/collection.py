"""One polling cycle over many feeds served by a local HTTP server: full answers, then 304s.

Run: .venv/bin/python -m bench.collection [--feeds 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import update

from bench.common import peak_rss_mb
from digests.services.collection import collect_due_sources
from digests.services.sources import sync_sources
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Source


def _feed(number: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {number} story {i}</title><link>http://feeds.example/{number}/{i}</link>"
        f"<guid>f{number}-{i}</guid><description>Story {i} of feed {number}. Officials met to discuss trade and "
        f"energy. The talks continue next week with more delegations expected.</description></item>"
        for i in range(10)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {number}</title>{items}</channel></rss>'.encode()
    )


async def run(count: int) -> dict:
    """Serve ``count`` feeds, collect them all, then collect again with conditional GETs."""
    bodies = {f"/feed/{n}": _feed(n) for n in range(count)}
    served = {"200": 0, "304": 0}

    async def handler(request: web.Request) -> web.StreamResponse:
        etag = f'"{request.path}"'
        if request.headers.get("If-None-Match") == etag:
            served["304"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        served["200"] += 1
        return web.Response(body=bodies[request.path], headers={"Content-Type": "application/rss+xml", "ETag": etag})

    app = web.Application()
    app.router.add_get("/feed/{n}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as scratch:
        sources = Path(scratch) / "sources.toml"
        sources.write_text(
            "".join(
                f'[[source]]\nname = "feed {n}"\nlocation = "http://127.0.0.1:{port}/feed/{n}"\n' for n in range(count)
            )
        )
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(scratch) / 'c.db'}",
            fetch={"allow_private_addresses": True, "max_per_host": 16, "max_concurrent": 32},
            collect={"sources_file": str(sources), "fetch_full_text": False, "max_concurrent_sources": 32},
        )
        database = Database(settings.database_url)
        await database.migrate()
        await sync_sources(database=database, settings=settings)
        started = time.perf_counter()
        first = await collect_due_sources(database=database, settings=settings)
        full = time.perf_counter() - started
        async with database.sessions.begin() as session:
            await session.execute(update(Source).values(next_fetch_at=None))
        started = time.perf_counter()
        second = await collect_due_sources(database=database, settings=settings)
        conditional = time.perf_counter() - started
        await database.dispose()
    await runner.cleanup()
    return {
        "input": f"{count} generated feeds of 10 items on a local HTTP server",
        "full": {
            "seconds": round(full, 2),
            "new_articles": first.new,
            "errors": len(first.errors),
            "feeds_per_second": round(count / full, 1),
        },
        "conditional": {
            "seconds": round(conditional, 2),
            "not_modified": sum(s.not_modified for s in second.sources),
            "feeds_per_second": round(count / conditional, 1),
        },
        "served": served,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Print the collection figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=500)
    print(json.dumps(asyncio.run(run(parser.parse_args().feeds))))


if __name__ == "__main__":
    main()
