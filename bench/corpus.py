"""Article inputs for benchmarks: the shared reference data when present, generated text otherwise."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
BBC = SHARED_DATA / "bbc-news-summary.jsonl"

_WORDS = (
    "government minister talks agreement trade tariffs security cyber supply chain minerals energy market "
    "election parliament sanctions border military alliance summit economy growth inflation ports shipping "
    "officials said on Tuesday that the new plan would take effect next year after months of negotiations"
).split()


def _generated(count: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    for number in range(count):
        paragraphs = []
        for _ in range(rng.randint(3, 7)):
            sentences = [
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 22))).capitalize() + "."
                for _ in range(rng.randint(2, 5))
            ]
            paragraphs.append(" ".join(sentences))
        yield f"Generated briefing {number}", "\n\n".join(paragraphs)


def articles(count: int) -> tuple[str, list[tuple[str, str]]]:
    """Return (where they came from, [(title, body)]) for ``count`` articles."""
    if BBC.exists():
        rows = []
        with BBC.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                rows.append((record["title"], record["text"]))
        chosen = [rows[i % len(rows)] for i in range(count)]
        # Repeats get a distinct title so that each file is its own article.
        return "shared/data/bbc-news-summary.jsonl", [
            (title if i < len(rows) else f"{title} ({i // len(rows)})", body) for i, (title, body) in enumerate(chosen)
        ]
    return "generated text", list(_generated(count))


def write_article_folder(folder: Path, count: int) -> str:
    """Write ``count`` article files (title on the first line) into ``folder``; return the input's origin."""
    origin, rows = articles(count)
    folder.mkdir(parents=True, exist_ok=True)
    for number, (title, body) in enumerate(rows):
        (folder / f"article-{number:05d}.txt").write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return origin
