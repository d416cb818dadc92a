"""The sentence encoder's runtimes at equal quality: PyTorch and ONNX Runtime, fp32 and int8.

Run: .venv/bin/python -m bench.encoders [--articles 400]   (each variant in a child process)
     .venv/bin/python -m bench.encoders --variant onnx-int8 [--articles 400]

Per variant: seconds to encode every sentence of the first ``articles`` BBC held-out articles (the summarizer's
whole input, one pass, after the model is loaded), the summaries' ROUGE-1 F against BBC's references, the mean
and lowest cosine of its vectors to plain fp32 PyTorch's, and peak memory.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.common import in_child, peak_rss_mb
from bench.corpus import BBC
from bench.summaries import prepare, score
from bench.train_summarizer import article_sections, split_rows
from digests.collect.sectionize import Sectionizer
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.summarize.extractive import ExtractiveSummarizer
from digests.text import sentences_of

VARIANTS = {
    "torch-fp32": ("torch", False),
    "torch-int8": ("torch", True),
    "onnx-fp32": ("onnx", False),
    "onnx-int8": ("onnx", True),
}


def _sentences(rows: list[dict]) -> list[str]:
    sectionizer = Sectionizer(SectionSettings())
    return [
        sentence
        for row in rows
        for section in article_sections(row["title"], row["text"], sectionizer)
        for sentence in sentences_of(section.text)
    ]


def variant(name: str, articles: int) -> dict:
    """Measure one runtime and precision."""
    runtime, int8 = VARIANTS[name]
    _, held = split_rows(BBC)
    rows = held[:articles]
    sentences = _sentences(rows)
    encoder = SentenceEncoder(runtime=runtime, int8=int8)  # type: ignore[arg-type]
    encoder.encode(["warm up"])
    started = time.perf_counter()
    vectors = encoder.encode(sentences)
    seconds = time.perf_counter() - started
    reference = SentenceEncoder(runtime="torch").encode(sentences[:500]) if name != "torch-fp32" else vectors[:500]
    cosines = (vectors[:500] * reference).sum(axis=1)
    rouge = score(ExtractiveSummarizer(encoder), prepare(rows, encoder), "reference")
    return {
        "variant": name,
        "sentences": len(sentences),
        "seconds": round(seconds, 2),
        "sentences_per_second": round(len(sentences) / seconds, 1),
        "rouge1": rouge["rouge1"],
        "lead3_rouge1": rouge["lead3_rouge1"],
        "cosine_to_fp32_mean": round(float(np.mean(cosines)), 4),
        "cosine_to_fp32_min": round(float(np.min(cosines)), 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    """Print every variant's figures (or one variant's) as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    args = parser.parse_args()
    if not BBC.exists():
        raise SystemExit(f"{BBC} is absent")
    if args.variant:
        print(json.dumps(variant(args.variant, args.articles)))
        return
    results = [in_child("bench.encoders", "--variant", name, "--articles", str(args.articles)) for name in VARIANTS]
    print(
        json.dumps(
            {"input": f"shared/data/bbc-news-summary.jsonl, held out, first {args.articles}", "results": results}
        )
    )


if __name__ == "__main__":
    main()
