"""Summarizing: one interface, an extractive default and an abstractive option."""

from __future__ import annotations

from digests.settings import Settings
from digests.summarize.base import SectionInput, SectionSummary, Summarizer, article_summary
from digests.summarize.encoder import SentenceEncoder


def build_encoder(settings: Settings) -> SentenceEncoder:
    """Return the sentence encoder named in the settings (not loaded until first used)."""
    s = settings.summarize
    return SentenceEncoder(
        s.encoder, device=s.device, batch_size=max(s.batch_size, 32), offline=s.offline, int8=s.encoder_int8
    )


def build_summarizer(settings: Settings, encoder: SentenceEncoder | None = None) -> Summarizer:
    """Return the summarizer chosen in the settings; models load lazily, on first use."""
    from digests.summarize.abstractive import AbstractiveSummarizer
    from digests.summarize.extractive import ExtractiveSummarizer

    extractive = ExtractiveSummarizer(
        encoder or build_encoder(settings), sentences=settings.summarize.section_sentences
    )
    if settings.summarize.backend == "abstractive":
        return AbstractiveSummarizer(settings.summarize, extractive)
    return extractive


__all__ = [
    "SectionInput",
    "SectionSummary",
    "SentenceEncoder",
    "Summarizer",
    "article_summary",
    "build_encoder",
    "build_summarizer",
]
