"""Online story clustering: each new article joins the open story it matches, or starts its own.

A pair of articles is the same event when their title-and-lead embeddings are close *and* their titles share
distinctive words (weighted by how rare each word is among the titles in the window, so "4th qtr net" shared
by two company reports counts for little and "Purolator" for much). An article joins a story when it pairs
with at least half of the story's most recent members: one look-alike member is not enough, which keeps a
story from drifting from one event to the next by chaining. Nothing here touches the database.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import snowballstemmer

from digests.settings import StorySettings
from digests.text import fold_spaces

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_][\w'’]*")
_STOP = frozenset(
    """the a an of in on to for and or by with at from as is are be it its says said say over after new not
    but into about than this that will would could may has have had was were his her their our your who what
    why how when where which while more most less also just all any some out up off per vs""".split()
)  # fmt: skip
# Titles seen in a window are too few to estimate rarity below this many; more are assumed unseen.
_MIN_TITLES = 200
_LEAD_CHARS = 300
# Headlines with at least this many content words, identical once folded and stemmed, tell one event.
_SAME_TITLE_WORDS = 3
_CHUNK = 256  # incoming articles whose cosines to the window are computed at once


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=200_000)
def title_words(title: str) -> frozenset[str]:
    """Return the content words of a title: case-folded, stemmed ("rates" and "rate" are one), with numbers."""
    words = set()
    for token in _TOKEN.findall(title):
        word = token.casefold().strip("'-").removesuffix("'s").removesuffix("’s")
        if word[:1].isdigit():
            if len(word) > 1:
                words.add(word)
        elif len(word) > 2 and word not in _STOP:
            words.add(_stem(word))
    return frozenset(words)


def event_text(title: str, text: str) -> str:
    """Return what an article's event is read from: its title and the start of its text."""
    lead = fold_spaces(text)[:_LEAD_CHARS]
    return f"{title}. {lead}" if lead else title


@dataclass(slots=True)
class Member:
    """A story member as clustering sees it."""

    title: str
    vector: np.ndarray
    words: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.words = title_words(self.title)


@dataclass(slots=True)
class WindowStory:
    """An open story: its id and its most recent members, oldest first."""

    story_id: int
    members: list[Member]


@dataclass(slots=True)
class Incoming:
    """An article to place: its id, title, event vector (unit length) and when it happened."""

    article_id: int
    title: str
    vector: np.ndarray | None
    at: datetime


@dataclass(slots=True, frozen=True)
class Placement:
    """Where an article went: an existing story (``story_id``) or a new one (``new_group``, shared by the batch)."""

    article_id: int
    story_id: int | None
    new_group: int | None
    similarity: float


@dataclass(slots=True)
class _Cluster:
    story_id: int | None
    group: int | None
    members: list[Member]
    words: set[str]


class _Rarity:
    """How many events use each title word: every cluster counts once, and so does each article not yet placed.

    Counting clusters rather than articles keeps an event's own name rare however many outlets report it.
    """

    def __init__(self, clusters: Sequence[_Cluster], waiting: Sequence[frozenset[str]]) -> None:
        self.df: Counter[str] = Counter(word for cluster in clusters for word in cluster.words)
        self.df.update(word for words in waiting for word in words)
        self.units = len(clusters) + len(waiting)

    def weights(self, words: Iterable[str]) -> tuple[dict[str, float], float]:
        """Return each word's weight (its inverse event frequency) and the weight from which a word is rare."""
        total = max(self.units, _MIN_TITLES)
        rare = math.log(total / max(2.0, 0.004 * total))
        return {w: math.log(total / max(self.df[w], 1)) for w in words}, rare

    def placed(self, words: frozenset[str], cluster: _Cluster | None) -> None:
        """Move an article from the waiting ones into ``cluster`` (None: a new cluster of its own)."""
        self.df.subtract(words)
        self.units -= 1
        if cluster is None:
            self.df.update(words)
            self.units += 1
        else:
            self.df.update(words - cluster.words)


class _Index:
    """Every open cluster's member vectors, and their headlines, to find candidates fast.

    The cosines of every incoming article to every member of the window, and to each other, come from two
    matrix products made once per batch (one product per article would read the whole window each time). A
    look for candidates then only thresholds a row; the clusters it picks are looked at closely
    (``StoryMatcher._joins``, over the members each cluster keeps).
    """

    def __init__(self, clusters: Sequence[_Cluster], incoming: Sequence[Member], floor: float) -> None:
        self.headlines: dict[frozenset[str], list[_Cluster]] = {}
        self.owners: list[_Cluster] = []  # the cluster of each window row
        rows: list[np.ndarray] = []
        for cluster in clusters:
            for member in cluster.members:
                self.headlines.setdefault(member.words, []).append(cluster)
                if member.vector.size:
                    self.owners.append(cluster)
                    rows.append(member.vector)
        self.incoming = incoming
        self.joined: list[_Cluster | None] = [None] * len(incoming)  # the cluster each incoming article went to
        # For each incoming article: the window rows at least ``floor`` close, and which other articles are.
        # Only vectors of one size compare (after a change of model the window holds two).
        self.close = [np.zeros(0, dtype=np.int64)] * len(incoming)
        self.between = np.zeros((len(incoming), len(incoming)), dtype=bool)
        for size in {m.vector.size for m in incoming if m.vector.size}:
            mine = [i for i, m in enumerate(incoming) if m.vector.size == size]
            theirs = np.asarray([r for r, row in enumerate(rows) if row.size == size], dtype=np.int64)
            queries = np.stack([incoming[i].vector for i in mine]).astype(np.float32)
            window = np.stack([rows[r] for r in theirs]).astype(np.float32) if len(theirs) else np.zeros((0, size))
            for start in range(0, len(mine), _CHUNK):  # a chunk at a time: the cosines are never all kept
                cosines = queries[start : start + _CHUNK] @ window.T
                for i, row in zip(mine[start : start + _CHUNK], cosines, strict=True):
                    self.close[i] = theirs[row >= floor]
            self.between[np.ix_(mine, mine)] = (queries @ queries.T) >= floor

    def add(self, cluster: _Cluster, position: int) -> None:
        """Record that the incoming article at ``position`` is now a member of ``cluster``."""
        self.headlines.setdefault(self.incoming[position].words, []).append(cluster)
        if self.incoming[position].vector.size:
            self.joined[position] = cluster

    def candidates(self, position: int) -> list[_Cluster]:
        """Return the clusters with a member at least the floor close to the incoming article at ``position``, or
        with its headline (window members first, then the batch's articles in the order they were placed)."""
        found = {id(c): c for c in self.headlines.get(self.incoming[position].words, [])}
        close = [self.owners[i] for i in self.close[position]]
        close += [c for j in np.flatnonzero(self.between[position, :position]) if (c := self.joined[j]) is not None]
        for cluster in close:
            found.setdefault(id(cluster), cluster)
        return list(found.values())


class StoryMatcher:
    """Decide which story each incoming article belongs to."""

    def __init__(self, settings: StorySettings) -> None:
        self.min_cosine = settings.min_cosine
        self.same_cosine = settings.same_cosine
        self.min_overlap = settings.min_title_overlap
        self.linkage = settings.linkage_members

    def place(self, incoming: Sequence[Incoming], window: Sequence[WindowStory]) -> list[Placement]:
        """Place ``incoming`` (in time order) among the open stories and each other."""
        clusters = [_Cluster(story.story_id, None, list(story.members[-self.linkage :]), set()) for story in window]
        for cluster in clusters:
            cluster.words = set().union(*(m.words for m in cluster.members))
        ordered = sorted(incoming, key=lambda a: (a.at, a.article_id))
        members = [Member(a.title, a.vector if a.vector is not None else np.zeros(0)) for a in ordered]
        rarity = _Rarity(clusters, [m.words for m in members])
        floor = min(self.min_cosine, self.same_cosine)
        index = _Index(clusters, members, floor)
        placements = []
        next_group = 0
        for position, (article, member) in enumerate(zip(ordered, members, strict=True)):
            best: _Cluster | None = None
            best_score = -1.0
            if article.vector is not None and member.words:
                for cluster in index.candidates(position):
                    score = self._joins(member, cluster, rarity)
                    if score > best_score:
                        best, best_score = cluster, score
            if best is not None and best_score >= 0:
                rarity.placed(member.words, best)
                best.members.append(member)
                best.words |= member.words
                del best.members[: -self.linkage]
                index.add(best, position)
                placements.append(Placement(article.article_id, best.story_id, best.group, round(best_score, 4)))
            else:
                rarity.placed(member.words, None)
                cluster = _Cluster(None, next_group, [member], set(member.words))
                clusters.append(cluster)
                index.add(cluster, position)
                placements.append(Placement(article.article_id, None, next_group, 1.0))
                next_group += 1
        return placements

    def _joins(self, member: Member, cluster: _Cluster, rarity: _Rarity) -> float:
        """Return the mean cosine to the cluster's members when ``member`` pairs with at least half of them, else -1."""
        usable = [m for m in cluster.members if m.vector.size == member.vector.size and m.vector.size]
        if not usable:
            return -1.0
        cosines = np.stack([m.vector for m in usable]) @ member.vector
        pairs = 0
        for other, cosine in zip(usable, cosines, strict=True):
            if self._pair(member, other, float(cosine), rarity):
                pairs += 1
        if not pairs or pairs * 2 < len(usable):
            return -1.0
        return float(cosines.mean())

    def _pair(self, member: Member, other: Member, cosine: float, rarity: _Rarity) -> bool:
        """Say whether two articles tell one event: near-identical text, the same headline, or close and alike."""
        if cosine >= self.same_cosine:
            return True
        if len(member.words) >= _SAME_TITLE_WORDS and member.words == other.words:
            return True
        return cosine >= self.min_cosine and self._overlap(member.words, other.words, rarity)

    def _overlap(self, left: frozenset[str], right: frozenset[str], rarity: _Rarity) -> bool:
        shared = left & right
        if not shared:
            return False
        weight, rare = rarity.weights(left | right)
        if max(weight[w] for w in shared) < rare:
            return False
        mass = min(sum(weight[w] for w in left), sum(weight[w] for w in right))
        return sum(weight[w] for w in shared) >= self.min_overlap * mass
