"""The whole pipeline on 1,000 articles: ingest and sectionize, summarize, tag; share of time per stage.

Run: .venv/bin/python -m bench.pipeline [--count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.common import peak_rss_mb
from bench.corpus import write_article_folder
from digests.services.collection import ingest
from digests.services.enrichment import Enricher, summarize_pending
from digests.settings import Settings
from digests.store.db import Database


async def run(count: int, *, int8: bool = True) -> dict:
    """Ingest ``count`` article files, then summarize and tag them all."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        origin = write_article_folder(root / "articles", count)
        settings = Settings(database_url=f"sqlite+aiosqlite:///{root / 'p.db'}", summarize={"encoder_int8": int8})
        database = Database(settings.database_url)
        await database.migrate()
        enricher = Enricher(settings)
        enricher.encoder.encode(["warm up"])  # load the model outside the timed stages
        started = time.perf_counter()
        ingested = await ingest([str(root / "articles")], database=database, settings=settings)
        ingest_seconds = time.perf_counter() - started
        report = await summarize_pending(database=database, enricher=enricher, batch_size=128)
        total = time.perf_counter() - started
        enricher.close()
        await database.dispose()
    stages = {"ingest_and_sectionize": ingest_seconds, "summarize": report.summarize_seconds, "tag": report.tag_seconds}
    return {
        "input": origin,
        "articles": ingested.new,
        "sections": report.sections_summarized,
        "seconds": round(total, 1),
        "articles_per_second": round(ingested.new / total, 2),
        "stage_share": {name: round(seconds / total, 3) for name, seconds in stages.items()},
        "stage_seconds": {name: round(seconds, 1) for name, seconds in stages.items()},
        "encoder_int8": int8,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Print the pipeline figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--plain", action="store_true", help="Use the plain (not int8) encoder.")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.count, int8=not args.plain))))


if __name__ == "__main__":
    main()
