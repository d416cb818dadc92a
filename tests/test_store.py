"""The store on both backends: migrations, deduplication, updates in place, source health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from digests.collect.parse import ParsedArticle
from digests.collect.sectionize import RawSection
from digests.kinds import SourceKind
from digests.services.collection import article_in
from digests.store import articles as repo
from digests.store import sources as source_repo
from digests.store.db import Database
from digests.store.models import Article, Section, Source
from digests.store.records import ArticleIn, SourceIn
from tests.factories import count_articles, get_article


def article(text: str = "Body text.", *, url: str = "https://news.example/a?utm_source=rss", **kw: object) -> ArticleIn:
    values: dict[str, object] = {
        "title": "Title",
        "sections": [RawSection("What's Happening?", text), RawSection("What's Next?", "More to come.")],
        "source_name": "Example",
        "url": url,
    }
    return article_in(ParsedArticle(**(values | kw)))  # type: ignore[arg-type]


async def test_store_dedupes_and_updates_in_place(database: Database) -> None:
    async with database.sessions.begin() as session:
        assert await repo.store_articles([article()], source_id=None, guild_id=0, session=session) == {"new": 1}
    async with database.sessions.begin() as session:
        # The same article again, reached through a URL with other tracking parameters.
        again = article(url="https://news.example/a?utm_medium=email#top")
        assert await repo.store_articles([again], source_id=None, guild_id=0, session=session) == {"unchanged": 1}

    async with database.sessions.begin() as session:
        sections = (await session.scalars(select(Section).order_by(Section.position))).all()
        for section in sections:
            section.summary = f"summary of {section.heading}"
            section.needs_summary = False

    async with database.sessions.begin() as session:
        changed = article("Body text, now corrected.")
        assert await repo.store_articles([changed], source_id=None, guild_id=0, session=session) == {"updated": 1}

    async with database.sessions() as session:
        articles = (await session.scalars(select(Article))).all()
        assert len(articles) == 1
    stored = await get_article(database, articles[0].id)
    assert stored is not None
    assert [s.text for s in stored.sections] == ["Body text, now corrected.", "More to come."]
    # Only the changed section needs a new summary; the unchanged one keeps its own.
    assert [s.needs_summary for s in stored.sections] == [True, False]
    assert stored.sections[1].summary == "summary of What's Next?"
    assert stored.updated_at >= stored.collected_at
    assert stored.updated_at.tzinfo is not None


async def test_teaser_never_replaces_stored_text(database: Database) -> None:
    async with database.sessions.begin() as session:
        await repo.store_articles([article("The full story, long.")], source_id=None, guild_id=0, session=session)
    async with database.sessions.begin() as session:
        teaser = article("Short teaser.", teaser=True)
        assert await repo.store_articles([teaser], source_id=None, guild_id=0, session=session) == {"unchanged": 1}
    async with database.sessions() as session:
        assert (await session.scalar(select(Article.text))).startswith("## What's Happening?\n\nThe full story")


async def test_duplicate_entries_in_one_batch_are_stored_once(database: Database) -> None:
    async with database.sessions.begin() as session:
        outcomes = await repo.store_articles(
            [article("v1"), article("v2")], source_id=None, guild_id=0, session=session
        )
    assert outcomes == {"new": 1}
    async with database.sessions() as session:
        assert await count_articles(database) == 1
        assert "v2" in (await session.scalar(select(Article.text)))


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with database.sessions.begin() as session:
            await repo.store_articles(
                [article(published_at=datetime(2026, 1, 1))], source_id=None, guild_id=0, session=session
            )
    async with database.sessions() as session:
        assert await count_articles(database) == 0


async def test_times_come_back_aware_utc(database: Database) -> None:
    published = datetime(2026, 3, 1, 9, 30, tzinfo=UTC) + timedelta(hours=0)
    async with database.sessions.begin() as session:
        await repo.store_articles([article(published_at=published)], source_id=None, guild_id=0, session=session)
    async with database.sessions() as session:
        stored = await session.scalar(select(Article))
    assert stored is not None
    assert stored.published_at == published
    assert stored.published_at.utcoffset() == timedelta(0)


async def test_config_sources_sync_keeps_history(database: Database) -> None:
    specs = [SourceIn(name="A", location="https://a.example/rss", kind=SourceKind.FEED, interval_minutes=15)]
    async with database.sessions.begin() as session:
        (source,) = await source_repo.sync_config_sources(specs, session=session)
        row = await session.get(Source, source.id)
        assert row is not None
        row.failures = 2
        row.etag = '"x"'
    async with database.sessions.begin() as session:
        (source,) = await source_repo.sync_config_sources(specs, session=session)
        assert (source.failures, source.etag) == (2, '"x"')
    async with database.sessions.begin() as session:
        await source_repo.sync_config_sources([], session=session)
    async with database.sessions() as session:
        (stored,) = await source_repo.list_sources(session=session)
    assert not stored.enabled
    assert stored.disabled_reason == "no longer listed in the sources file"


async def test_failures_back_off_and_then_disable(database: Database) -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    async with database.sessions.begin() as session:
        source = Source(name="flaky", kind="feed", location="https://f.example/rss", interval_minutes=10)
        session.add(source)
        await session.flush()
        delays = []
        for _ in range(3):
            failed = await source_repo.record_failure(
                source.id, now, "answered HTTP 500", max_backoff_minutes=60, max_failures=3, session=session
            )
            assert failed is not None
            assert failed.next_fetch_at is not None
            delays.append((failed.next_fetch_at - now).total_seconds() / 60)
        assert delays == [20, 40, 60]  # base times 2^failures, capped at an hour
        assert not failed.enabled
        assert "3 failures" in (failed.disabled_reason or "")
    async with database.sessions() as session:
        claimed = await source_repo.claim_due_sources(
            now + timedelta(days=1), lease=timedelta(minutes=5), session=session
        )
        assert claimed == []


async def test_migration_gives_existing_articles_their_sources_server(tmp_path: Path) -> None:
    from alembic import command

    from digests.store.db import alembic_config

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0005"))
            await connection.execute(
                text(
                    "INSERT INTO sources (id, guild_id, name, kind, location, interval_minutes, enabled, origin, "
                    "failures, created_at) VALUES (1, 3, 'Team wire', 'url', 'https://t.example/rss', 30, 1, "
                    "'runtime', 0, '2026-11-01 00:00:00')"
                )
            )
            for key, source in (("a", "1"), ("b", "NULL")):
                await connection.execute(
                    text(
                        "INSERT INTO articles (key, source_id, source_name, title, collected_at, updated_at, "
                        f"content_hash, text, needs_tagging) VALUES ('{key}', {source}, 'x', 't', "
                        "'2026-11-01 00:00:00', '2026-11-01 00:00:00', 'h', 'body', 1)"
                    )
                )
        await database.migrate()
        async with database.sessions() as session:
            scopes = dict((await session.execute(select(Article.key, Article.guild_id))).all())
            (source,) = await source_repo.list_sources(guild_id=3, session=session)
    finally:
        await database.dispose()
    assert scopes == {"a": 3, "b": 0}
    assert source.kind is SourceKind.URL  # stored values read back as enum members
