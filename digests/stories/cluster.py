"""Online story clustering: each new article joins the open story it matches, or starts its own.

Whether two articles tell one event is a probability from a small learned pair scorer (``pair-model.json``,
trained by ``python -m bench.train_stories`` on real multi-outlet coverage) over three signals: the cosine of
their title-and-lead embeddings, the share of their headlines' distinctive words they have in common, and the
overlap of the words of their titles and leads, each word weighted by its rarity among the window's events
(so "4th qtr net" shared by two company reports counts for little and "Purolator" for much).

An article joins the open story whose members it pairs with best, as long as it also pairs, on average, with
the story's most recent members: one look-alike member is not enough, which keeps a story from drifting from
one event to the next by chaining. When an article ties two stories together strongly enough, and their
members pair on average, the two stories are merged: one event's coverage that began as two stories (two
outlets' headlines sharing few words, say) becomes one. Nothing here touches the database.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import snowballstemmer

from digests.settings import StorySettings
from digests.text import fold_spaces

PAIR_MODEL_FILE = Path(__file__).with_name("pair-model.json")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_][\w'’]*")
_STOP = frozenset(
    """the a an of in on to for and or by with at from as is are be it its says said say over after new not
    but into about than this that will would could may has have had was were his her their our your who what
    why how when where which while more most less also just all any some out up off per vs""".split()
)  # fmt: skip
# Events seen in a window are too few to estimate rarity below this many; more are assumed unseen.
_MIN_UNITS = 200
LEAD_CHARS = 300
# Headlines with at least this many content words, identical once folded and stemmed, tell one event.
_SAME_TITLE_WORDS = 3
_CHUNK = 256  # incoming articles whose cosines to the window are computed at once

_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=200_000)
def content_words(text: str) -> frozenset[str]:
    """Return the content words of a text: case-folded, stemmed ("rates" and "rate" are one), with numbers."""
    words = set()
    for token in _TOKEN.findall(text):
        word = token.casefold().strip("'-").removesuffix("'s").removesuffix("’s")
        if word[:1].isdigit():
            if len(word) > 1:
                words.add(word)
        elif len(word) > 2 and word not in _STOP:
            words.add(_stem(word))
    return frozenset(words)


def title_words(title: str) -> frozenset[str]:
    """Return the content words of a headline."""
    return content_words(title)


def lead_of(text: str) -> str:
    """Return the start of an article's text that its event is read from."""
    return fold_spaces(text[: LEAD_CHARS * 2])[:LEAD_CHARS]


def event_text(title: str, text: str) -> str:
    """Return what an article's event is read from: its title and the start of its text."""
    lead = lead_of(text)
    return f"{title}. {lead}" if lead else title


@dataclass(slots=True)
class Member:
    """A story member as clustering sees it: its headline, the start of its text and its event vector."""

    title: str
    vector: np.ndarray
    lead: str = ""
    source: str | None = None  # who published it, when known
    words: frozenset[str] = field(init=False)  # the headline's content words
    terms: frozenset[str] = field(init=False)  # the headline's and the lead's

    def __post_init__(self) -> None:
        self.words = content_words(self.title)
        self.terms = self.words | content_words(self.lead) if self.lead else self.words


@dataclass(slots=True)
class WindowStory:
    """An open story: its id and its most recent members, oldest first."""

    story_id: int
    members: list[Member]


@dataclass(slots=True)
class Incoming:
    """An article to place: its id, title, event vector (unit length), when it happened, its lead and source."""

    article_id: int
    title: str
    vector: np.ndarray | None
    at: datetime
    lead: str = ""
    source: str | None = None


@dataclass(slots=True, frozen=True)
class Placement:
    """Where an article went: an existing story (``story_id``) or a new one (``new_group``, shared by the batch)."""

    article_id: int
    story_id: int | None
    new_group: int | None
    similarity: float


@dataclass(slots=True, frozen=True)
class Merge:
    """An open story found to tell the same event as another: ``story_id``'s members move to ``into``."""

    story_id: int
    into: int


@dataclass(slots=True)
class Placed:
    """What a batch's placement decided: where each article went, and which stored stories merged."""

    placements: list[Placement]
    merges: list[Merge] = field(default_factory=list)


@dataclass(slots=True)
class _Cluster:
    story_id: int | None
    group: int | None
    members: list[Member]
    absorbed_by: _Cluster | None = None

    def live(self) -> _Cluster:
        """Return the cluster this one is now part of (itself unless merged)."""
        cluster = self
        while cluster.absorbed_by is not None:
            cluster = cluster.absorbed_by
        return cluster


class Rarity:
    """How many of the window's articles use each word: the open stories' members and the articles to place.

    Articles, not stories, are counted: counting a story once would make a template's words ("4th qtr net")
    rarer the more reports a wrongly grown story swallows, and so pull in more of them. An event's own name
    stays rare anyway among the thousands of articles of a real window.
    """

    def __init__(self, articles: Iterable[frozenset[str]]) -> None:
        self.df: Counter[str] = Counter()
        self.units = 0
        for words in articles:
            self.df.update(words)
            self.units += 1
        # The counts are fixed from here on: weights, and sums over a word set, are computed once each.
        self._weights: dict[str, float] = {}
        self._sums: dict[frozenset[str], float] = {}
        self._squares: dict[frozenset[str], float] = {}

    def weight(self, word: str) -> float:
        """Return a word's weight: the log of how many articles there are over how many use it."""
        found = self._weights.get(word)
        if found is None:
            found = self._weights[word] = math.log(max(self.units, _MIN_UNITS) / max(self.df[word], 1))
        return found

    def total(self, words: frozenset[str]) -> float:
        """Return the summed weight of a set of words."""
        found = self._sums.get(words)
        if found is None:
            found = self._sums[words] = sum(self.weight(w) for w in words)
        return found

    def squares(self, words: frozenset[str]) -> float:
        """Return the summed squared weight of a set of words."""
        found = self._squares.get(words)
        if found is None:
            found = self._squares[words] = sum(self.weight(w) ** 2 for w in words)
        return found

    def ceiling(self) -> float:
        """Return the weight of a word only one article uses."""
        return math.log(max(self.units, _MIN_UNITS))


@dataclass(slots=True, frozen=True)
class PairModel:
    """A logistic pair scorer: weights over ``PairScorer.FEATURES`` and a bias."""

    weights: tuple[float, ...]
    bias: float

    @classmethod
    def load(cls, path: Path = PAIR_MODEL_FILE) -> PairModel:
        """Read the committed model."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["features"] != list(PairScorer.FEATURES):
            raise ValueError(f"{path.name} was trained on other features: {data['features']}")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]))


@lru_cache(maxsize=1)
def default_model() -> PairModel:
    """Return the committed pair model (read once)."""
    return PairModel.load()


class PairScorer:
    """The probability that two articles tell one event, from their cosine and their shared rare words."""

    FEATURES = ("cosine", "title_overlap", "terms_cosine", "rarest_shared", "same_source")

    def __init__(self, model: PairModel) -> None:
        self.model = model

    @staticmethod
    def features(left: Member, right: Member, cosine: float, rarity: Rarity) -> tuple[float, ...]:
        """Return the pair's signals: embedding cosine, shared headline words, overlap of headline-and-lead words,
        how rare the rarest word they share is, and whether one source published both (one wire's templated
        reports, "X Corp 4th qtr net" and "Y Corp 4th qtr net", look alike and are two events; two outlets'
        reports that look alike are one)."""
        shared = left.terms & right.terms
        if not shared:
            return cosine, 0.0, 0.0, 0.0, float(left.source is not None and left.source == right.source)
        weights = [rarity.weight(w) for w in shared]
        return (
            cosine,
            _title_overlap(left.words, right.words, rarity),
            _terms_cosine(left.terms, right.terms, sum(w * w for w in weights), rarity),
            max(weights) / rarity.ceiling(),
            float(left.source is not None and left.source == right.source),
        )

    def probability(self, left: Member, right: Member, cosine: float, rarity: Rarity) -> float:
        """Return the probability that ``left`` and ``right`` are one event."""
        features = self.features(left, right, cosine, rarity)
        z = self.model.bias
        for weight, value in zip(self.model.weights, features, strict=True):
            z += weight * value
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def _title_overlap(left: frozenset[str], right: frozenset[str], rarity: Rarity) -> float:
    """Return the weight of the words two headlines share over the lighter headline's weight."""
    shared = left & right
    if not shared:
        return 0.0
    mass = min(rarity.total(left), rarity.total(right))
    return min(sum(rarity.weight(w) for w in shared) / mass, 1.0) if mass > 0 else 0.0


def _terms_cosine(left: frozenset[str], right: frozenset[str], shared_squares: float, rarity: Rarity) -> float:
    """Return the cosine of two word sets, each word weighted by its rarity (TF-IDF with presence for TF), given
    the summed squared weight of the words they share."""
    norm = math.sqrt(rarity.squares(left) * rarity.squares(right))
    return shared_squares / norm if norm > 0 else 0.0


class _Index:
    """Every open cluster's member vectors, and their headlines, to find candidates fast.

    The cosines of every incoming article to every member of the window, and to each other, come from two
    matrix products made once per batch (one product per article would read the whole window each time). A
    look for candidates then only thresholds a row; the members it picks are scored closely.
    """

    def __init__(self, clusters: Sequence[_Cluster], incoming: Sequence[Member], floor: float) -> None:
        self.headlines: dict[frozenset[str], list[tuple[_Cluster, Member]]] = {}
        self.rows: list[tuple[_Cluster, Member]] = []  # the cluster and member of each window row
        vectors: list[np.ndarray] = []
        for cluster in clusters:
            for member in cluster.members:
                self.headlines.setdefault(member.words, []).append((cluster, member))
                if member.vector.size:
                    self.rows.append((cluster, member))
                    vectors.append(member.vector)
        self.incoming = incoming
        self.joined: list[_Cluster | None] = [None] * len(incoming)  # the cluster each incoming article went to
        # For each incoming article: the window rows at least ``floor`` close, and which other articles are.
        # Only vectors of one size compare (after a change of model the window holds two).
        self.close = [np.zeros(0, dtype=np.int64)] * len(incoming)
        self.close_cosines = [np.zeros(0, dtype=np.float32)] * len(incoming)
        self.between = np.zeros((len(incoming), len(incoming)), dtype=np.float32)
        for size in {m.vector.size for m in incoming if m.vector.size}:
            mine = [i for i, m in enumerate(incoming) if m.vector.size == size]
            theirs = np.asarray([r for r, row in enumerate(vectors) if row.size == size], dtype=np.int64)
            queries = np.stack([incoming[i].vector for i in mine]).astype(np.float32)
            window = np.stack([vectors[r] for r in theirs]).astype(np.float32) if len(theirs) else np.zeros((0, size))
            for start in range(0, len(mine), _CHUNK):  # a chunk at a time: the cosines are never all kept
                cosines = queries[start : start + _CHUNK] @ window.T
                for i, row in zip(mine[start : start + _CHUNK], cosines, strict=True):
                    keep = row >= floor
                    self.close[i] = theirs[keep]
                    self.close_cosines[i] = row[keep]
            between = queries @ queries.T
            between[between < floor] = 0.0
            self.between[np.ix_(mine, mine)] = between

    def add(self, cluster: _Cluster, position: int) -> None:
        """Record that the incoming article at ``position`` is now a member of ``cluster``."""
        member = self.incoming[position]
        self.headlines.setdefault(member.words, []).append((cluster, member))
        if member.vector.size:
            self.joined[position] = cluster

    def candidates(self, position: int) -> list[tuple[_Cluster, Member, float]]:
        """Return the members, with their (live) clusters and cosines, at least the floor close to the incoming
        article at ``position`` or with its headline (window rows first, then the batch's earlier articles)."""
        member = self.incoming[position]
        found: dict[int, tuple[_Cluster, Member, float]] = {}
        for row, cosine in zip(self.close[position], self.close_cosines[position], strict=True):
            cluster, other = self.rows[row]
            found[id(other)] = (cluster.live(), other, float(cosine))
        for j in map(int, np.flatnonzero(self.between[position, :position])):
            if (earlier := self.joined[j]) is not None:
                found[id(self.incoming[j])] = (earlier.live(), self.incoming[j], float(self.between[position, j]))
        for cluster, other in self.headlines.get(member.words, []):
            if id(other) not in found and other.vector.size == member.vector.size and member.vector.size:
                found[id(other)] = (cluster.live(), other, float(other.vector @ member.vector))
        return list(found.values())


class StoryMatcher:
    """Decide which story each incoming article belongs to, and which open stories are one."""

    def __init__(self, settings: StorySettings, model: PairModel | None = None) -> None:
        self.settings = settings
        self.scorer = PairScorer(model or default_model())
        self.linkage = settings.linkage_members

    def place(self, incoming: Sequence[Incoming], window: Sequence[WindowStory]) -> Placed:
        """Place ``incoming`` (in time order) among the open stories and each other."""
        clusters = [_Cluster(story.story_id, None, list(story.members[-self.linkage :])) for story in window]
        ordered = sorted(incoming, key=lambda a: (a.at, a.article_id))
        members = [
            Member(a.title, a.vector if a.vector is not None else np.zeros(0), a.lead, a.source) for a in ordered
        ]
        rarity = Rarity([*(m.terms for c in clusters for m in c.members), *(m.terms for m in members)])
        index = _Index(clusters, members, self.settings.min_cosine)
        chosen: list[_Cluster] = []
        next_group = 0
        similarity: list[float] = []
        merges: list[tuple[_Cluster, _Cluster]] = []
        for position, member in enumerate(members):
            best, score, ties = self._best(member, index.candidates(position), rarity)
            if best is None:
                best = _Cluster(None, next_group, [member])
                next_group += 1
                score = 1.0
            else:
                best.members.append(member)
                del best.members[: -self.linkage]
            index.add(best, position)
            chosen.append(best)
            similarity.append(score)
            for other in ties:
                if other.live() is not best.live() and self._same_event(best.live(), other.live(), rarity):
                    merges.append(self._merge(best.live(), other.live()))
        placements = []
        for article, cluster, score in zip(ordered, chosen, similarity, strict=True):
            final = cluster.live()
            placements.append(Placement(article.article_id, final.story_id, final.group, round(score, 4)))
        # A stored story is only ever absorbed by another stored one (see ``_merge``).
        stored = [
            Merge(gone.story_id, into)
            for kept, gone in merges
            if gone.story_id is not None and (into := kept.live().story_id) is not None
        ]
        return Placed(placements, stored)

    def _best(
        self, member: Member, candidates: list[tuple[_Cluster, Member, float]], rarity: Rarity
    ) -> tuple[_Cluster | None, float, list[_Cluster]]:
        """Return the cluster the article joins (or None), its best pair probability, and the other clusters it
        ties to strongly enough to merge with."""
        if not member.vector.size or not member.words:
            return None, 0.0, []
        settings = self.settings
        best_of: dict[int, tuple[_Cluster, float]] = {}
        for cluster, other, cosine in candidates:
            same_headline = len(member.words) >= _SAME_TITLE_WORDS and member.words == other.words
            if cosine >= settings.same_cosine or same_headline:
                probability = 1.0
            else:
                probability = self.scorer.probability(member, other, cosine, rarity)
            if probability > best_of.get(id(cluster), (cluster, -1.0))[1]:
                best_of[id(cluster)] = (cluster, probability)
        ranked = sorted(best_of.values(), key=lambda pair: -pair[1])
        for cluster, probability in ranked:
            if probability < settings.join_probability:
                break
            if self._mean(member, cluster.members, rarity) >= settings.join_mean:
                ties = [c for c, p in ranked if c is not cluster and p >= settings.merge_probability]
                return cluster, probability, ties
        return None, 0.0, []

    def _mean(self, member: Member, others: Sequence[Member], rarity: Rarity) -> float:
        """Return the mean pair probability of ``member`` with ``others`` (of its vector size)."""
        usable = [o for o in others if o.vector.size == member.vector.size and o.vector.size]
        if not usable:
            return 0.0
        cosines = np.stack([o.vector for o in usable]) @ member.vector
        scores = [self.scorer.probability(member, o, float(c), rarity) for o, c in zip(usable, cosines, strict=True)]
        return float(np.mean(scores))

    def _same_event(self, left: _Cluster, right: _Cluster, rarity: Rarity) -> bool:
        """Say whether two clusters an article ties together pair, on average, as one event."""
        return float(np.mean([self._mean(m, right.members, rarity) for m in left.members])) >= self.settings.merge_mean

    def _merge(self, left: _Cluster, right: _Cluster) -> tuple[_Cluster, _Cluster]:
        """Merge two clusters: a stored story outlives a new one, and the older stored story the newer."""
        kept, gone = sorted((left, right), key=lambda c: (c.story_id is None, c.story_id or 0, c.group or 0))
        kept.members = (gone.members + kept.members)[-self.linkage :]
        gone.absorbed_by = kept
        return kept, gone
