"""Summarizers on real text: the extractive default, the abstractive path with tiny models, the guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from digests.collect.parse import parse_text
from digests.collect.sectionize import Sectionizer
from digests.inference import ModelLoadError, SentenceEncoder
from digests.render.discord import FIELD_VALUE as FIELD_LIMIT
from digests.settings import SectionSettings, SummarizeSettings
from digests.summarize import SectionInput, article_summary
from digests.summarize.abstractive import AbstractiveSummarizer
from digests.summarize.base import join_within
from digests.summarize.extractive import ExtractiveSummarizer
from digests.summarize.guard import unsupported_facts
from digests.text import cut
from tests.conftest import SAMPLES
from tests.models import build_causal, build_seq2seq

SOURCE = (
    "Japan and Britain signed an agreement on cyber defence and critical minerals on Thursday. "
    "The supply of minerals matters to both. Officials will publish a plan within six months."
)


@pytest.fixture(scope="session")
def extractive(encoder: SentenceEncoder) -> ExtractiveSummarizer:
    return ExtractiveSummarizer(encoder)


def _sample_sections() -> list[SectionInput]:
    path = SAMPLES / "articles" / "japan-britain-cyber-minerals.txt"
    article = parse_text(path.read_text(), path=path, sectionizer=Sectionizer(SectionSettings()), source_name="s")
    return [SectionInput(s.text, s.heading, article.title, i) for i, s in enumerate(article.sections)]


def test_extractive_picks_whole_sentences_from_each_section(extractive: ExtractiveSummarizer) -> None:
    sections = _sample_sections()
    summaries = extractive.summarize(sections)
    assert len(summaries) == len(sections) == 4
    for section, summary in zip(sections, summaries, strict=True):
        assert summary.backend == "extractive"
        assert not summary.fallback
        assert 0 < len(summary.summary) <= FIELD_LIMIT
        assert len(summary.summary) < len(section.text)
        # Every sentence of the summary is a sentence of its section, in the section's order.
        positions = [section.text.index(sentence) for sentence in summary.summary.split(". ") if sentence]
        assert positions == sorted(positions)
    lead = article_summary([s.summary for s in summaries], 3)
    assert lead.count(". ") <= 2
    assert "Tokyo and London" in lead or "Japan" in lead


def test_extractive_is_deterministic_and_order_independent(extractive: ExtractiveSummarizer) -> None:
    sections = _sample_sections()
    forward = [s.summary for s in extractive.summarize(sections)]
    backward = [s.summary for s in extractive.summarize(sections[::-1])][::-1]
    assert forward == backward


def test_huge_single_sentence_is_cut_to_a_field(extractive: ExtractiveSummarizer) -> None:
    (summary,) = extractive.summarize([SectionInput("word " * 600 + "end.")])
    assert len(summary.summary) <= FIELD_LIMIT
    assert summary.summary.endswith("…")


def test_helpers() -> None:
    assert cut("one two three", 9) == "one two…"
    assert join_within(["A b.", "C d.", "E f."], 9) == "A b. C d."
    assert article_summary(["One. Two.", "Three. Four."], 3) == "One. Two. Three."


@pytest.mark.parametrize(
    ("summary", "problems"),
    [
        ("Japan and Britain signed an agreement.", []),
        ("The supply of minerals matters.", []),
        ("Japan and France signed an agreement.", ["name France"]),
        ("They will publish a plan within 7 months.", ["number 7"]),
        ("Britain's officials met on Thursday.", []),
        ("Officials in Tokyo met 3,000 delegates.", ["number 3000", "name Tokyo"]),
    ],
)
def test_guard(summary: str, problems: list[str]) -> None:
    assert unsupported_facts(summary, SOURCE) == problems


def _abstractive(folder: Path, extractive: ExtractiveSummarizer, **kw: object) -> AbstractiveSummarizer:
    settings = SummarizeSettings(backend="abstractive", model=str(folder), max_new_tokens=8, offline=True, **kw)
    return AbstractiveSummarizer(settings, extractive)


@pytest.mark.slow
def test_seq2seq_output_used_when_faithful(tmp_path: Path, extractive: ExtractiveSummarizer) -> None:
    summarizer = _abstractive(build_seq2seq(tmp_path / "s2s", always="minerals"), extractive)
    (result,) = summarizer.summarize([SectionInput(SOURCE)])
    assert result.summary == " ".join(["minerals"] * 8)
    assert (result.backend, result.fallback) == ("abstractive", False)
    assert result.model_id == str(tmp_path / "s2s")


@pytest.mark.slow
def test_seq2seq_invention_falls_back_to_extractive(tmp_path: Path, extractive: ExtractiveSummarizer) -> None:
    summarizer = _abstractive(build_seq2seq(tmp_path / "s2s-bad", always="Atlantis"), extractive)
    sections = [SectionInput(SOURCE), SectionInput("A second section about supply. It has two sentences.")]
    results = summarizer.summarize(sections)
    assert all(r.fallback for r in results)
    assert [r.summary for r in results] == [s.summary for s in extractive.summarize(sections)]
    assert "Atlantis" not in results[0].summary


@pytest.mark.slow
def test_causal_lm_with_prompt_decodes_only_new_tokens(tmp_path: Path, extractive: ExtractiveSummarizer) -> None:
    summarizer = _abstractive(
        build_causal(tmp_path / "llm", always="minerals"), extractive, model_kind="auto", num_beams=1
    )
    (result,) = summarizer.summarize([SectionInput(SOURCE)])
    assert (result.summary, result.fallback) == (" ".join(["minerals"] * 8), False)


def test_missing_model_is_one_clear_error(tmp_path: Path, extractive: ExtractiveSummarizer) -> None:
    summarizer = _abstractive(tmp_path / "nowhere", extractive)
    with pytest.raises(ModelLoadError, match="cannot load the model") as caught:
        summarizer.summarize([SectionInput(SOURCE)])
    assert str(tmp_path / "nowhere") in str(caught.value)
    assert "offline mode is on" in str(caught.value)


def test_hub_name_offline_says_how_to_provide_it(extractive: ExtractiveSummarizer) -> None:
    settings = SummarizeSettings(backend="abstractive", model="sshleifer/distilbart-cnn-12-6", offline=True)
    with pytest.raises(ModelLoadError, match="local folder"):
        AbstractiveSummarizer(settings, extractive).summarize([SectionInput(SOURCE)])


def test_encoder_that_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load the model"):
        SentenceEncoder(str(tmp_path / "no-encoder"), offline=True).encode(["text"])


def test_the_lead_section_keeps_its_first_sentence(extractive: ExtractiveSummarizer) -> None:
    import numpy as np

    from digests.summarize.extractive import FEATURES, Scorer

    # A scorer that prefers the last sentences of a section, as one trained on other news might.
    weights = np.zeros(len(FEATURES), dtype=np.float32)
    weights[FEATURES.index("relative_position")] = 5.0
    late = Scorer(weights, 0.0, np.zeros(len(FEATURES), dtype=np.float32), np.ones(len(FEATURES), dtype=np.float32))
    summarizer = ExtractiveSummarizer(extractive.encoder, scorer=late)
    text = " ".join(f"Sentence number {n} says something new about the port." for n in range(1, 7))
    lead, later = summarizer.summarize([SectionInput(text, position=0), SectionInput(text, position=1)])
    assert lead.summary.startswith("Sentence number 1 ")
    assert not later.summary.startswith("Sentence number 1 ")
    assert "Sentence number 6" in lead.summary  # the scorer still chooses the rest


def test_article_summary_never_repeats_a_sentence() -> None:
    same = "Ministers met in Tokyo on Monday."
    assert article_summary([f"{same} They agreed a pact.", f"{same} Talks resume in May."]) == (
        f"{same} They agreed a pact. Talks resume in May."
    )


def test_an_unreachable_hub_is_asked_once_and_fails_fast(
    monkeypatch: pytest.MonkeyPatch, extractive: ExtractiveSummarizer
) -> None:
    import time

    from digests.inference import loading

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: refused at once
    loading.hub_reachable.cache_clear()
    try:
        settings = SummarizeSettings(backend="abstractive", model="someone/no-such-summarizer")
        started = time.monotonic()
        with pytest.raises(ModelLoadError, match="unreachable from here"):
            AbstractiveSummarizer(settings, extractive).summarize([SectionInput(SOURCE)])
        assert time.monotonic() - started < 10  # no rounds of hub retries
    finally:
        loading.hub_reachable.cache_clear()
