"""Real multi-outlet coverage for story clustering: the shared ``stories-dev`` set, read as Sitrep reads feeds.

Each feed snapshot is parsed by the collector's own parser, so titles, text and canonical URLs are what the
store would hold. An entry seen in both snapshots of a channel is kept once (its first snapshot). Entries
without a date are dated at their snapshot's commit time (the time the feed was fetched).

Scoring follows the set's README: pairwise precision and recall over labelled articles; pairs across a
"don't care" pair of stories and pairs with a loose article are not scored; unlabelled articles are noise.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.corpus import SHARED_DATA
from digests.collect.identity import canonical_url
from digests.collect.parse import parse_feed
from digests.collect.sectionize import Sectionizer
from digests.settings import Settings

STORIES_DEV = SHARED_DATA / "stories-dev"
# When each snapshot was committed (its README): entries without a date are dated then.
_SNAPSHOTS = {
    "2021-09-18": datetime(2021, 9, 18, 19, 13, tzinfo=UTC),
    "2021-09-19": datetime(2021, 9, 19, 23, 35, tzinfo=UTC),
    "2021-09-20": datetime(2021, 9, 20, 22, 47, tzinfo=UTC),
}


@dataclass(slots=True)
class DevArticle:
    """One entry of the set: what Sitrep would store of it, and its label."""

    url: str
    title: str
    text: str
    source: str
    outlet: str
    at: datetime
    story: str | None = None  # the labelled story, if any
    loose: bool = False


def outlet_of(filename: str) -> str:
    """Return the outlet a feed file belongs to (``cnn-youtube-...`` and ``cnn-international-...`` are CNN)."""
    return filename.split("-")[0]


def load() -> tuple[list[DevArticle], set[frozenset[str]]] | None:
    """Return the set's articles in time order and its "don't care" story pairs, or None when it is absent."""
    labels_path = STORIES_DEV / "labels.json"
    if not labels_path.exists():
        return None
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    sectionizer = Sectionizer(Settings().sections)
    found: dict[str, DevArticle] = {}
    for path in sorted((STORIES_DEV / "feeds").glob("*.xml"), key=lambda p: (p.stem[-10:], p.name)):
        fetched = _SNAPSHOTS[path.stem[-10:]]
        document = parse_feed(path.read_bytes(), location=str(path), sectionizer=sectionizer, teaser_chars=600)
        for article in document.articles:
            if not article.url or article.url in found:
                continue
            at = article.published_at if article.published_at and article.published_at <= fetched else fetched
            found[article.url] = DevArticle(
                article.url, article.title, article.text, article.source_name, outlet_of(path.name), at
            )
    for name, members in labels["stories"].items():
        for member in members:
            found[canonical_url(member["url"]) or member["url"]].story = name
    for member in labels["loose"]:
        found[canonical_url(member["url"]) or member["url"]].loose = True
    dontcare = {frozenset(pair) for pair in labels["dontcare_story_pairs"]}
    return sorted(found.values(), key=lambda a: (a.at, a.url)), dontcare


def scored_pairs(articles: list[DevArticle], dontcare: set[frozenset[str]]) -> tuple[set[tuple[int, int]], set]:
    """Return the scored pairs (by position) that are one story, and those that are two."""
    labelled = [i for i, a in enumerate(articles) if a.story and not a.loose]
    same, different = set(), set()
    for i, j in itertools.combinations(labelled, 2):
        left, right = articles[i].story, articles[j].story
        if left == right:
            same.add((i, j))
        elif frozenset((left, right)) not in dontcare:
            different.add((i, j))
    return same, different


def score(groups: list[list[int]], same: set, different: set, *, only: set[int] | None = None) -> dict[str, float]:
    """Pairwise precision, recall and F1 of ``groups``; with ``only``, pairs touching those positions alone."""
    predicted = {p for g in groups for p in itertools.combinations(sorted(g), 2)}
    if only is not None:
        same = {p for p in same if p[0] in only or p[1] in only}
        different = {p for p in different if p[0] in only or p[1] in only}
    hits = len(predicted & same)
    wrong = len(predicted & different)
    precision = hits / (hits + wrong) if hits + wrong else 1.0
    recall = hits / len(same) if same else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "true_pairs": hits, "false_pairs": wrong, "missed_pairs": len(same) - hits}  # fmt: skip


def present() -> bool:
    """Say whether the shared set is here."""
    return (STORIES_DEV / "labels.json").exists()
