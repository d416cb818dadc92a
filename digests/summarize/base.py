"""The one summarizer interface, and the helpers every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from digests.text import cut, fold_spaces, split_sentences


@dataclass(slots=True, frozen=True)
class SectionInput:
    """A section to summarize, with the context that helps: its heading, position and article title."""

    text: str
    heading: str | None = None
    title: str = ""
    position: int = 0


@dataclass(slots=True, frozen=True)
class SectionSummary:
    """A section's summary and where it came from."""

    summary: str
    backend: str
    model_id: str
    fallback: bool = False


class Summarizer(Protocol):
    """Condenses sections; ``summarize`` is blocking work, to be run in an executor."""

    backend: str
    model_id: str

    @property
    def cache_key(self) -> str:
        """Identify the model and parameters, so that cached summaries are reused only when they match."""
        ...

    def summarize(self, sections: Sequence[SectionInput]) -> list[SectionSummary]:
        """Return one summary per section, in order."""
        ...


def join_within(sentences: Sequence[str], limit: int) -> str:
    """Join whole sentences while they fit in ``limit``; a first sentence that is too long is cut."""
    kept: list[str] = []
    size = 0
    for sentence in sentences:
        extra = len(sentence) + (1 if kept else 0)
        if kept and size + extra > limit:
            break
        kept.append(sentence)
        size += extra
    return cut(" ".join(kept), limit)


def article_summary(section_summaries: Sequence[str], sentences: int = 3) -> str:
    """Return the article's summary: the first section summaries, at most ``sentences`` sentences, none twice."""
    picked: dict[str, str] = {}
    for summary in section_summaries:
        for sentence in split_sentences(summary):
            if len(picked) == sentences:
                return " ".join(picked.values())
            picked.setdefault(fold_spaces(sentence), sentence)
    return " ".join(picked.values())
