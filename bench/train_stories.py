"""Train the story pair scorer on real multi-outlet coverage, and measure story clustering where it was not tuned.

The scorer (``digests/stories/pair-model.json``) is a logistic regression over ``PairScorer.FEATURES``,
computed by the product's own code on every pair of a labelled article with any other article of
``shared/data/stories-dev`` (pairs with loose articles and across "don't care" stories left out; unlabelled
articles are other events), and the labelled Reuters pairs that placement would score (see
``reuters_table``). Word rarity counts each article once, as the matcher's window does.

``--evaluate`` scores clustering on data the scorer did not see:
- by event: 5 folds of the labelled stories (three shuffles); the scorer is trained on the pairs of the other
  folds and the whole set is placed, in time order and batches, as the pipeline places it; only pairs with an
  article of the held-out fold are scored;
- by day: trained on the articles of the first snapshot (fetched 2021-09-18), scored on the pairs among the
  articles published after it.

Run: .venv/bin/python -m bench.train_stories [--evaluate] [--write]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench import stories_dev
from bench.corpus import SHARED_DATA
from bench.stories import place_in_batches
from digests.inference import build_encoder
from digests.settings import Settings, StorySettings
from digests.stories import Member, event_text, lead_of
from digests.stories.cluster import PAIR_MODEL_FILE, PairModel, PairScorer, Rarity

Pair = tuple[int, int]
# How much the Reuters pairs weigh against stories-dev's, per same-event pair (1: as much). More makes the
# scorer stricter on one wire's templated reports and costs recall on multi-outlet coverage (see BENCHMARKS.md).
EXTRA_WEIGHT = 0.1


def pair_table(
    articles: list[stories_dev.DevArticle], members: list[Member], vectors: np.ndarray, dontcare: set
) -> tuple[np.ndarray, np.ndarray, list[Pair]]:
    """Return the features, labels and positions of every training pair."""
    rarity = Rarity(m.terms for m in members)
    cosines = vectors @ vectors.T
    rows, labels, pairs = [], [], []
    labelled = [i for i, a in enumerate(articles) if a.story and not a.loose]
    for i in labelled:
        for j in range(len(articles)):
            other = articles[j]
            if j == i or other.loose or (other.story and j < i):
                continue
            if other.story and frozenset((articles[i].story, other.story)) in dontcare:
                continue
            rows.append(PairScorer.features(members[i], members[j], float(cosines[i, j]), rarity))
            labels.append(int(other.story == articles[i].story))
            pairs.append((min(i, j), max(i, j)))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels), pairs


def reuters_table(encoder: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the features and labels of the labelled Reuters pairs that placement would score (cosine at least
    the candidate floor): one outlet's templated reports ("4th qtr net"), which look alike and are not one
    event, so the scorer learns that closeness alone is not enough."""
    from bench.stories import SETS, load

    if not (SHARED_DATA / SETS["reuters"][0]).exists():
        return None
    rows, same, unsure = load("reuters")
    vectors = encoder.encode([event_text(r["title"], r["text"]) for r in rows])
    members = [Member(r["title"], v, lead_of(r["text"]), "Reuters") for r, v in zip(rows, vectors, strict=True)]
    rarity = Rarity(m.terms for m in members)
    cosines = vectors @ vectors.T
    floor = Settings().stories.min_cosine
    features, labels = [], []
    for i, j in zip(*np.nonzero(np.triu(cosines >= floor, k=1)), strict=True):
        pair = (int(i), int(j))
        if pair in unsure:
            continue
        features.append(PairScorer.features(members[i], members[j], float(cosines[i, j]), rarity))
        labels.append(int(pair in same))
    return np.asarray(features, dtype=np.float64), np.asarray(labels)


def fit(features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> PairModel:
    """Fit the logistic scorer (scikit-learn, an offline tool: the product reads the weights only)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=2000).fit(features, labels, sample_weight=weights)
    return PairModel(tuple(round(float(w), 6) for w in model.coef_[0]), round(float(model.intercept_[0]), 6))


def _totals(runs: list[dict[str, Any]]) -> dict[str, float]:
    hits = sum(r["true_pairs"] for r in runs)
    wrong = sum(r["false_pairs"] for r in runs)
    missed = sum(r["missed_pairs"] for r in runs)
    precision = hits / (hits + wrong) if hits + wrong else 1.0
    recall = hits / (hits + missed) if hits + missed else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "true_pairs": hits, "false_pairs": wrong, "missed_pairs": missed}  # fmt: skip


class Data:
    """The set, encoded once."""

    def __init__(self, settings: Settings) -> None:
        loaded = stories_dev.load()
        if loaded is None:
            raise SystemExit("shared/data/stories-dev is absent")
        self.articles, self.dontcare = loaded
        encoder = build_encoder(settings.summarize)
        self.titles = [a.title for a in self.articles]
        self.leads = [lead_of(a.text) for a in self.articles]
        self.vectors = encoder.encode([event_text(a.title, a.text) for a in self.articles])
        self.sources = [a.source for a in self.articles]
        self.members = [
            Member(t, v, lead, source)
            for t, v, lead, source in zip(self.titles, self.vectors, self.leads, self.sources, strict=True)
        ]
        self.features, self.labels, self.pairs = pair_table(self.articles, self.members, self.vectors, self.dontcare)
        # Reuters pairs are always trained on; folds and days split stories-dev alone.
        self.extra = reuters_table(encoder) if EXTRA_WEIGHT else None
        self.same, self.different = stories_dev.scored_pairs(self.articles, self.dontcare)
        self.times = [a.at for a in self.articles]

    def fit(self, chosen: np.ndarray) -> PairModel:
        """Fit the scorer on the chosen stories-dev pairs and every Reuters pair."""
        features, labels = self.features[chosen], self.labels[chosen]
        weights = np.ones(len(labels))
        if self.extra is not None:  # each set weighs as much as the other's same-event pairs
            share = labels.sum() / max(self.extra[1].sum(), 1)
            features = np.concatenate([features, self.extra[0]])
            labels = np.concatenate([labels, self.extra[1]])
            weights = np.concatenate([weights, np.full(len(self.extra[1]), share * EXTRA_WEIGHT)])
        return fit(features, labels, weights)

    def groups(self, settings: StorySettings, model: PairModel) -> list[list[int]]:
        return place_in_batches(
            self.titles, self.leads, self.vectors, settings, times=self.times, sources=self.sources, model=model
        )[0]


def by_event(data: Data, settings: StorySettings, *, folds: int = 5, seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """Cross-validate by event: the scorer never saw the held-out stories' pairs."""
    names = sorted({a.story for a in data.articles if a.story})
    runs = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(names))
        fold_of = {name: int(rank % folds) for name, rank in zip(names, order, strict=True)}
        touches = [{fold_of[s] for k in pair if (s := data.articles[k].story)} for pair in data.pairs]
        for fold in range(folds):
            train = np.asarray([fold not in t for t in touches])
            model = data.fit(train)
            held = {i for i, a in enumerate(data.articles) if a.story and fold_of[a.story] == fold}
            runs.append(stories_dev.score(data.groups(settings, model), data.same, data.different, only=held))
    return _totals(runs)


def by_day(data: Data, settings: StorySettings) -> dict:
    """Train on the first snapshot's articles, score the pairs among the articles published after it."""
    cut = datetime(2021, 9, 18, 19, 13, tzinfo=UTC)
    early = [data.articles[i].at <= cut and data.articles[j].at <= cut for i, j in data.pairs]
    model = data.fit(np.asarray(early))
    late = {i for i, a in enumerate(data.articles) if a.at > cut}
    same = {p for p in data.same if p[0] in late and p[1] in late}
    different = {p for p in data.different if p[0] in late and p[1] in late}
    scored = stories_dev.score(data.groups(settings, model), same, different)
    return {**scored, "scored_pairs_same": len(same)}


def main() -> None:
    """Train (and write with --write) the pair scorer; with --evaluate, score clustering held out."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluate", action="store_true", help="cross-validate by event and by day")
    parser.add_argument("--write", action="store_true", help=f"write {PAIR_MODEL_FILE.name}")
    parser.add_argument("--set", action="append", default=[], help="a story setting to try, e.g. join_mean=0.1")
    args = parser.parse_args()
    settings = Settings()
    stories = settings.stories.model_copy(update={k: float(v) for k, v in (s.split("=") for s in args.set)})
    data = Data(settings)
    model = data.fit(np.ones(len(data.labels), dtype=bool))
    out: dict[str, Any] = {
        "features": list(PairScorer.FEATURES),
        "weights": list(model.weights),
        "bias": model.bias,
        "pairs": len(data.labels),
        "same_event_pairs": int(data.labels.sum()),
    }
    if args.evaluate:
        out["settings"] = stories.model_dump()
        out["by_event"] = by_event(data, stories)
        out["by_day"] = by_day(data, stories)
        out["in_sample"] = stories_dev.score(data.groups(stories, model), data.same, data.different)
    if args.write:
        written = {k: out[k] for k in ("features", "weights", "bias", "pairs", "same_event_pairs")}
        written["trained_on"] = "stories-dev and the labelled Reuters pairs (python -m bench.train_stories --write)"
        PAIR_MODEL_FILE.write_text(json.dumps(written, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
