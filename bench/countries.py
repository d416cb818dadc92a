"""Country tagging quality on Reuters-21578 ModApte stories held out from training (micro P, R, F1).

Run: .venv/bin/python -m bench.countries [--limit N]
The learned layer is trained on id-hash buckets 0-6 (bench/train_countries.py); this reports
buckets 7-9, against the gazetteer's salience rule alone and a plain pycountry name list.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Protocol

import pycountry

from bench.corpus import SHARED_DATA
from bench.train_countries import gold, load
from digests.tagging.countries import CountryTagger

REUTERS = SHARED_DATA / "reuters-modapte-train.jsonl"


class Tagger(Protocol):
    def tag(self, title: str, text: str) -> list: ...


def evaluate(tagger: Tagger, rows: Iterable[dict]) -> dict:
    """Return micro precision, recall and F1 of ``tagger`` on ``rows``."""
    tp = fp = fn = 0
    for row in rows:
        codes, ignored = gold(row)
        predicted = {c.code for c in tagger.tag(row["title"], row["text"])} - ignored
        tp += len(predicted & codes)
        fp += len(predicted - codes)
        fn += len(codes - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


class NameListBaseline:
    """The baseline: every pycountry name or common name found in the text, as written."""

    def __init__(self) -> None:
        names: dict[str, str] = {}
        for country in pycountry.countries:
            for attribute in ("name", "common_name"):
                value = getattr(country, attribute, None)
                if value and "," not in value:
                    names[value] = country.alpha_2
        self.names = names
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self.pattern = re.compile(rf"\b({alternatives})\b")

    def tag(self, title: str, text: str) -> list:
        """Return every country named, as objects with a ``code``."""
        found = {self.names[m.group(1)] for m in self.pattern.finditer(f"{title}\n{text}")}
        return [SimpleNamespace(code=code) for code in sorted(found)]


def main() -> None:
    """Print the held-out scores of the learned tagger and its baselines as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is absent")
    _, held_out = load(REUTERS)
    held_out = held_out[: args.limit] if args.limit else held_out
    started = time.perf_counter()
    result = evaluate(CountryTagger(), held_out)
    result["stories_per_second"] = round(len(held_out) / (time.perf_counter() - started), 1)
    result["stories"] = len(held_out)
    result["input"] = "shared/data/reuters-modapte-train.jsonl, id-hash buckets 7-9 (never trained on)"
    result["baseline_gazetteer_rule"] = evaluate(CountryTagger(model=None), held_out)
    result["baseline_pycountry_names"] = evaluate(NameListBaseline(), held_out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
