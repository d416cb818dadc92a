"""summarize-pending on both backends: sections summarized once, articles summarized and tagged, caches used."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from digests.inference import SentenceEncoder
from digests.services.collection import ingest
from digests.services.enrichment import Enricher, enrich_pending
from digests.store.db import Database
from digests.store.models import Article, CachedSummary, Section
from tests.conftest import REPO, SAMPLES, make_settings


async def _articles(database: Database) -> list[Article]:
    async with database.sessions() as session:
        rows = await session.scalars(
            select(Article)
            .order_by(Article.id)
            .options(selectinload(Article.sections), selectinload(Article.countries), selectinload(Article.topics))
        )
        return list(rows)


async def test_summarize_and_tag_pending(database: Database, encoder: SentenceEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES / "articles", folder)
    settings = make_settings(database.url)
    await ingest([str(folder)], database=database, settings=settings)
    enricher = Enricher(settings, encoder=encoder)
    try:
        seen: list[tuple[int, int]] = []
        report = await enrich_pending(
            database=database, enricher=enricher, batch_size=5, progress=lambda *step: seen.append(step)
        )
        assert len(seen) > 2  # told after every batch, not only at the end
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)
        assert seen[-1] == (report.sections_summarized + report.articles_tagged,) * 2
        articles = await _articles(database)
        assert report.articles_tagged == len(articles) == 5
        assert report.sections_summarized == sum(len(a.sections) for a in articles)
        assert report.cache_hits == 0
        for article in articles:
            assert article.summary
            assert not article.needs_tagging
            assert all(s.summary and not s.needs_summary for s in article.sections)
            assert all(s.summary_backend == "extractive" and s.summarized_at for s in article.sections)
        japan = next(a for a in articles if a.title.startswith("Japan"))
        assert [c.code for c in japan.countries][:2] in (["JP", "GB"], ["GB", "JP"])
        assert {c.code for c in japan.countries} == {"JP", "GB", "CN", "TW", "US"}
        assert {t.topic for t in japan.topics} == {
            "cybersecurity",
            "critical minerals and supply chains",
            "diplomacy and alliances",
        }
        assert japan.summary.count(". ") <= 2

        # A second run has nothing to do.
        again = await enrich_pending(database=database, enricher=enricher)
        assert (again.sections_summarized, again.articles_tagged) == (0, 0)

        # An edited article: only its changed section is summarized again; the rest come from the cache.
        path = folder / "kenya-geothermal.txt"
        path.write_text(path.read_text() + "\nA late paragraph adds that the first new plant opens in March.\n")
        updated = await ingest([str(folder)], database=database, settings=settings)
        assert updated.updated == 1
        third = await enrich_pending(database=database, enricher=enricher)
        assert third.articles_tagged == 1
        async with database.sessions() as session:
            cached = len((await session.scalars(select(CachedSummary))).all())
            sections = len((await session.scalars(select(Section))).all())
        assert cached <= sections + 1
    finally:
        enricher.close()


async def test_taxonomy_change_retags_everything(sqlite_database: Database, encoder: SentenceEncoder,
                                                 tmp_path: Path) -> None:  # fmt: skip
    topics_file = tmp_path / "topics.toml"
    topics_file.write_text((REPO / "config" / "topics.toml").read_text())
    settings = make_settings(sqlite_database.url, tagging={"topics_file": str(topics_file)})
    await ingest([str(SAMPLES / "articles")], database=sqlite_database, settings=settings)
    enricher = Enricher(settings, encoder=encoder)
    await enrich_pending(database=sqlite_database, enricher=enricher)
    topics_file.write_text(
        '[[topic]]\nname = "geothermal"\ndescription = "Heat from the earth turned into power."\n'
        'keywords = ["geothermal", "Olkaria"]\n'
    )
    os.utime(topics_file, ns=(1, time.time_ns() + 10**9))  # a later modification time, as an edit gives
    try:  # the same running enricher notices the edited file
        report = await enrich_pending(database=sqlite_database, enricher=enricher)
    finally:
        enricher.close()
    assert (report.articles_tagged, report.sections_summarized) == (5, 0)
    articles = await _articles(sqlite_database)
    tagged = {a.title: [t.topic for t in a.topics] for a in articles}
    assert tagged["Kenya Expands Geothermal Power in the Rift Valley"] == ["geothermal"]
    assert all(topics in ([], ["geothermal"]) for topics in tagged.values())


def test_each_sentence_is_encoded_once_for_summary_and_tags() -> None:
    from digests.collect.parse import parse_file
    from digests.summarize import SectionInput

    enricher = Enricher(make_settings(summarize={"embedding_cache": 1000}))
    try:
        path = SAMPLES / "articles" / "japan-britain-cyber-minerals.txt"
        (article,) = parse_file(path.read_bytes(), path=path, sectionizer=enricher.sectionizer, teaser_chars=600)
        sections = [SectionInput(s.text, s.heading, article.title, i) for i, s in enumerate(article.sections)]
        enricher.summarize(sections)
        summarized = enricher.encoder.encoded
        (tags,) = enricher.tag([(article.title, article.text)])
        # Tagging reuses the summarizer's sentence vectors: new are only the headings (not summarized) and,
        # the first time, the topics' descriptions and example headlines.
        prototypes = sum(1 + len(topic.examples) for topic in enricher.taxonomy)
        assert enricher.encoder.encoded - summarized <= len(article.sections) + prototypes
        assert "cybersecurity" in [t.name for t in tags.topics]
        again = enricher.encoder.encode(["A sentence.", "Another one."])
        assert np.allclose(again, enricher.encoder.encode(["A sentence.", "Another one."]))
    finally:
        enricher.close()


def test_the_embedding_cache_keeps_only_the_most_recent() -> None:
    encoder = SentenceEncoder(int8=True, cache_size=2)
    first = encoder.encode(["one", "two", "three"])
    assert encoder.encoded == 3
    assert len(encoder._cache) == 2
    assert np.allclose(encoder.encode(["three"]), first[2:])  # kept: no new encoding
    assert encoder.encoded == 3
    encoder.encode(["one"])  # dropped earlier: encoded again
    assert encoder.encoded == 4


async def test_story_placement_is_told_as_it_goes(database: Database, encoder: SentenceEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES / "articles", folder)
    settings = make_settings(database.url, stories={"batch_size": 2})
    await ingest([str(folder)], database=database, settings=settings)
    enricher = Enricher(settings, encoder=encoder)
    try:
        placed: list[int] = []
        report = await enrich_pending(database=database, enricher=enricher, placed=placed.append)
    finally:
        enricher.close()
    assert len(placed) >= 3  # after every batch of two
    assert placed == sorted(placed)
    assert placed[-1] == report.articles_placed == 5
