"""Summarizing: one interface, an extractive default and an abstractive option."""

from __future__ import annotations

from digests.inference import SentenceEncoder, build_encoder
from digests.settings import SummarizeSettings
from digests.summarize.base import SectionInput, SectionSummary, Summarizer, article_summary


def build_summarizer(settings: SummarizeSettings, encoder: SentenceEncoder | None = None) -> Summarizer:
    """Return the summarizer chosen in the settings; models load lazily, on first use."""
    from digests.summarize.abstractive import AbstractiveSummarizer
    from digests.summarize.extractive import ExtractiveSummarizer

    extractive = ExtractiveSummarizer(
        encoder or build_encoder(settings), sentences=settings.section_sentences, max_chars=settings.max_chars
    )
    if settings.backend == "abstractive":
        return AbstractiveSummarizer(settings, extractive)
    return extractive


__all__ = ["SectionInput", "SectionSummary", "Summarizer", "article_summary", "build_summarizer"]
