"""Summary quality on BBC News Summary: ROUGE-1/2/Lsum (rouge-score, stemming) of the default
summarizer against Lead-3, on the articles held out from the scorer's training (odd lines).

Run: .venv/bin/python -m bench.summaries [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time

from bench.corpus import BBC
from digests.collect.sectionize import Sectionizer
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.summarize.base import article_summary
from digests.summarize.extractive import ExtractiveSummarizer
from digests.summarize.train import article_sections, split_rows
from digests.text import sentences_of


def _rouge() -> object:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


def evaluate(limit: int | None = None, sentences: int = 3, *, int8: bool = True) -> dict:
    """Return mean ROUGE F1 (x100) of the default summarizer and of Lead-3, and the summarizer's speed."""
    _, held_out = split_rows(BBC)
    held_out = held_out[:limit] if limit else held_out
    scorer = _rouge()
    sectionizer = Sectionizer(SectionSettings())
    summarizer = ExtractiveSummarizer(SentenceEncoder(batch_size=64, int8=int8))
    per_article = [article_sections(row["title"], row["text"], sectionizer) for row in held_out]
    flat = [section for sections in per_article for section in sections]
    started = time.perf_counter()
    summaries = []
    for start in range(0, len(flat), 256):
        summaries.extend(summarizer.summarize(flat[start : start + 256]))
    seconds = time.perf_counter() - started
    totals = {"summarizer": dict.fromkeys(("rouge1", "rouge2", "rougeLsum"), 0.0)}
    totals["lead3"] = dict(totals["summarizer"])
    offset = 0
    for row, sections in zip(held_out, per_article, strict=True):
        ours = article_summary([s.summary for s in summaries[offset : offset + len(sections)]], sentences)
        offset += len(sections)
        lead = sentences_of(row["text"])[:3]
        reference = "\n".join(sentences_of(row["reference"].replace(".", ". ")))
        for name, candidate in (("summarizer", "\n".join(sentences_of(ours))), ("lead3", "\n".join(lead))):
            result = scorer.score(reference, candidate)  # type: ignore[attr-defined]
            for metric in totals[name]:
                totals[name][metric] += result[metric].fmeasure
    n = len(held_out)
    return {
        "input": "shared/data/bbc-news-summary.jsonl, odd lines (held out from training)",
        "articles": n,
        "encoder": summarizer.model_id,
        "summarizer": {k: round(100 * v / n, 2) for k, v in totals["summarizer"].items()},
        "lead3": {k: round(100 * v / n, 2) for k, v in totals["lead3"].items()},
        "sections_per_second": round(len(flat) / seconds, 1),
    }


def main() -> None:
    """Print the ROUGE table as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--plain", action="store_true", help="Use the plain encoder instead of the default int8 one.")
    args = parser.parse_args()
    if not BBC.exists():
        raise SystemExit(f"{BBC} is absent")
    print(json.dumps(evaluate(args.limit, int8=not args.plain)))


if __name__ == "__main__":
    main()
