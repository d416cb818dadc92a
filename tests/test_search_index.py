"""Search by meaning through the vector index: every article, kept in step with the table, on both backends."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from digests.services import queries
from digests.store import vectors
from digests.store.db import Database
from digests.store.models import ArticleVector
from digests.store.records import ArticleFilter
from tests.factories import add_article, add_source

NOW = datetime.now(UTC)
DIMENSIONS = 16


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIMENSIONS).astype(np.float32)
    return vector / np.linalg.norm(vector)


async def _store_vector(database: Database, article_id: int, vector: np.ndarray) -> None:
    async with database.sessions.begin() as session:
        row = await session.get(ArticleVector, article_id)
        data = vector.astype(np.float16).tobytes()
        if row is None:
            session.add(ArticleVector(article_id=article_id, model_id="test", vector=data))
        else:
            row.vector, row.updated_at = data, datetime.now(UTC)


@pytest.fixture(autouse=True)
def _refresh_at_every_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "REFRESH_SECONDS", 0.0)


async def _search(database: Database, vector: np.ndarray, guild_id: int | None = None) -> list[str]:
    """Search once the index has read what the table holds now (searches start that read, in the background)."""
    query = ArticleFilter(guild_id=guild_id)
    await queries.rank(database, vector, "", query, limit=3, candidates=2)
    await database.vectors.built()
    # Only the two newest articles are scanned without the index: older ones are found through it.
    found = await queries.rank(database, vector, "", query, limit=3, candidates=2)
    return [record.title for record in found]


async def _corpus(database: Database, count: int = 12) -> list[int]:
    ids = []
    for number in range(count):
        ids.append(await add_article(database, f"Article {number}", ready_at=NOW - timedelta(hours=count - number)))
        await _store_vector(database, ids[-1], _unit(number))
    return ids


async def test_the_first_search_scans_while_the_index_is_read_beside_it(database: Database) -> None:
    for number in range(12):
        added = await add_article(database, f"Article {number}", ready_at=NOW - timedelta(hours=12 - number))
        await _store_vector(database, added, _unit(number))
    query = ArticleFilter(guild_id=None)
    first = await queries.rank(database, _unit(0), "", query, limit=3, candidates=2)
    assert "Article 0" not in [record.title for record in first]  # outside the two newest, which were scanned
    await database.vectors.built()
    assert database.vectors.ready
    again = await queries.rank(database, _unit(0), "", query, limit=3, candidates=2)
    assert again[0].title == "Article 0"


async def test_old_articles_are_found_by_meaning(database: Database) -> None:
    await _corpus(database)
    assert (await _search(database, _unit(0)))[0] == "Article 0"  # the oldest, far outside the scanned two
    assert database.vectors.size == 12


async def test_the_index_follows_new_and_rewritten_vectors(database: Database) -> None:
    ids = await _corpus(database)
    await _search(database, _unit(3))
    added = await add_article(database, "Late arrival", ready_at=NOW - timedelta(days=3))
    await _store_vector(database, added, _unit(100))
    assert (await _search(database, _unit(100)))[0] == "Late arrival"
    await _store_vector(database, ids[5], -_unit(5))  # tagged again: its old vector no longer matches
    assert (await _search(database, -_unit(5)))[0] == "Article 5"
    assert "Article 5" not in (await _search(database, _unit(5)))[:1]
    assert database.vectors.size == 13


async def test_searches_start_a_refresh_at_most_every_refresh_seconds(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _corpus(database)
    await _search(database, _unit(0))  # read whole: the throttle now counts from here
    monkeypatch.setattr(vectors, "REFRESH_SECONDS", 3600.0)
    added = await add_article(database, "Late arrival", ready_at=NOW - timedelta(days=3))
    await _store_vector(database, added, _unit(100))
    assert "Late arrival" not in await _search(database, _unit(100))  # too soon: no refresh started
    assert database.vectors.size == 12
    monkeypatch.setattr(vectors, "REFRESH_SECONDS", 0.0)
    assert (await _search(database, _unit(100)))[0] == "Late arrival"
    assert database.vectors.size == 13


async def test_rows_read_again_within_the_margin_are_not_indexed_again(database: Database) -> None:
    ids = await _corpus(database)
    async with database.sessions() as session:
        assert await database.vectors.refresh(session) == 12
        assert await database.vectors.refresh(session) == 0  # all within the margin: read, but known
    await _store_vector(database, ids[2], -_unit(2))
    async with database.sessions() as session:
        assert await database.vectors.refresh(session) == 1  # the rewritten one alone


async def test_filters_apply_to_what_the_index_finds(database: Database) -> None:
    await _corpus(database)
    private = await add_source(database, "Private", guild_id=7)
    hidden = await add_article(database, "Their note", ready_at=NOW - timedelta(days=5), source_id=private)
    await _store_vector(database, hidden, _unit(300))
    assert "Their note" not in await _search(database, _unit(300), guild_id=1)
    assert (await _search(database, _unit(300), guild_id=7))[0] == "Their note"


async def test_a_kept_index_is_read_back_and_refused_for_another_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}"
    first = Database(url)
    await first.migrate()
    await _corpus(first)
    await _search(first, _unit(1))
    await first.dispose()
    kept = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.glob("kept.vectors.*")))
    assert len(kept) == 2  # one saved index, and its description naming it
    assert kept[1] == "kept.vectors.usearch.json"

    again = Database(url)
    with caplog.at_level(logging.INFO):
        assert (await _search(again, _unit(2)))[0] == "Article 2"
    assert "Read the search index of 12 article(s)" in caplog.text
    await again.dispose()

    (tmp_path / "kept.db").unlink()  # a new database where the old one was, beside the old index
    other = Database(url)
    await other.migrate()
    only = await add_article(other, "Only article", ready_at=NOW)
    await _store_vector(other, only, _unit(2))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert await _search(other, _unit(2)) == ["Only article"]
    assert "of another database" in caplog.text
    assert other.vectors.size == 1
    await other.dispose()
