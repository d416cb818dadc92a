"""Summarizer throughput: the default (batched, sorted by length) against a naive use of the same model
(one sentence per forward pass, no batching, no caching), and the int8 encoder; peak memory of each.

Run: .venv/bin/python -m bench.summarizer_speed --mode default|naive|int8 [--sections N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.common import peak_rss_mb
from bench.corpus import articles
from digests.collect.sectionize import Sectionizer
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.summarize import SectionInput
from digests.summarize.extractive import ExtractiveSummarizer


def sections(count: int) -> tuple[str, list[SectionInput]]:
    """Return ``count`` sections of real articles (or generated ones) with their titles."""
    origin, rows = articles(count)
    sectionizer = Sectionizer(SectionSettings())
    result: list[SectionInput] = []
    for title, body in rows:
        for position, section in enumerate(sectionizer.split(body, title=title)):
            result.append(SectionInput(section.text, section.heading, title, position))
            if len(result) == count:
                return origin, result
    return origin, result


class _OneAtATime:
    """The same encoder used naively: one sentence per forward pass."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.inner = encoder
        self.model_id = encoder.model_id

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.concatenate([self.inner.encode([text]) for text in texts]) if texts else self.inner.encode([])


def run(mode: str, count: int) -> dict:
    """Summarize ``count`` sections in ``mode`` and return sections per second and peak memory."""
    origin, inputs = sections(count)
    encoder = SentenceEncoder(batch_size=64, int8=mode == "int8")
    encoder.encode(["warm up"])
    used = _OneAtATime(encoder) if mode == "naive" else encoder
    summarizer = ExtractiveSummarizer(used)  # type: ignore[arg-type]
    started = time.perf_counter()
    if mode == "naive":
        for section in inputs:
            summarizer.summarize([section])
    else:
        for start in range(0, len(inputs), 256):
            summarizer.summarize(inputs[start : start + 256])
    seconds = time.perf_counter() - started
    return {
        "mode": mode,
        "input": origin,
        "sections": len(inputs),
        "seconds": round(seconds, 2),
        "sections_per_second": round(len(inputs) / seconds, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Print one mode's figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["default", "naive", "int8"], default="default")
    parser.add_argument("--sections", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(run(args.mode, args.sections)))


if __name__ == "__main__":
    main()
