"""Sentence splitting: Sitrep's splitter against pysbd and syntok on 80 labelled news paragraphs.

Run: .venv/bin/python -m bench.sentences
bench/labels/sentences.jsonl names each paragraph (story id, paragraph number in the shared data) and the
character offsets where its sentences start. The paragraphs were picked for hard cases (initials,
abbreviations, decimals, quotes); where the three splitters disagreed (13 paragraphs) the boundaries were
set by hand, elsewhere they are the three splitters' common answer. Reports exact paragraphs and boundary
precision and recall per splitter, and whether each one returns the text unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from bench.corpus import BBC, SHARED_DATA
from digests.text import split_sentences

LABELS = Path(__file__).with_name("labels") / "sentences.jsonl"
REUTERS = SHARED_DATA / "reuters-modapte-train.jsonl"
_PARAGRAPH = re.compile(r"\n\s*\n|\n    ")


def paragraphs(text: str) -> list[str]:
    """Split a story into paragraphs (blank lines, or Reuters' indented lines), white space collapsed."""
    return [" ".join(p.split()) for p in _PARAGRAPH.split(text) if p.strip()]


def starts(text: str, sentences: list[str]) -> set[int]:
    """Return where each sentence after the first starts in ``text``."""
    found, position = set(), 0
    for sentence in sentences:
        index = text.find(sentence.strip()[:20], position)
        if index < 0:
            continue
        if index > 0:
            found.add(index)
        position = index + 1
    return found


def _splitters() -> dict[str, Callable[[str], list[str]]]:
    import pysbd
    from syntok import segmenter

    sbd = pysbd.Segmenter(language="en", clean=False)

    def syntok(text: str) -> list[str]:
        return ["".join(t.spacing + t.value for t in s).strip() for p in segmenter.process(text) for s in p]

    return {"sitrep": split_sentences, "pysbd": lambda t: [s.strip() for s in sbd.segment(t)], "syntok": syntok}


def evaluate() -> dict:
    """Return exact-paragraph accuracy, boundary precision and recall, and text fidelity per splitter."""
    texts = {}
    for path in (REUTERS, BBC):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts[row["id"]] = row["text"]
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    result: dict = {"paragraphs": len(labels), "labels": "bench/labels/sentences.jsonl"}
    for name, split in _splitters().items():
        exact = tp = fp = fn = unchanged = 0
        for label in labels:
            text = paragraphs(texts[label["id"]])[label["paragraph"]]
            sentences = split(text)
            predicted, gold = starts(text, sentences), set(label["starts"])
            exact += predicted == gold
            tp, fp, fn = tp + len(predicted & gold), fp + len(predicted - gold), fn + len(gold - predicted)
            unchanged += "".join(sentences).replace(" ", "") == text.replace(" ", "")
        result[name] = {
            "exact": round(exact / len(labels), 3),
            "boundary_precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "boundary_recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "text_unchanged": round(unchanged / len(labels), 3),
        }
    return result


def main() -> None:
    """Print the comparison as JSON."""
    if not (REUTERS.exists() and BBC.exists()):
        raise SystemExit("../shared/data is absent")
    print(json.dumps(evaluate()))


if __name__ == "__main__":
    main()
