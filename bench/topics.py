"""Topic tagging on BBC News: its five labels mapped to the taxonomy where they map.

business -> economy and markets, politics -> elections and politics, tech -> technology and AI;
sport and entertainment map to no topic. For each mapped topic: precision (of the articles tagged
with it, how many carry the label) and recall (of the labelled articles, how many were tagged).
Run: .venv/bin/python -m bench.topics [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time

from bench.corpus import BBC
from digests.services.enrichment import Enricher
from digests.settings import Settings

MAPPING = {"business": "economy and markets", "politics": "elections and politics", "tech": "technology and AI"}


def evaluate(limit: int | None = None) -> dict:
    """Return per-topic precision and recall, and the micro average over the mapped topics."""
    rows = [json.loads(line) for line in BBC.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    enricher = Enricher(Settings())
    started = time.perf_counter()
    tagged: list[set[str]] = []
    for start in range(0, len(rows), 64):
        batch = rows[start : start + 64]
        tagged.extend({t.name for t in tags.topics} for tags in enricher.tag([(r["title"], r["text"]) for r in batch]))
    seconds = time.perf_counter() - started
    result: dict = {"input": "shared/data/bbc-news-summary.jsonl", "articles": len(rows), "topics": {}}
    tp_all = fp_all = fn_all = 0
    for label, topic in MAPPING.items():
        tp = sum(1 for r, t in zip(rows, tagged, strict=True) if r["topic"] == label and topic in t)
        fp = sum(1 for r, t in zip(rows, tagged, strict=True) if r["topic"] != label and topic in t)
        fn = sum(1 for r, t in zip(rows, tagged, strict=True) if r["topic"] == label and topic not in t)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        result["topics"][topic] = {
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        }
    precision = tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0
    recall = tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0
    result["micro"] = {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0,
    }
    unmapped = [t for r, t in zip(rows, tagged, strict=True) if r["topic"] in ("sport", "entertainment")]
    share = sum(1 for t in unmapped if not t) / len(unmapped) if unmapped else None
    result["sport_and_entertainment_with_no_topic"] = round(share, 3) if share is not None else None
    result["articles_per_second"] = round(len(rows) / seconds, 1)
    return result


def main() -> None:
    """Print the topic figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    if not BBC.exists():
        raise SystemExit(f"{BBC} is absent")
    print(json.dumps(evaluate(parser.parse_args().limit)))


if __name__ == "__main__":
    main()
