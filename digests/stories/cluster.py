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
    """Every open cluster's member vectors in one matrix, and their headlines, to find candidates fast.

    One matrix product per article picks the clusters with a member close enough to matter; only those are
    looked at closely (``StoryMatcher._joins``, over the members each cluster keeps).
    """

    def __init__(self, clusters: Sequence[_Cluster], incoming: int) -> None:
        self.owners: list[_Cluster] = []
        self.rows: list[np.ndarray] = []
        self.matrix: np.ndarray | None = None
        self.headlines: dict[frozenset[str], list[_Cluster]] = {}
        self.sizes: set[int] = set()
        self.spare = incoming
        for cluster in clusters:
            for member in cluster.members:
                self.add(cluster, member)

    def add(self, cluster: _Cluster, member: Member) -> None:
        """Index a member of ``cluster``."""
        self.headlines.setdefault(member.words, []).append(cluster)
        if not member.vector.size:
            return
        self.owners.append(cluster)
        self.rows.append(member.vector)
        self.sizes.add(member.vector.size)
        matrix = self.matrix
        if matrix is not None and len(self.rows) <= matrix.shape[0] and matrix.shape[1] == member.vector.size:
            matrix[len(self.rows) - 1] = member.vector
        else:
            self.matrix = None  # stacked again, with room to grow, on the next search

    def candidates(self, member: Member, floor: float) -> list[_Cluster]:
        """Return the clusters with a member at least ``floor`` close to ``member``, or with its headline."""
        found = {id(c): c for c in self.headlines.get(member.words, [])}
        size = member.vector.size
        if self.rows and self.sizes == {size}:
            if self.matrix is None:
                self.matrix = np.zeros((len(self.rows) + self.spare, size), dtype=np.float32)
                self.matrix[: len(self.rows)] = np.stack(self.rows)
            close = [int(i) for i in np.flatnonzero(self.matrix[: len(self.rows)] @ member.vector >= floor)]
        else:  # vectors of another size (the model changed) are compared one by one
            close = [i for i, row in enumerate(self.rows) if row.size == size and float(row @ member.vector) >= floor]
        for row in close:
            found.setdefault(id(self.owners[row]), self.owners[row])
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
        index = _Index(clusters, len(members))
        placements = []
        next_group = 0
        for article, member in zip(ordered, members, strict=True):
            best: _Cluster | None = None
            best_score = -1.0
            if article.vector is not None and member.words:
                floor = min(self.min_cosine, self.same_cosine)
                for cluster in index.candidates(member, floor):
                    score = self._joins(member, cluster, rarity)
                    if score > best_score:
                        best, best_score = cluster, score
            if best is not None and best_score >= 0:
                rarity.placed(member.words, best)
                best.members.append(member)
                best.words |= member.words
                del best.members[: -self.linkage]
                index.add(best, member)
                placements.append(Placement(article.article_id, best.story_id, best.group, round(best_score, 4)))
            else:
                rarity.placed(member.words, None)
                cluster = _Cluster(None, next_group, [member], set(member.words))
                clusters.append(cluster)
                index.add(cluster, member)
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
