"""Story clustering quality: pairwise precision and recall on hand-labelled same-event sets, with baselines.

Run: .venv/bin/python -m bench.stories [--grid]

Labels (bench/labels/): the first 1,500 Reuters ModApte training stories (the set the thresholds were chosen
on) and the 510 BBC business articles (a second outlet, not used for choosing anything). Pairs inside a '?'
group are not scored. Articles arrive in file order, one minute apart, and the same StoryMatcher the
pipeline uses places them. Baselines: exact-title merging, and a single cosine threshold on the same
embeddings (the threshold with the best F1 on Reuters, applied unchanged to BBC).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import peak_rss_mb
from bench.corpus import SHARED_DATA
from digests.inference import build_encoder
from digests.settings import Settings, StorySettings
from digests.stories import Incoming, StoryMatcher, event_text

LABELS = Path(__file__).resolve().parent / "labels"
SETS = {
    "reuters": ("reuters-modapte-train.jsonl", 1500, "events-reuters.txt"),
    "bbc_business": ("bbc-news-summary.jsonl", 510, "events-bbc-business.txt"),
}
Pair = tuple[int, int]


def load(name: str) -> tuple[list[dict], set[Pair], set[Pair]]:
    """Return the articles of a labelled set and its same-event and unsure pairs (by position)."""
    data, count, labels = SETS[name]
    with (SHARED_DATA / data).open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in itertools.islice(handle, count)]
    position = {row["id"]: i for i, row in enumerate(rows)}
    same: set[Pair] = set()
    unsure: set[Pair] = set()
    for line in (LABELS / labels).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        mark, *ids = line.split()
        members = sorted(position[i] for i in ids)
        (same if mark == "=" else unsure).update(itertools.combinations(members, 2))
    return rows, same, unsure - same


def pairwise(groups: list[list[int]], same: set[Pair], unsure: set[Pair]) -> dict[str, float]:
    """Return pairwise precision, recall and F1 of ``groups`` against the labels."""
    predicted = {p for g in groups for p in itertools.combinations(sorted(g), 2)} - unsure
    hits = len(predicted & same)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(same) if same else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3), "pairs": len(predicted)}


def cluster(rows: list[dict], vectors: np.ndarray, settings: StorySettings) -> tuple[list[list[int]], float]:
    """Place the articles one batch of 64 at a time, as the pipeline does; return groups and seconds."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    matcher = StoryMatcher(settings)
    from digests.stories import Member, WindowStory

    stories: dict[int, list[int]] = {}
    window: dict[int, WindowStory] = {}
    started = time.perf_counter()
    for first in range(0, len(rows), 64):
        batch = [
            Incoming(i, rows[i]["title"], vectors[i], start + timedelta(minutes=i))
            for i in range(first, min(first + 64, len(rows)))
        ]
        fresh: dict[int, int] = {}
        for placement in matcher.place(batch, list(window.values())):
            story = placement.story_id
            if story is None:
                assert placement.new_group is not None
                story = fresh.setdefault(placement.new_group, placement.article_id)
                window.setdefault(story, WindowStory(story, []))
            stories.setdefault(story, []).append(placement.article_id)
            article = rows[placement.article_id]
            window[story].members.append(Member(article["title"], vectors[placement.article_id]))
    return list(stories.values()), time.perf_counter() - started


def exact_titles(rows: list[dict]) -> list[list[int]]:
    """Baseline: articles with the same title (case and punctuation aside) are one story."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(" ".join(re.findall(r"\w+", row["title"].casefold())), []).append(i)
    return list(groups.values())


def cosine_groups(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Baseline: each article joins the earlier article it is most similar to, if at or above ``threshold``."""
    similarity = vectors @ vectors.T
    owner = list(range(len(vectors)))
    for i in range(1, len(vectors)):
        j = int(np.argmax(similarity[i, :i]))
        if similarity[i, j] >= threshold:
            owner[i] = owner[j]
    groups: dict[int, list[int]] = {}
    for i, root in enumerate(owner):
        groups.setdefault(root, []).append(i)
    return list(groups.values())


def run(grid: bool = False) -> dict[str, Any]:
    """Score the matcher and both baselines on every labelled set."""
    if not (SHARED_DATA / SETS["reuters"][0]).exists():
        return {"skipped": "shared data absent"}
    settings = Settings()
    encoder = build_encoder(settings.summarize)
    data = {}
    for name in SETS:
        rows, same, unsure = load(name)
        vectors = encoder.encode([event_text(r["title"], r["text"]) for r in rows])
        data[name] = (rows, same, unsure, vectors)
    thresholds = [round(0.6 + 0.025 * k, 3) for k in range(15)]
    rows, same, unsure, vectors = data["reuters"]
    tuned = max(thresholds, key=lambda t: pairwise(cosine_groups(vectors, t), same, unsure)["f1"])
    out: dict[str, Any] = {"settings": settings.stories.model_dump(), "cosine_baseline_threshold": tuned}
    for name, (rows, same, unsure, vectors) in data.items():
        groups, seconds = cluster(rows, vectors, settings.stories)
        out[name] = {
            "articles": len(rows),
            "same_event_pairs": len(same),
            "stories": pairwise(groups, same, unsure),
            "exact_title": pairwise(exact_titles(rows), same, unsure),
            "single_cosine": pairwise(cosine_groups(vectors, tuned), same, unsure),
            "articles_per_second": round(len(rows) / seconds, 1),
        }
    if grid:
        out["grid"] = [
            {
                "min_cosine": c,
                "min_title_overlap": o,
                **{
                    n: pairwise(
                        cluster(
                            d[0], d[3], settings.stories.model_copy(update={"min_cosine": c, "min_title_overlap": o})
                        )[0],
                        d[1],
                        d[2],
                    )
                    for n, d in data.items()
                },
            }
            for c in (0.6, 0.65, 0.7, 0.75, 0.8)
            for o in (0.2, 0.3, 0.4, 0.5)
        ]
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grid", action="store_true", help="also score a grid of thresholds")
    print(json.dumps(run(parser.parse_args().grid)))


if __name__ == "__main__":
    main()
