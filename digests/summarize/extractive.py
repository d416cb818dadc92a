"""The default summarizer: picks the sentences of each section that carry it, with a learned scorer."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digests.inference import SentenceEncoder
from digests.summarize.base import SectionInput, SectionSummary, join_within
from digests.text import sentences_of

SCORER_FILE = Path(__file__).with_name("scorer.json")

FEATURES = (
    "first_in_section",
    "inverse_position",
    "relative_position",
    "short",
    "centroid_similarity",
    "title_similarity",
    "lead_section_first",
    "lead_section",
    "has_digit",
    "log_section_sentences",
)
# Left out on purpose: sentence length and quotation marks. Trained on BBC News Summary (whose reference
# sentences are long and often quoted) they made the scorer pick long quotes from late in an article,
# which fell below the first three sentences on news written in another style.
# Used only when no trained scorer is present: news puts its point first.
_FALLBACK_WEIGHTS = dict.fromkeys(FEATURES, 0.0) | {
    "first_in_section": 1.5,
    "inverse_position": 1.0,
    "centroid_similarity": 1.0,
    "title_similarity": 0.5,
    "short": -2.0,
}


@dataclass(slots=True, frozen=True)
class Scorer:
    """A logistic scorer over sentence features (standardized), read from ``scorer.json``."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def load(cls, path: Path = SCORER_FILE) -> Scorer:
        """Read the trained scorer, or fall back to position-first weights when there is none."""
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            if tuple(data["features"]) == FEATURES:
                return cls(
                    np.asarray(data["weights"], dtype=np.float32),
                    float(data["bias"]),
                    np.asarray(data["mean"], dtype=np.float32),
                    np.asarray(data["scale"], dtype=np.float32),
                )
        weights = np.asarray([_FALLBACK_WEIGHTS[name] for name in FEATURES], dtype=np.float32)
        zeros = np.zeros(len(FEATURES), dtype=np.float32)
        return cls(weights, 0.0, zeros, np.ones(len(FEATURES), dtype=np.float32))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Return a score (log-odds of belonging in the summary) per feature row."""
        scores: np.ndarray = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return scores


def sentence_features(
    sections: Sequence[SectionInput], encoder: SentenceEncoder
) -> tuple[list[list[str]], list[np.ndarray]]:
    """Split every section into sentences and compute each sentence's feature row, in one encoder pass."""
    split = [sentences_of(section.text) for section in sections]
    flat = [sentence for sentences in split for sentence in sentences]
    titles = sorted({s.title for s in sections if s.title})
    vectors = encoder.encode(flat + titles) if flat else np.zeros((0, 1), dtype=np.float32)
    title_vectors = {title: vectors[len(flat) + i] for i, title in enumerate(titles)}
    rows: list[np.ndarray] = []
    offset = 0
    for section, sentences in zip(sections, split, strict=True):
        count = len(sentences)
        block = vectors[offset : offset + count]
        offset += count
        if not count:
            rows.append(np.zeros((0, len(FEATURES)), dtype=np.float32))
            continue
        centroid = block.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
        title_vector = title_vectors.get(section.title)
        features = np.zeros((count, len(FEATURES)), dtype=np.float32)
        lead = 1.0 if section.position == 0 else 0.0
        for i, sentence in enumerate(sentences):
            words = len(sentence.split())
            features[i] = (
                1.0 if i == 0 else 0.0,
                1.0 / (1 + i),
                i / (count - 1) if count > 1 else 0.0,
                1.0 if words < 6 else 0.0,
                float(block[i] @ centroid),
                float(block[i] @ title_vector) if title_vector is not None else 0.0,
                lead if i == 0 else 0.0,
                lead,
                1.0 if any(ch.isdigit() for ch in sentence) else 0.0,
                math.log1p(count),
            )
        rows.append(features)
    return split, rows


class ExtractiveSummarizer:
    """Chooses the best one or two sentences of each section, keeping their original order.

    The first section always keeps its first sentence (news puts its point there; on news unlike the
    training data this guard keeps the summary from falling below the lead).
    """

    backend = "extractive"

    def __init__(
        self, encoder: SentenceEncoder, *, sentences: int = 2, max_chars: int = 1024, scorer: Scorer | None = None
    ) -> None:
        self.encoder = encoder
        self.sentences = sentences
        self.max_chars = max_chars
        self.scorer = scorer or Scorer.load()
        self.model_id = encoder.model_id

    @property
    def cache_key(self) -> str:
        """Identify encoder, scorer and sentence budget."""
        weights = self.scorer.weights.tobytes() + np.float32(self.scorer.bias).tobytes()
        fingerprint = hashlib.sha256(weights).hexdigest()[:12]
        return f"extractive:{self.model_id}:s{self.sentences}:c{self.max_chars}:w{fingerprint}:lead"

    def budget(self, count: int) -> int:
        """Return how many sentences a section of ``count`` sentences gets: one if short, else up to the setting."""
        return min(self.sentences, 1 if count <= 3 else 2 if count <= 8 else 3)

    def choose(self, position: int, features: np.ndarray) -> list[int]:
        """Return the indices of the sentences to keep from a section's feature rows, in text order."""
        scores = self.scorer.score(features)
        ranked = sorted(range(len(features)), key=lambda i: -scores[i])[: self.budget(len(features))]
        if position == 0 and 0 not in ranked:
            ranked = [0, *ranked[:-1]]
        return sorted(ranked)

    def summarize(self, sections: Sequence[SectionInput]) -> list[SectionSummary]:
        """Return one extractive summary per section."""
        split, rows = sentence_features(sections, self.encoder)
        results = []
        for section, sentences, features in zip(sections, split, rows, strict=True):
            chosen = self.choose(section.position, features) if sentences else []
            text = join_within([sentences[i] for i in chosen], self.max_chars)
            results.append(SectionSummary(text, self.backend, self.model_id))
        return results
