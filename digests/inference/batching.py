"""The one batching loop: texts sorted by length, so each batch pads little, results back in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

R = TypeVar("R")


def by_length(texts: Sequence[str], batch_size: int, run: Callable[[list[str]], Iterable[R]]) -> list[R]:
    """Call ``run`` on batches of similar length and return its results in the order of ``texts``."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    results: dict[int, R] = {}
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        outputs = run([texts[i] for i in batch])
        for index, output in zip(batch, outputs, strict=True):
            results[index] = output
    return [results[i] for i in range(len(texts))]
