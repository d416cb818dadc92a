"""The faithfulness guard: a generated summary may state no number and no name its source lacks."""

from __future__ import annotations

import re

from digests.text import fold

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*[\w]|\b[A-Z]\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+|[\"“(]\s*)$")
# Words that open sentences in any summary; they are not names.
_FUNCTION_WORDS = frozenset(
    "a an the this that these those it its he she they we i there here in on at by for from with as of to and "
    "but or so if while when after before since during despite although however meanwhile also both".split()
)


def _numbers(text: str) -> set[str]:
    return {match.group(0).replace(",", "").rstrip(".") for match in _NUMBER.finditer(text)}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w'.-]+", fold(text)))


def unsupported_facts(summary: str, source: str) -> list[str]:
    """Return the numbers and names in ``summary`` that do not occur in ``source`` (empty when faithful)."""
    problems = [f"number {n}" for n in sorted(_numbers(summary) - _numbers(source))]
    source_words = _words(source)
    folded_source = fold(source)
    for match in _CAPITALISED.finditer(summary):
        word = match.group(0)
        bare = re.sub(r"['’]s$", "", word).rstrip(".")
        key = fold(bare)
        starts_sentence = bool(_SENTENCE_START.search(summary[: match.start()]))
        if starts_sentence and key in _FUNCTION_WORDS:
            continue
        if key in source_words or key in folded_source.split() or re.search(rf"\b{re.escape(key)}\b", folded_source):
            continue
        problems.append(f"name {bare}")
    return list(dict.fromkeys(problems))
