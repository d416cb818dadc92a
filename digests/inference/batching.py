"""The one batching loop (texts sorted by length, so each batch pads little, results back in order), and the
one tokenize-generate-decode step every text-generating model shares."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

R = TypeVar("R")
_SPACE = re.compile(r"\s+")


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


def generate_texts(
    tokenizer: Any, model: Any, inputs: list[str], *, max_input_tokens: int, prompted: bool = False, **options: Any
) -> list[str]:
    """Tokenize ``inputs``, generate greedily or by beam search (never sampling) and decode, spaces folded.

    With ``prompted`` (a causal LM), the prompt's tokens are left out of what is returned.
    """
    encoded = tokenizer(inputs, padding=True, truncation=True, max_length=max_input_tokens, return_tensors="pt").to(
        model.device
    )
    generated = model.generate(**encoded, do_sample=False, **options)
    if prompted:
        generated = generated[:, encoded["input_ids"].shape[1] :]
    return [_SPACE.sub(" ", tokenizer.decode(ids, skip_special_tokens=True)).strip() for ids in generated]
