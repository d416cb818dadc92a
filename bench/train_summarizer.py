"""Train the extractive summarizer's sentence scorer on the BBC News Summary data.

Run: .venv/bin/python -m bench.train_summarizer ../shared/data/bbc-news-summary.jsonl
Articles with an even line number are used for training; the odd ones are held out for evaluation
(bench/summaries.py). The learned weights go to digests/summarize/scorer.json, which is committed.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

from digests.collect.sectionize import Sectionizer
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.summarize.base import SectionInput
from digests.summarize.extractive import FEATURES, SCORER_FILE, sentence_features
from digests.text import fold

_SPACE = re.compile(r"\s+")


def article_sections(title: str, text: str, sectionizer: Sectionizer) -> list[SectionInput]:
    """Sectionize an article the way ingestion does and return its summarizer inputs."""
    return [
        SectionInput(text=s.text, heading=s.heading, title=title, position=i)
        for i, s in enumerate(sectionizer.split(text, title=title))
    ]


def split_rows(path: Path) -> tuple[list[dict], list[dict]]:
    """Return (training, held-out) articles: even and odd line numbers."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[0::2], rows[1::2]


def build_dataset(rows: list[dict], encoder: SentenceEncoder) -> tuple[np.ndarray, np.ndarray]:
    """Return feature rows and labels: 1 where the sentence is in the article's reference summary."""
    sectionizer = Sectionizer(SectionSettings())
    features: list[np.ndarray] = []
    labels: list[float] = []
    for row in rows:
        sections = article_sections(row["title"], row["text"], sectionizer)
        reference = fold(_SPACE.sub("", row["reference"]))
        split, blocks = sentence_features(sections, encoder)
        for sentences, block in zip(split, blocks, strict=True):
            features.append(block)
            labels.extend(1.0 if fold(_SPACE.sub("", sentence)) in reference else 0.0 for sentence in sentences)
    return np.concatenate(features), np.asarray(labels, dtype=np.float32)


def fit(features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3, steps: int = 200) -> dict:
    """Fit a logistic regression on standardized features with L-BFGS; return it as JSON-ready data."""
    import torch

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = torch.tensor((features - mean) / scale, dtype=torch.float32)
    y = torch.tensor(labels)
    weights = torch.zeros(x.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ weights + bias, y) + l2 * (weights**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return {
        "features": list(FEATURES),
        "weights": [round(float(w), 6) for w in weights.detach()],
        "bias": round(float(bias.detach()[0]), 6),
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
    }


def main() -> None:
    """Train on the even lines of the BBC file and write scorer.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path, help="bbc-news-summary.jsonl")
    parser.add_argument("--out", type=Path, default=SCORER_FILE)
    args = parser.parse_args()
    started = time.perf_counter()
    train, _ = split_rows(args.data)
    features, labels = build_dataset(train, SentenceEncoder(batch_size=64))
    model = fit(features, labels)
    model["trained_on"] = f"{args.data.name}, even lines ({len(train)} articles, {len(labels)} sentences)"
    args.out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s; positive share {labels.mean():.3f}")
    for name, weight in zip(FEATURES, model["weights"], strict=True):
        print(f"  {name:24s} {weight:+.3f}")


if __name__ == "__main__":
    main()
