"""Where the memory goes: resident memory after each thing a running Sitrep loads, in the order it loads them.

Run: .venv/bin/python -m bench.memory
Each step's figure is the process's resident set (not the peak) right after the step, so the differences
say what each part costs. Then summarize-pending runs over 300 articles and the peak is reported.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from bench.common import peak_rss_mb


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def run(count: int = 300) -> dict:
    """Load Sitrep piece by piece, then enrich ``count`` articles; return the resident memory after each."""
    steps: dict[str, float] = {"python": _rss_mb()}
    import digests.app  # noqa: F401  (everything `sitrep run` imports)

    steps["imports"] = _rss_mb()
    from bench.corpus import write_article_folder
    from digests.services.collection import ingest
    from digests.services.enrichment import Enricher, enrich_pending
    from digests.settings import Settings
    from digests.store.db import Database
    from digests.tagging.language import detect_language

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = Settings(database_url=f"sqlite+aiosqlite:///{root / 'm.db'}")
        database = Database(settings.database_url)
        await database.migrate()
        steps["database"] = _rss_mb()
        enricher = Enricher(settings)
        enricher.encoder.encode(["warm up"])
        steps["sentence encoder"] = _rss_mb()
        detect_language("A title", "Some text long enough to say which language it is in.")
        steps["language identifier"] = _rss_mb()
        enricher.topics.tag([("Energy prices", "Oil prices rose.")])
        steps["topic tagger"] = _rss_mb()
        enricher.countries.tag("Japan", "Japan and Britain signed a pact.")
        steps["country tagger"] = _rss_mb()
        write_article_folder(root / "articles", count)
        await ingest([str(root / "articles")], database=database, settings=settings)
        report = await enrich_pending(database=database, enricher=enricher, batch_size=64)
        steps[f"summarize-pending, {report.articles_tagged} articles"] = _rss_mb()
        enricher.close()
        await database.dispose()
    return {"resident_mb": steps, "peak_rss_mb": peak_rss_mb(), "runtime": enricher.encoder.runtime}


def main() -> None:
    """Print the memory figures as JSON."""
    print(json.dumps(asyncio.run(run())))


if __name__ == "__main__":
    main()
