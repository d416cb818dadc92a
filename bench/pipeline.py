"""The whole pipeline on 1,000 articles (ingest and sectionize, summarize, tag, place in stories) against its
yardstick: one plain fp32 PyTorch pass of the same encoder over the same sentences, timed in the same run.

Run: .venv/bin/python -m bench.pipeline [--count 1000] [--runtime onnx|torch] [--plain]

The yardstick runs in a child process, so the pipeline's peak memory is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.common import in_child, peak_rss_mb
from bench.corpus import write_article_folder
from digests.services.collection import ingest
from digests.services.enrichment import Enricher, enrich_pending
from digests.settings import Settings
from digests.store.db import Database
from digests.text import sentences_of


async def run(count: int, *, int8: bool, runtime: str, yardstick: bool = True) -> dict:
    """Ingest ``count`` article files, then summarize, tag and place them all."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        origin = write_article_folder(root / "articles", count)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{root / 'p.db'}",
            summarize={"encoder_int8": int8, "encoder_runtime": runtime},
        )
        database = Database(settings.database_url)
        await database.migrate()
        enricher = Enricher(settings)
        enricher.encoder.encode(["warm up"])  # load the model outside the timed stages
        loaded_mb = peak_rss_mb()
        started = time.perf_counter()
        ingested = await ingest([str(root / "articles")], database=database, settings=settings)
        ingest_seconds = time.perf_counter() - started
        report = await enrich_pending(database=database, enricher=enricher, batch_size=128)
        total = time.perf_counter() - started
        async with database.sessions() as session:
            from sqlalchemy import text

            texts = [row[0] for row in await session.execute(text("SELECT text FROM sections"))]
        encoded = enricher.encoder.encoded - 1
        enricher.close()
        await database.dispose()
        sentences = [s for section in texts for s in sentences_of(section)]
        pass_seconds = None
        if yardstick:
            listing = root / "sentences.json"
            listing.write_text(json.dumps(sentences), encoding="utf-8")
            pass_seconds = in_child("bench.pipeline", "--yardstick", str(listing))["seconds"]
    stages = {
        "ingest_and_sectionize": ingest_seconds,
        "summarize": report.summarize_seconds,
        "tag": report.tag_seconds,
        "stories": report.story_seconds,
    }
    enrich = report.seconds
    return {
        "input": origin,
        "articles": ingested.new,
        "sections": report.sections_summarized,
        "sentences": len(sentences),
        "texts_encoded": encoded,
        "seconds": round(total, 1),
        "articles_per_second": round(ingested.new / total, 2),
        "stage_share": {name: round(seconds / total, 3) for name, seconds in stages.items()},
        "stage_seconds": {name: round(seconds, 1) for name, seconds in stages.items()},
        "enrich_seconds": round(enrich, 1),
        "fp32_pass_seconds": pass_seconds,
        "enrich_over_pass": round(enrich / pass_seconds, 2) if pass_seconds else None,
        "encoder_int8": int8,
        "runtime": runtime,
        "rss_after_load_mb": loaded_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def fp32_pass(listing: Path) -> dict:
    """Time one plain fp32 PyTorch pass of the bundled encoder over the listed sentences (the yardstick)."""
    from digests.inference import SentenceEncoder

    sentences = json.loads(listing.read_text(encoding="utf-8"))
    encoder = SentenceEncoder(runtime="torch", batch_size=32)
    encoder.encode(["warm up"])
    started = time.perf_counter()
    encoder.encode(sentences)
    return {"sentences": len(sentences), "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    """Print the pipeline figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--plain", action="store_true", help="Use the plain (not int8) encoder.")
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--no-yardstick", action="store_true", help="Skip the fp32 pass.")
    parser.add_argument("--yardstick", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.yardstick:
        print(json.dumps(fp32_pass(args.yardstick)))
        sys.exit(0)
    figures = asyncio.run(run(args.count, int8=not args.plain, runtime=args.runtime, yardstick=not args.no_yardstick))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
