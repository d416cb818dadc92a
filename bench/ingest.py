"""Measure `sitrep ingest` in articles per second on a folder of article files and on the shared feeds.

Run: .venv/bin/python -m bench.ingest [--count 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import SHARED_DATA, write_article_folder


def _ingest(database: Path, targets: list[str]) -> tuple[float, dict]:
    command = [sys.executable, "-m", "digests.cli", "--database-url", f"sqlite:///{database}", "ingest", "--json"]
    started = time.perf_counter()
    done = subprocess.run([*command, *targets], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def run(count: int) -> dict:
    """Return the figures of both ingest runs."""
    results: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        origin = write_article_folder(root / "articles", count)
        wall, report = _ingest(root / "a.db", [str(root / "articles")])
        total = report["new"] + report["updated"] + report["unchanged"]
        results["folder"] = {
            "input": origin,
            "articles": total,
            "seconds_wall": round(wall, 2),
            "seconds_in_service": report["seconds"],
            "articles_per_second_wall": round(total / wall, 1),
            "articles_per_second_service": round(total / report["seconds"], 1),
        }
        wall, report = _ingest(root / "a.db", [str(root / "articles")])
        results["folder_again"] = {"unchanged": report["unchanged"], "seconds_in_service": report["seconds"]}
        feeds = SHARED_DATA / "feeds"
        if feeds.exists():
            files = sorted(str(p) for p in feeds.rglob("*") if p.is_file())
            wall, report = _ingest(root / "f.db", files)
            total = report["new"] + report["updated"] + report["unchanged"]
            results["shared_feeds"] = {
                "input": "shared/data/feeds",
                "files": len(files),
                "articles": total,
                "errors": len(report["errors"]),
                "seconds_wall": round(wall, 2),
                "seconds_in_service": report["seconds"],
                "articles_per_second_service": round(total / report["seconds"], 1) if report["seconds"] else None,
            }
    return results


def main() -> None:
    """Print the ingest figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    print(json.dumps(run(parser.parse_args().count)))


if __name__ == "__main__":
    main()
