"""Story clustering quality: pairwise precision and recall on hand-labelled same-event sets, with baselines.

Run: .venv/bin/python -m bench.stories

Labels: shared/data/stories-dev (real multi-outlet feeds; the pair scorer is trained on it, so this figure is
in-sample: ``python -m bench.train_stories --evaluate`` gives the held-out ones), and in bench/labels/ the
first 1,500 Reuters ModApte training stories (one wire; its pairs weigh a little in the scorer's training) and
the 510 BBC business articles (one outlet the scorer never saw). Pairs inside a '?' group are not scored.
Articles arrive in file order, one minute apart, and the same StoryMatcher the pipeline uses places them, a
batch of 64 at a time, merges included. Baselines: exact-title merging, and a single cosine threshold on the
same embeddings (the threshold with the best F1 on Reuters, applied unchanged to BBC).
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

from bench import stories_dev
from bench.common import peak_rss_mb
from bench.corpus import SHARED_DATA
from digests.inference import build_encoder
from digests.settings import Settings, StorySettings
from digests.stories import Incoming, Member, StoryMatcher, WindowStory, event_text, lead_of
from digests.stories.cluster import PairModel

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


def place_in_batches(
    titles: list[str],
    leads: list[str],
    vectors: np.ndarray,
    settings: StorySettings,
    *,
    times: list[datetime] | None = None,
    sources: list[str] | None = None,
    model: PairModel | None = None,
    batch: int = 64,
) -> tuple[list[list[int]], float]:
    """Place articles (in list order) a batch at a time, as the pipeline does, merges included; return the
    groups (positions) and the seconds placement took. Without ``times`` articles come a minute apart."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = times or [start + timedelta(minutes=i) for i in range(len(titles))]
    sources = sources or ["one outlet"] * len(titles)
    matcher = StoryMatcher(settings, model)
    quiet = timedelta(hours=settings.quiet_hours)
    stories: dict[int, list[int]] = {}
    window: dict[int, WindowStory] = {}
    last: dict[int, datetime] = {}
    started = time.perf_counter()
    for first in range(0, len(titles), batch):
        positions = range(first, min(first + batch, len(titles)))
        incoming = [Incoming(i, titles[i], vectors[i], times[i], leads[i], sources[i]) for i in positions]
        since = min(times[i] for i in positions) - quiet
        placed = matcher.place(incoming, [w for sid, w in window.items() if last[sid] >= since])
        fresh: dict[int, int] = {}
        for placement in placed.placements:
            story = placement.story_id
            if story is None:
                assert placement.new_group is not None
                story = fresh.setdefault(placement.new_group, placement.article_id)
                window.setdefault(story, WindowStory(story, []))
            stories.setdefault(story, []).append(placement.article_id)
            at = placement.article_id
            window[story].members.append(Member(titles[at], vectors[at], leads[at], sources[at]))
            last[story] = max(last.get(story, times[placement.article_id]), times[placement.article_id])
        for merge in placed.merges:
            stories[merge.into] += stories.pop(merge.story_id)
            window[merge.into].members[:0] = window.pop(merge.story_id).members
            last[merge.into] = max(last[merge.into], last.pop(merge.story_id))
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


def run() -> dict[str, Any]:
    """Score the matcher on real multi-outlet coverage (stories-dev) and on the single-outlet sets, with
    baselines on the latter."""
    if not (SHARED_DATA / SETS["reuters"][0]).exists():
        return {"skipped": "shared data absent"}
    settings = Settings()
    encoder = build_encoder(settings.summarize)
    out: dict[str, Any] = {"settings": settings.stories.model_dump()}
    loaded = stories_dev.load()
    if loaded is not None:  # the scorer was trained on this set: bench.train_stories --evaluate holds it out
        articles, dontcare = loaded
        same, different = stories_dev.scored_pairs(articles, dontcare)
        leads = [lead_of(a.text) for a in articles]
        vectors = encoder.encode([event_text(a.title, a.text) for a in articles])
        groups, seconds = place_in_batches(
            [a.title for a in articles],
            leads,
            vectors,
            settings.stories,
            times=[a.at for a in articles],
            sources=[a.source for a in articles],
        )
        out["stories_dev_in_sample"] = {
            "articles": len(articles),
            "stories": stories_dev.score(groups, same, different),
            "articles_per_second": round(len(articles) / seconds, 1),
        }
    data = {}
    for name in SETS:
        rows, same_pairs, unsure = load(name)
        vectors = encoder.encode([event_text(r["title"], r["text"]) for r in rows])
        data[name] = (rows, same_pairs, unsure, vectors)
    thresholds = [round(0.6 + 0.025 * k, 3) for k in range(15)]
    rows, same_pairs, unsure, vectors = data["reuters"]
    tuned = max(thresholds, key=lambda t: pairwise(cosine_groups(vectors, t), same_pairs, unsure)["f1"])
    out["cosine_baseline_threshold"] = tuned
    for name, (rows, same_pairs, unsure, vectors) in data.items():
        titles = [r["title"] for r in rows]
        groups, seconds = place_in_batches(titles, [lead_of(r["text"]) for r in rows], vectors, settings.stories)
        out[name] = {
            "articles": len(rows),
            "same_event_pairs": len(same_pairs),
            "stories": pairwise(groups, same_pairs, unsure),
            "exact_title": pairwise(exact_titles(rows), same_pairs, unsure),
            "single_cosine": pairwise(cosine_groups(vectors, tuned), same_pairs, unsure),
            "articles_per_second": round(len(rows) / seconds, 1),
        }
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> None:
    """Print the figures as JSON."""
    argparse.ArgumentParser(description=__doc__).parse_args()
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
