"""Summary quality against Lead-3 (the first three sentences), in domain and out of it.

Run: .venv/bin/python -m bench.summaries [--limit N]
- BBC held out: the default summarizer on BBC News Summary's odd lines (the scorer trains on even lines).
- BBC across categories: a scorer trained on the even lines of business, politics and tech, tested on the
  odd lines of sport and entertainment, and the other way round: news of kinds the scorer never saw.
- Reuters headlines: 400 Reuters stories never used for training, each scored against its own headline,
  an abstractive one-line reference of another outlet and style (ROUGE-1 F and recall, and words per
  summary, since a headline is short and F favours short candidates).
ROUGE is rouge-score with stemming; article summaries are at most three sentences, as digests show them.
Also reported: where the summary's sentences come from (the article's first sentence, the next two, later).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bench.corpus import BBC, SHARED_DATA
from bench.train_summarizer import article_sections, fit, split_rows
from digests.collect.sectionize import Sectionizer
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.summarize.extractive import ExtractiveSummarizer, Scorer, sentence_features
from digests.text import fold, sentences_of

REUTERS = SHARED_DATA / "reuters-modapte-train.jsonl"
_SPACE = re.compile(r"\s+")
_GROUPS = (("business", "politics", "tech"), ("sport", "entertainment"))


@dataclass(slots=True)
class Prepared:
    """An article split and scored once, so that several scorers can be compared on it."""

    row: dict
    split: list[list[str]]
    blocks: list[np.ndarray]

    def labels(self) -> np.ndarray:
        reference = fold(_SPACE.sub("", self.row["reference"]))
        return np.asarray(
            [1.0 if fold(_SPACE.sub("", s)) in reference else 0.0 for sentences in self.split for s in sentences]
        )


def prepare(rows: list[dict], encoder: SentenceEncoder) -> list[Prepared]:
    """Sectionize every article the way ingestion does and compute its sentence features."""
    sectionizer = Sectionizer(SectionSettings())
    prepared = []
    for row in rows:
        split, blocks = sentence_features(article_sections(row["title"], row["text"], sectionizer), encoder)
        prepared.append(Prepared(row, split, blocks))
    return prepared


def summary(summarizer: ExtractiveSummarizer, article: Prepared) -> list[tuple[int, str]]:
    """Return the article summary's sentences with their index in the article, at most three, none twice."""
    picked: list[tuple[int, str]] = []
    offset = 0
    for position, (sentences, block) in enumerate(zip(article.split, article.blocks, strict=True)):
        if sentences:
            picked.extend((offset + i, sentences[i]) for i in summarizer.choose(position, block))
        offset += len(sentences)
    unique = {fold(_SPACE.sub(" ", s)): (i, s) for i, s in reversed(picked)}
    return sorted(unique.values())[:3]


def score(summarizer: ExtractiveSummarizer, articles: list[Prepared], reference: str) -> dict:
    """Return ROUGE-1 of the summarizer and of Lead-3 against ``reference``, and where picks come from."""
    from rouge_score import rouge_scorer

    rouge = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    totals = Counter[str]()
    where = Counter[str]()
    for article in articles:
        ours = summary(summarizer, article)
        for index, _ in ours:
            where["first" if index == 0 else "second_third" if index < 3 else "later"] += 1
        lead = sentences_of(article.row["text"])[:3]
        gold = "\n".join(sentences_of(article.row[reference].replace(".", ". ")))
        for name, sentences in (("ours", [s for _, s in ours]), ("lead3", lead)):
            result = rouge.score(gold, "\n".join(sentences))["rouge1"]
            totals[f"{name}_f"] += result.fmeasure
            totals[f"{name}_recall"] += result.recall
            totals[f"{name}_words"] += sum(len(s.split()) for s in sentences)
    n = max(len(articles), 1)
    picks = max(sum(where.values()), 1)
    return {
        "articles": len(articles),
        "rouge1": round(100 * totals["ours_f"] / n, 2),
        "lead3_rouge1": round(100 * totals["lead3_f"] / n, 2),
        "ratio": round(totals["ours_f"] / max(totals["lead3_f"], 1e-9), 3),
        "rouge1_recall": round(100 * totals["ours_recall"] / n, 2),
        "lead3_rouge1_recall": round(100 * totals["lead3_recall"] / n, 2),
        "words": round(totals["ours_words"] / n, 1),
        "lead3_words": round(totals["lead3_words"] / n, 1),
        "picked_from": {k: round(where[k] / picks, 3) for k in ("first", "second_third", "later")},
    }


def _scorer(articles: list[Prepared]) -> Scorer:
    features = np.concatenate([b for a in articles for b in a.blocks])
    labels = np.concatenate([a.labels() for a in articles])
    model = fit(features, labels)
    return Scorer(
        np.asarray(model["weights"], dtype=np.float32),
        model["bias"],
        np.asarray(model["mean"], dtype=np.float32),
        np.asarray(model["scale"], dtype=np.float32),
    )


def evaluate(limit: int | None = None) -> dict:
    """Return the held-out, cross-category and Reuters-headline comparisons with Lead-3."""
    from bench.train_countries import load

    encoder = SentenceEncoder(batch_size=64, int8=True)
    default = ExtractiveSummarizer(encoder)
    started = time.perf_counter()
    train_rows, held_rows = split_rows(BBC)
    train = prepare(train_rows[:limit] if limit else train_rows, encoder)
    held = prepare(held_rows[:limit] if limit else held_rows, encoder)
    result: dict = {"bbc_held_out": score(default, held, "reference"), "bbc_across_categories": {}}
    for seen, unseen in (_GROUPS, _GROUPS[::-1]):
        summarizer = ExtractiveSummarizer(encoder, scorer=_scorer([a for a in train if a.row["topic"] in seen]))
        tested = [a for a in held if a.row["topic"] in unseen]
        result["bbc_across_categories"][f"{'+'.join(seen)} -> {'+'.join(unseen)}"] = score(
            summarizer, tested, "reference"
        )
    if REUTERS.exists():
        _, reuters = load(REUTERS)
        rows = [dict(r, reference=r["title"]) for r in reuters if r["title"] and len(r["text"].split()) > 120]
        result["reuters_headlines"] = score(default, prepare(rows[: limit or 400], encoder), "reference")
    result["input"] = "shared/data/bbc-news-summary.jsonl, shared/data/reuters-modapte-train.jsonl"
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    """Print the comparisons as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    if not BBC.exists():
        raise SystemExit(f"{BBC} is absent")
    print(json.dumps(evaluate(args.limit)))


if __name__ == "__main__":
    main()
