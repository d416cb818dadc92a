"""A learned layer over the gazetteer: which of an article's candidate countries it is about.

Two parts, both trained by ``bench.train_countries`` and read from ``country-model.json``:
- **cues**: per country, a sparse logistic model over the article's words that says the country without
  naming it (currencies, exchanges, company suffixes, institutions: "dlrs", "stg", "plc", "Bundesbank");
- **keep**: a logistic model over each candidate's evidence (where and how often the gazetteer found it,
  its cue score, how common it is) that ranks it; candidates under the learned threshold are dropped, so a
  passing mention ("listed in Luxembourg") ranks low and an implicit country (a U.S. company's results) counts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = Path(__file__).with_name("country-model.json")

# Evidence per candidate, in row order; training builds its rows through the same ``Priors.candidates``.
FEATURES = (
    "found",
    "log_score",
    "share_of_top",
    "is_top",
    "in_title",
    "in_lead",
    "log_mentions",
    "log_countries",
    "cue",
    "has_cue",
    "log_prior",
    "first_at",
    "log_words",
)
CUE_CHARS = 2000
_TOKEN = re.compile(r"[a-z][a-z&'.-]*[a-z]|[$£€¥]")


def cue_tokens(title: str, text: str) -> set[str]:
    """Return the set of lower-case words (and currency signs) a cue model reads."""
    return set(_TOKEN.findall(f"{title}\n{text[:CUE_CHARS]}".casefold()))


@dataclass(slots=True, frozen=True)
class Evidence:
    """What the gazetteer found of one country in one article."""

    code: str
    score: float
    mentions: int
    in_title: bool
    in_lead: bool
    first_at: float  # where the body first mentions it, as a share of the body (1.0: never)


def candidate_features(
    evidence: Evidence | None, top_score: float, countries: int, cue: float | None, prior: float, words: int
) -> list[float]:
    """Return one candidate's feature row, in ``FEATURES`` order."""
    score = evidence.score if evidence else 0.0
    return [
        1.0 if evidence else 0.0,
        math.log1p(score),
        score / top_score if top_score > 0 else 0.0,
        1.0 if evidence and score >= top_score else 0.0,
        1.0 if evidence and evidence.in_title else 0.0,
        1.0 if evidence and evidence.in_lead else 0.0,
        math.log1p(evidence.mentions) if evidence else 0.0,
        math.log1p(countries),
        cue if cue is not None else 0.0,
        1.0 if cue is not None else 0.0,
        prior,
        evidence.first_at if evidence else 1.0,
        math.log1p(words),
    ]


@dataclass(slots=True, frozen=True)
class Cues:
    """Per-country sparse word weights (log-odds) and biases."""

    bias: dict[str, float]
    weights: dict[str, dict[str, float]]

    def evidence(self, tokens: set[str]) -> dict[str, float]:
        """Return, per cue country, what the words add to its log-odds (its bias left out)."""
        return {
            code: sum(weight for word, weight in words.items() if word in tokens)
            for code, words in self.weights.items()
        }


@dataclass(slots=True, frozen=True)
class Priors:
    """How common each country is among labelled stories (log share), and the floor for the rest."""

    logs: dict[str, float]
    default: float
    cue_floor: float  # a country the article never names is a candidate only with this much word evidence

    def candidates(
        self, found: Sequence[Evidence], cues: Cues, tokens: set[str], words: int
    ) -> tuple[list[str], np.ndarray]:
        """Return the candidates (named, or implied by enough word evidence) and their feature rows."""
        named = {e.code: e for e in found}
        top = max((e.score for e in found), default=0.0)
        evidence = cues.evidence(tokens)
        codes = list(named) + [c for c, added in evidence.items() if c not in named and added >= self.cue_floor]
        rows = [
            candidate_features(
                named.get(c),
                top,
                len(named),
                cues.bias[c] + evidence[c] if c in evidence else None,
                self.logs.get(c, self.default),
                words,
            )
            for c in codes
        ]
        return codes, np.asarray(rows, dtype=np.float64).reshape(len(codes), len(FEATURES))


@dataclass(slots=True, frozen=True)
class CountryModel:
    """The trained cue and keep models."""

    cues: Cues
    priors: Priors
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    threshold: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CountryModel:
        """Build the model from the JSON that training writes."""
        if tuple(data["features"]) != FEATURES:
            raise ValueError("country model was trained on other features; retrain it")
        return cls(
            cues=Cues(
                {code: float(b) for code, b in data["cue_bias"].items()},
                {code: {w: float(v) for w, v in words.items()} for code, words in data["cue_weights"].items()},
            ),
            priors=Priors(
                {code: float(p) for code, p in data["priors"].items()},
                float(data["default_prior"]),
                float(data["cue_floor"]),
            ),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            threshold=float(data["threshold"]),
        )

    def rank(self, found: Sequence[Evidence], title: str, text: str) -> list[tuple[str, float]]:
        """Return every candidate with the probability that the article is about it, most likely first."""
        codes, rows = self.priors.candidates(found, self.cues, cue_tokens(title, text), len(text.split()))
        if not codes:
            return []
        logits = ((rows - self.mean) / self.scale) @ self.weights + self.bias
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        return sorted(zip(codes, probabilities.tolist(), strict=True), key=lambda cp: (-cp[1], cp[0]))


@cache
def load_model(path: Path = MODEL_FILE) -> CountryModel | None:
    """Read the trained model, or None when there is none (the gazetteer's rule then decides)."""
    if not path.exists():
        return None
    return CountryModel.from_json(json.loads(path.read_text(encoding="utf-8")))
