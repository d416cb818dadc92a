"""A live day of real multi-outlet coverage: does the daily digest lead with the day's biggest events, once each?

The ``stories-dev`` feeds are ingested as Sitrep ingests them (no linked pages fetched), moved in time so the
newest entry is an hour old, summarized, tagged and placed in stories, each article ready when it was
published. Then the default digest of the last 24 hours (10 items) is composed and checked against the labels:
- of the 5 labelled events with most outlets in the window, how many are among the items;
- whether any event appears in two items;
- for each item of a labelled event, the share of the event's outlets (in the window) that the item credits.
Outlets are the set's: CNN web and CNN YouTube are one, and so are Fox News web and Fox News YouTube.

Run: .venv/bin/python -m bench.live_day
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench import stories_dev
from bench.common import peak_rss_mb
from digests.collect.identity import canonical_url
from digests.compose import DigestFilters
from digests.services.collection import ingest
from digests.services.digests import digest_now
from digests.services.enrichment import Enricher, enrich_pending
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Article

TOP_EVENTS = 5
ITEMS = 10


async def run() -> dict[str, Any]:
    """Ingest, move, enrich and digest the set; return the checks."""
    loaded = stories_dev.load()
    if loaded is None:
        return {"skipped": "shared data absent"}
    articles, _ = loaded
    event_of = {a.url: a.story for a in articles if a.story and not a.loose}
    outlet_of_source = {a.source: a.outlet for a in articles}
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(scratch) / 'live.db'}",
            collect={"fetch_full_text": False},
        )
        database = Database(settings.database_url)
        await database.migrate()
        started = time.perf_counter()
        await ingest([str(stories_dev.STORIES_DEV / "feeds")], database=database, settings=settings)
        now = datetime.now(UTC)
        async with database.sessions.begin() as session:
            newest = await session.scalar(select(func.max(Article.published_at)))
            assert newest is not None
            shift = now - timedelta(hours=1) - newest.replace(tzinfo=UTC)
            for article_id, published in await session.execute(select(Article.id, Article.published_at)):
                if published is not None:
                    await session.execute(
                        update(Article).where(Article.id == article_id).values(published_at=published + shift)
                    )
        enricher = Enricher(settings)
        await enrich_pending(database=database, enricher=enricher, batch_size=128)
        enricher.close()
        async with database.sessions.begin() as session:  # each article ready when it was published
            await session.execute(
                update(Article)
                .where(Article.published_at.is_not(None))
                .values(ready_at=Article.published_at)
                .execution_options(synchronize_session=False)
            )
            rows = list(await session.execute(select(Article.url, Article.source_name, Article.ready_at)))
        window_start = now - timedelta(hours=24)
        digest = await digest_now(database, DigestFilters(since=window_start, until=now, max_items=ITEMS))
        await database.dispose()
        seconds = time.perf_counter() - started
    in_window: dict[str, set[str]] = defaultdict(set)
    for url, source, ready in rows:
        event = event_of.get(canonical_url(url) or url or "")
        if event and ready is not None and ready.replace(tzinfo=UTC) >= window_start:
            in_window[event].add(outlet_of_source.get(source, source))
    top = sorted(in_window, key=lambda e: (-len(in_window[e]), e))[:TOP_EVENTS]
    shown: list[dict[str, Any]] = []
    for item in digest.items:
        events = Counter(event_of.get(c.url or "") for c in item.articles if event_of.get(c.url or ""))
        event = events.most_common(1)[0][0] if events else None
        credited = {outlet_of_source.get(c.source, c.source) for c in item.articles}
        reported = in_window.get(event, set()) if event else set()
        shown.append({
            "title": item.title,
            "event": event,
            "outlets_credited": len(credited),
            "event_outlets_in_window": len(reported),
            "credit_share": round(len(credited & reported) / len(reported), 2) if reported else None,
        })  # fmt: skip
    events_shown = [s["event"] for s in shown if s["event"]]
    shares = [s["credit_share"] for s in shown if s["credit_share"] is not None]
    return {
        "window_events": len(in_window),
        "top_events": [{"event": e, "outlets": len(in_window[e])} for e in top],
        "top_events_shown": sum(1 for e in top if e in events_shown),
        "events_shown_twice": sorted(e for e, n in Counter(events_shown).items() if n > 1),
        "items_below_60pct_credit": sum(1 for share in shares if share < 0.6),
        "header": f"{digest.shown} of {digest.matched} stories",
        "items": shown,
        "seconds": round(seconds, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Print the checks as JSON."""
    argparse.ArgumentParser(description=__doc__).parse_args()
    print(json.dumps(asyncio.run(run())))


if __name__ == "__main__":
    main()
