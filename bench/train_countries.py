"""Train the country tagger's learned layer on the Reuters-21578 ModApte training stories.

Run: .venv/bin/python -m bench.train_countries ../shared/data/reuters-modapte-train.jsonl
Needs scikit-learn (the ``dev`` extra). Only the tuning part of the file is read for training: stories whose
id hashes to buckets 0-6 of 10; buckets 7-9 are held out for bench/countries.py. Writes country-model.json,
which is committed.

Gold labels use 1987 names: west-germany is DE; for states that no longer exist (ussr, east-germany,
yugoslavia, czechoslovakia) the story's label is skipped, and so are predictions of their successors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pycountry

from digests.tagging.countries import CountryTagger
from digests.tagging.country_model import FEATURES, MODEL_FILE, CountryModel, Cues, Priors, cue_tokens

GONE = {
    "ussr": {"RU", "UA", "BY", "GE", "KZ", "UZ", "AM", "AZ", "EE", "LV", "LT", "MD"},
    "east-germany": {"DE"},
    "yugoslavia": {"RS", "HR", "SI", "BA", "MK", "ME"},
    "czechoslovakia": {"CZ", "SK"},
}
_RENAMED = {
    "west-germany": "DE", "uk": "GB", "usa": "US", "uae": "AE", "south-korea": "KR", "north-korea": "KP",
    "burma": "MM", "zaire": "CD", "ivory-coast": "CI", "hong-kong": "HK", "taiwan": "TW", "vietnam": "VN",
    "iran": "IR", "syria": "SY", "libya": "LY", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "russia": "RU", "laos": "LA", "macau": "MO", "netherlands-antilles": "CW", "kampuchea": "KH",
    "west-bank": "PS", "north-yemen": "YE", "south-yemen": "YE", "brunei": "BN", "cape-verde": "CV",
}  # fmt: skip
HELD_OUT_BUCKETS = frozenset({7, 8, 9})
CUE_MIN_STORIES = 25
CUE_FLOOR = 1.0  # word evidence (log-odds) a country needs to be considered without being named
F1_SLACK = 0.02


def gold_code(label: str) -> str | None:
    """Map a Reuters place label to an ISO alpha-2 code, or None for a state that is gone or unknown."""
    if label in GONE:
        return None
    if label in _RENAMED:
        return _RENAMED[label]
    try:
        return pycountry.countries.lookup(label.replace("-", " ")).alpha_2
    except LookupError:
        return None


def gold(row: dict) -> tuple[set[str], set[str]]:
    """Return a story's gold codes and the codes to ignore (successors of a state that is gone)."""
    codes = {code for label in row["places"] if (code := gold_code(label))}
    ignored = set().union(*(GONE[label] for label in row["places"] if label in GONE)) - codes
    return codes, ignored


def _bucket(story_id: str) -> int:
    return int(hashlib.sha256(story_id.encode()).hexdigest(), 16) % 10


def held_out(row: dict) -> bool:
    """Tell whether a story belongs to the held-out part (never read by training)."""
    return _bucket(row["id"]) in HELD_OUT_BUCKETS


def load(path: Path) -> tuple[list[dict], list[dict]]:
    """Return (tuning, held-out) stories of the Reuters file."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if not held_out(r)], [r for r in rows if held_out(r)]


def _cue_models(tokens: list[set[str]], labels: dict[str, np.ndarray], fit_on: np.ndarray) -> Cues:
    """Fit one sparse (L1) logistic model per cue country on the stories in ``fit_on``."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform([dict.fromkeys(tokens[i], 1) for i in fit_on]).tocsr()
    matrix.indices = matrix.indices.astype(np.int32)  # liblinear takes 32-bit indices only
    matrix.indptr = matrix.indptr.astype(np.int32)
    words = vectorizer.get_feature_names_out()
    cues = Cues({}, {})
    for code, y in labels.items():
        if len(set(y[fit_on].tolist())) < 2:  # no story (or only stories) of the country: words cannot tell
            cues.bias[code], cues.weights[code] = (10.0 if y[fit_on].any() else -10.0), {}
            continue
        model = LogisticRegression(l1_ratio=1.0, C=0.5, solver="liblinear", max_iter=500, random_state=0)
        model.fit(matrix, y[fit_on])
        weights = {str(words[j]): round(float(w), 4) for j, w in enumerate(model.coef_[0]) if abs(w) >= 1e-3}
        cues.bias[code] = round(float(model.intercept_[0]), 4)
        cues.weights[code] = dict(sorted(weights.items(), key=lambda kv: -abs(kv[1])))
    return cues


def _best_threshold(probabilities: np.ndarray, y: np.ndarray, missed: int) -> tuple[float, float]:
    """Return the threshold to keep a candidate at, and the micro F1 it gives on the tuning rows.

    F1 is flat near its top; the lowest threshold within ``F1_SLACK`` of the best is taken, since a missed
    country hides an article from /country while an extra one costs a glance.
    """
    f1s = {}
    for candidate in np.arange(0.2, 0.8, 0.02):
        predicted = probabilities >= candidate
        tp = int((predicted & (y == 1)).sum())
        fp = int((predicted & (y == 0)).sum())
        fn = int((~predicted & (y == 1)).sum()) + missed
        f1s[round(float(candidate), 2)] = 2 * tp / (2 * tp + fp + fn)
    best = max(f1s.values())
    threshold = min(t for t, f1 in f1s.items() if f1 >= best - F1_SLACK)
    return threshold, f1s[threshold]


def train(rows: list[dict]) -> dict:
    """Fit cue models (out of fold for the keep model's rows), the keep model and its threshold."""
    from sklearn.linear_model import LogisticRegression

    golds = [gold(r) for r in rows]
    counts = Counter(code for codes, _ in golds for code in codes)
    priors = Priors(
        {code: round(math.log(n / len(rows)), 4) for code, n in counts.items()},
        round(math.log(0.5 / len(rows)), 4),
        CUE_FLOOR,
    )
    cue_codes = sorted(code for code, n in counts.items() if n >= CUE_MIN_STORIES)
    tokens = [cue_tokens(r["title"], r["text"]) for r in rows]
    labels = {code: np.asarray([code in codes for codes, _ in golds], dtype=np.int8) for code in cue_codes}
    folds = np.asarray([_bucket(r["id"]) % 2 for r in rows])
    fold_cues = {fold: _cue_models(tokens, labels, np.flatnonzero(folds != fold)) for fold in (0, 1)}

    tagger = CountryTagger(model=None)
    features: list[np.ndarray] = []
    targets: list[int] = []
    missed = 0
    for row, (codes, ignored), words, fold in zip(rows, golds, tokens, folds, strict=True):
        found = tagger.evidence(row["title"], row["text"])
        candidates, block = priors.candidates(found, fold_cues[int(fold)], words, len(row["text"].split()))
        kept = [i for i, code in enumerate(candidates) if code not in ignored]
        features.append(block[kept])
        targets.extend(1 if candidates[i] in codes else 0 for i in kept)
        missed += len(codes - set(candidates))
    x = np.concatenate(features)
    y = np.asarray(targets)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    keep = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit((x - mean) / scale, y)
    threshold, f1 = _best_threshold(keep.predict_proba((x - mean) / scale)[:, 1], y, missed)
    final = _cue_models(tokens, labels, np.arange(len(rows)))
    return {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in keep.coef_[0]],
        "bias": round(float(keep.intercept_[0]), 6),
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
        "threshold": threshold,
        "cue_floor": priors.cue_floor,
        "priors": priors.logs,
        "default_prior": priors.default,
        "cue_bias": final.bias,
        "cue_weights": final.weights,
        "tuning_f1": round(f1, 4),
    }


def main() -> None:
    """Train on the tuning part of the Reuters file and write country-model.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path, help="reuters-modapte-train.jsonl")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args()
    started = time.perf_counter()
    tuning, _ = load(args.data)
    model = train(tuning)
    model["trained_on"] = f"{args.data.name}, id hash buckets 0-6 of 10 ({len(tuning)} stories)"
    CountryModel.from_json(model)  # refuse to write a model the tagger cannot read
    args.out.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s; tuning F1 {model['tuning_f1']}")
    for name, weight in zip(FEATURES, model["weights"], strict=True):
        print(f"  {name:14s} {weight:+.3f}")
    for code, words in model["cue_weights"].items():
        print(f"  {code}: {', '.join(list(words)[:8])}")


if __name__ == "__main__":
    main()
