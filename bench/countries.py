"""Country tagging quality on the Reuters-21578 ModApte training stories (micro precision, recall, F1).

Run: .venv/bin/python -m bench.countries [--limit N] [--grid]
Gold labels use 1987 names: west-germany is DE; states that no longer exist (ussr, east-germany,
yugoslavia, czechoslovakia) are skipped, and so are predictions of their successors in those stories.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Iterable

import pycountry

from bench.corpus import SHARED_DATA
from digests.tagging.countries import CountryTagger

REUTERS = SHARED_DATA / "reuters-modapte-train.jsonl"
_GONE = {
    "ussr": {"RU", "UA", "BY", "GE", "KZ", "UZ", "AM", "AZ", "EE", "LV", "LT", "MD"},
    "east-germany": {"DE"},
    "yugoslavia": {"RS", "HR", "SI", "BA", "MK", "ME"},
    "czechoslovakia": {"CZ", "SK"},
}
_RENAMED = {
    "west-germany": "DE",
    "uk": "GB",
    "usa": "US",
    "uae": "AE",
    "south-korea": "KR",
    "north-korea": "KP",
    "burma": "MM",
    "zaire": "CD",
    "ivory-coast": "CI",
    "hong-kong": "HK",
    "taiwan": "TW",
    "vietnam": "VN",
    "iran": "IR",
    "syria": "SY",
    "libya": "LY",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "russia": "RU",
    "laos": "LA",
    "macau": "MO",
    "netherlands-antilles": "CW",
    "kampuchea": "KH",
    "west-bank": "PS",
    "north-yemen": "YE",
    "south-yemen": "YE",
    "brunei": "BN",
    "cape-verde": "CV",
    "ussr": None,
}


def gold_code(label: str) -> str | None:
    """Map a Reuters place label to an ISO alpha-2 code, or None for a state that is gone or unknown."""
    if label in _GONE:
        return None
    if label in _RENAMED:
        return _RENAMED[label]
    try:
        return pycountry.countries.lookup(label.replace("-", " ")).alpha_2
    except LookupError:
        return None


def load(limit: int | None = None) -> list[dict]:
    """Return the Reuters stories, or [] when the shared data is absent."""
    if not REUTERS.exists():
        return []
    with REUTERS.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in itertools.islice(handle, limit)]
    return rows


def evaluate(tagger: CountryTagger, rows: Iterable[dict]) -> dict:
    """Return micro precision, recall and F1 of ``tagger`` on ``rows``."""
    tp = fp = fn = 0
    for row in rows:
        gold = {code for label in row["places"] if (code := gold_code(label))}
        ignored = set().union(*(_GONE[label] for label in row["places"] if label in _GONE))
        predicted = {c.code for c in tagger.tag(row["title"], row["text"])} - (ignored - gold)
        tp += len(predicted & gold)
        fp += len(predicted - gold)
        fn += len(gold - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


class NameListBaseline:
    """The baseline: every pycountry name or common name found in the text, as written."""

    def __init__(self) -> None:
        import re

        names: dict[str, str] = {}
        for country in pycountry.countries:
            for attribute in ("name", "common_name"):
                value = getattr(country, attribute, None)
                if value and "," not in value:
                    names[value] = country.alpha_2
        self.names = names
        self.pattern = re.compile(
            r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
        )

    def tag(self, title: str, text: str) -> list:
        """Return every country named, as objects with a ``code``."""
        from types import SimpleNamespace

        found = {self.names[m.group(1)] for m in self.pattern.finditer(f"{title}\n{text}")}
        return [SimpleNamespace(code=code) for code in sorted(found)]


def main() -> None:
    """Print the tagger's scores, or a grid of settings with --grid."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    rows = load(args.limit)
    if not rows:
        raise SystemExit(f"{REUTERS} is absent")
    if args.grid:
        for ratio, minimum, lead in itertools.product((0.1, 0.2, 0.3, 0.5), (0.5, 1.0, 1.6), (1.0, 1.5, 2.5)):
            result = evaluate(CountryTagger(keep_ratio=ratio, min_score=minimum, lead_weight=lead), rows)
            print(ratio, minimum, lead, result)
        return
    started = time.perf_counter()
    result = evaluate(CountryTagger(), rows)
    result["stories_per_second"] = round(len(rows) / (time.perf_counter() - started), 1)
    result["input"] = "shared/data/reuters-modapte-train.jsonl"
    result["baseline_pycountry_names"] = evaluate(NameListBaseline(), rows)  # type: ignore[arg-type]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
