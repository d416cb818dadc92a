"""Topic tagging: does an article get a fitting first topic, on long and on short items?

Run: .venv/bin/python -m bench.topics [--limit N]
- BBC News: its five labels map to taxonomy topics (business -> economy and markets, politics -> elections and
  politics, tech -> technology and AI, sport -> sport, entertainment -> culture and entertainment). Odd lines
  only: the tagger's threshold and keyword settings were chosen on the even lines.
- Reuters-21578: stories never used for tuning (id-hash buckets 7-9) whose economic categories map to a topic
  (earnings, acquisitions, currencies, rates... -> economy and markets; crude, gas -> energy; trade -> trade and
  tariffs; grains and softs -> agriculture and food): another outlet, era and style.
Each set is read whole ("full") and as a feed item would be, the title and first sentence ("short").
Coverage: share of articles whose first topic fits; precision: share of first topics that fit. Strictly, only
the mapped topic fits; "family" also counts the topics a label's news commonly lands in (a BBC politics
story about asylum tagged "migration", a tech story tagged "cybersecurity"), listed in FAMILIES.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.corpus import BBC, SHARED_DATA
from digests.services.enrichment import Enricher
from digests.settings import Settings
from digests.text import sentences_of

REUTERS = SHARED_DATA / "reuters-modapte-train.jsonl"
BBC_TOPICS = {
    "business": "economy and markets",
    "politics": "elections and politics",
    "tech": "technology and AI",
    "sport": "sport",
    "entertainment": "culture and entertainment",
}
FAMILIES = {
    "economy and markets": {
        "trade and tariffs", "energy", "critical minerals and supply chains", "agriculture and food",
    },
    "elections and politics": {
        "diplomacy and alliances", "migration", "human rights", "crime and justice", "defense and military",
        "conflict and terrorism",
    },
    "technology and AI": {"cybersecurity", "space", "science"},
}  # fmt: skip
_ECONOMY = set("earn acq money-fx interest gnp cpi money-supply bop jobs reserves ipi dlr".split())
_ENERGY = {"crude", "nat-gas", "gas", "fuel"}
_FARMING = set(
    "grain wheat corn sugar oilseed coffee veg-oil soybean livestock cocoa carcass cotton rice barley".split()
)


def reuters_topics(categories: list[str]) -> set[str]:
    """Map Reuters economic categories to the taxonomy topics they fall under."""
    found = set()
    for category in categories:
        if category in _ECONOMY:
            found.add("economy and markets")
        elif category in _ENERGY:
            found.add("energy")
        elif category == "trade":
            found.add("trade and tariffs")
        elif category in _FARMING:
            found.add("agriculture and food")
    return found


def short(title: str, text: str) -> tuple[str, str]:
    """Return the item as a feed would carry it: the title and the first sentence."""
    first = sentences_of(text)
    return title, first[0] if first else ""


def score(enricher: Enricher, items: list[tuple[str, str]], gold: list[set[str]]) -> dict:
    """Return first-topic coverage and precision (strict and by family), and the share given any topic."""
    first: list[str | None] = []
    for start in range(0, len(items), 64):
        for tags in enricher.tag(items[start : start + 64]):
            first.append(tags.topics[0].name if tags.topics else None)
    families = [labels.union(*(FAMILIES.get(label, set()) for label in labels)) for labels in gold]
    tagged = sum(1 for topic in first if topic)
    result: dict = {"articles": len(items), "any_topic": round(tagged / len(items), 3) if items else None}
    for name, accepted in (("", gold), ("family_", families)):
        fitting = sum(1 for topic, labels in zip(first, accepted, strict=True) if topic in labels)
        result[f"{name}coverage"] = round(fitting / len(items), 3) if items else None
        result[f"{name}precision"] = round(fitting / tagged, 3) if tagged else None
    return result


def evaluate(limit: int | None = None) -> dict:
    """Return coverage and precision on BBC (held-out lines) and Reuters, full and short."""
    from bench.train_countries import load

    enricher = Enricher(Settings())
    started = time.perf_counter()
    rows = [json.loads(line) for line in BBC.read_text(encoding="utf-8").splitlines() if line.strip()][1::2]
    rows = rows[:limit] if limit else rows
    sets = {"bbc": (rows, [{BBC_TOPICS[r["topic"]]} for r in rows])}
    if REUTERS.exists():
        _, held_out = load(REUTERS)
        mapped = [r for r in held_out if reuters_topics(r["topics"])][: limit or 800]
        sets["reuters"] = (mapped, [reuters_topics(r["topics"]) for r in mapped])
    result: dict = {}
    for name, (articles, gold) in sets.items():
        result[name] = {
            "full": score(enricher, [(r["title"], r["text"]) for r in articles], gold),
            "short": score(enricher, [short(r["title"], r["text"]) for r in articles], gold),
        }
    result["input"] = "shared/data/bbc-news-summary.jsonl (odd lines), shared/data/reuters-modapte-train.jsonl"
    result["seconds"] = round(time.perf_counter() - started, 1)
    enricher.close()
    return result


def main() -> None:
    """Print the topic figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    if not BBC.exists():
        raise SystemExit(f"{BBC} is absent")
    print(json.dumps(evaluate(parser.parse_args().limit)))


if __name__ == "__main__":
    main()
