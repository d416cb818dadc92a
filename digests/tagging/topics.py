"""Assign topics from the team's taxonomy: meaning (embedding similarity) plus keyword evidence."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field

from digests.errors import ConfigError
from digests.inference import SentenceEncoder
from digests.settings import Group
from digests.text import cut, sentences_of
from digests.tomlfile import read_entries


class Topic(Group):
    """One topic of the taxonomy."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)


@dataclass(slots=True, frozen=True)
class TopicScore:
    """A topic assigned to an article, with its score."""

    name: str
    score: float


def load_topics(path: Path) -> list[Topic]:
    """Read the taxonomy file; a broken one is a ConfigError that says where."""
    topics = read_entries(path, "topic", Topic)
    names = [t.name.casefold() for t in topics]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: topic names must be unique")
    return topics


@lru_cache(maxsize=8)
def _topics_at(path: Path, stamp: int) -> tuple[Topic, ...]:
    return tuple(load_topics(path))


def current_topics(path: Path) -> list[Topic]:
    """Return the taxonomy in ``path``, read again only when the file changes."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0  # load_topics says what is wrong
    return list(_topics_at(path, stamp))


def taxonomy_version(topics: Sequence[Topic]) -> str:
    """Return a fingerprint of the taxonomy; when it changes, articles are tagged again."""
    canonical = json.dumps([t.model_dump() for t in topics], sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _fold_keyword(text: str) -> str:
    return " ".join(text.replace("-", " ").split()).casefold()


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """One pattern for every topic's keywords, longest first, so "cyber defence" is not also "defence"."""
    words = sorted({_fold_keyword(k) for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in words)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


class TopicTagger:
    """Scores each article against every topic; keeps its best topic if at least ``first_threshold``, and up to
    ``max_topics`` in all above ``threshold``.

    A topic's meaning is its description and its example headlines: an article's similarity to a topic is
    the mean of its two best matches among them. Keyword evidence adds to a topic only when the meaning alone reaches
    ``keyword_floor``, so a word ("clinics") never decides on its own.
    """

    def __init__(
        self,
        topics: Sequence[Topic],
        encoder: SentenceEncoder,
        *,
        threshold: float = 0.4,
        first_threshold: float | None = None,
        max_topics: int = 3,
        keyword_weight: float = 0.35,
        keyword_floor: float = 0.3,
        chunk_chars: int = 500,
        max_chunks: int = 8,
    ) -> None:
        self.topics = list(topics)
        self.encoder = encoder
        self.threshold = threshold
        self.first_threshold = threshold if first_threshold is None else first_threshold
        self.max_topics = max_topics
        self.keyword_weight = keyword_weight
        self.keyword_floor = keyword_floor
        self.chunk_chars = chunk_chars
        self.max_chunks = max_chunks
        self.version = taxonomy_version(self.topics)
        self._pattern = _keyword_pattern([k for t in self.topics for k in t.keywords])
        self._owners: dict[str, list[int]] = {}
        for index, topic in enumerate(self.topics):
            for keyword in topic.keywords:
                self._owners.setdefault(_fold_keyword(keyword), []).append(index)
        self._prototypes = [f"{t.name}: {t.description}" for t in self.topics]
        self._prototype_topic = list(range(len(self.topics)))
        for index, topic in enumerate(self.topics):
            self._prototypes.extend(topic.examples)
            self._prototype_topic.extend([index] * len(topic.examples))
        self._vectors: np.ndarray | None = None

    def _topic_vectors(self) -> np.ndarray:
        """Return one unit vector per prototype (descriptions, then examples)."""
        if self._vectors is None:
            self._vectors = self.encoder.encode_fixed(self._prototypes)
        return self._vectors

    def _per_topic(self, similarity: np.ndarray) -> np.ndarray:
        """Reduce (rows x prototypes) similarities to (rows x topics): the mean of each topic's two best matches.

        Two, not one: a single example that happens to share words with an article is not enough.
        """
        owners = np.asarray(self._prototype_topic)
        result = np.full((similarity.shape[0], len(self.topics)), -1.0, dtype=np.float32)
        for topic in range(len(self.topics)):
            columns = similarity[:, owners == topic]
            best = min(2, columns.shape[1])
            result[:, topic] = np.sort(columns, axis=1)[:, -best:].mean(axis=1)
        return result

    def _passages(self, title: str, text: str) -> list[list[str]]:
        """Split an article into passages of whole sentences, about ``chunk_chars`` each, title first.

        The sentences are the ones the summarizer embeds, so the encoder's cache serves them again here.
        """
        passages: list[list[str]] = [[title]] if title else []
        current: list[str] = []
        size = 0
        for sentence in sentences_of(text[: self.chunk_chars * self.max_chunks]):
            current.append(sentence)
            size += len(sentence)
            if size >= self.chunk_chars:
                passages.append(current)
                current, size = [], 0
        if current:
            passages.append(current)
        return passages or [[text[: self.chunk_chars] or "(empty)"]]

    def evidence(self, title: str, text: str) -> np.ndarray:
        """Return keyword evidence per topic in [0, 1): distinct keywords found, title hits counting double."""
        values = np.zeros(len(self.topics), dtype=np.float32)
        if self._pattern is None:
            return values
        in_title = {_fold_keyword(m.group(0)) for m in self._pattern.finditer(title)}
        in_text = {_fold_keyword(m.group(0)) for m in self._pattern.finditer(text)} - in_title
        weights = np.zeros(len(self.topics), dtype=np.float32)
        for found, weight in ((in_title, 2.0), (in_text, 1.0)):
            for keyword in found:
                for index in self._owners.get(keyword, ()):
                    weights[index] += weight
        values[:] = 1.0 - np.exp(-weights / 3.0)
        return values

    def scores(self, articles: Sequence[tuple[str, str]]) -> np.ndarray:
        """Return an (articles x topics) matrix of scores."""
        return self.analyse(articles)[0]

    def analyse(self, articles: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """Return the (articles x topics) scores and each article's unit embedding."""
        if not articles:
            return np.zeros((0, len(self.topics)), dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
        sentences: list[str] = []
        members: list[int] = []  # the passage of each sentence
        owners: list[int] = []  # the article of each passage
        for number, (title, text) in enumerate(articles):
            for passage in self._passages(title, text):
                sentences.extend(passage)
                members.extend([len(owners)] * len(passage))
                owners.append(number)
        sentence_vectors = self.encoder.encode(sentences)
        # A passage's vector is the mean of its sentences': each sentence is encoded once, for every use.
        vectors = np.zeros((len(owners), sentence_vectors.shape[1]), dtype=np.float32)
        np.add.at(vectors, members, sentence_vectors)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        topic_vectors = self._topic_vectors() if self.topics else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        # An article about several things has a passage on each: blend its best passage with the whole.
        chunk_similarity = self._per_topic(vectors @ topic_vectors.T)
        best = np.full((len(articles), len(self.topics)), -1.0, dtype=np.float32)
        np.maximum.at(best, owners, chunk_similarity)
        article_vectors = np.zeros((len(articles), vectors.shape[1]), dtype=np.float32)
        np.add.at(article_vectors, owners, vectors)
        article_vectors /= np.maximum(np.linalg.norm(article_vectors, axis=1, keepdims=True), 1e-9)
        similarity = 0.5 * self._per_topic(article_vectors @ topic_vectors.T) + 0.5 * best
        evidence = np.stack([self.evidence(title, text) for title, text in articles])
        evidence[similarity < self.keyword_floor] = 0.0
        return similarity + self.keyword_weight * evidence, article_vectors

    def tag(self, articles: Sequence[tuple[str, str]]) -> list[list[TopicScore]]:
        """Return, per article, its topics best first (zero to ``max_topics``)."""
        return self.pick(self.scores(articles))

    def pick(self, scores: np.ndarray) -> list[list[TopicScore]]:
        """Keep, per row of scores, the best topic above the first threshold and the next ones above the other."""
        results = []
        for row in scores:
            order = np.argsort(-row)
            kept = []
            for rank, i in enumerate(order[: self.max_topics]):
                if row[i] < (self.first_threshold if rank == 0 else self.threshold):
                    break  # best first: a topic is never kept after a better one was not
                kept.append(TopicScore(self.topics[i].name, round(float(row[i]), 4)))
            results.append(kept)
        return results


def resolve_topic(name: str, topics: Sequence[Topic]) -> str:
    """Return the taxonomy's name for ``name`` (any case); an unknown name names the closest topics."""
    from rapidfuzz import process

    from digests.errors import NotFoundError

    by_fold = {t.name.casefold(): t.name for t in topics}
    if name.strip().casefold() in by_fold:
        return by_fold[name.strip().casefold()]
    close = [match for match, _, _ in process.extract(name, [t.name for t in topics], limit=3, score_cutoff=50)]
    hint = f" Did you mean {', '.join(close)}?" if close else f" Topics are: {', '.join(by_fold.values())}."
    raise NotFoundError(f"Unknown topic {cut(name, 60)!r}.{hint}")
