"""Query and administration services on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from digests.errors import NotFoundError, SitrepError
from digests.services import queries, sources, workers
from digests.services.enrichment import Enricher
from digests.services.subscriptions import Subscriptions
from digests.store.db import Database
from digests.store.models import ArticleVector
from digests.store.records import ArticleFilter
from tests.conftest import make_settings
from tests.factories import add_article, add_source

NOW = datetime.now(UTC)


async def _vector(database: Database, article_id: int, values: list[float]) -> None:
    vector = np.asarray(values, dtype=np.float32)
    vector /= np.linalg.norm(vector)
    async with database.sessions.begin() as session:
        session.add(ArticleVector(article_id=article_id, model_id="test", vector=vector.astype(np.float16).tobytes()))


async def test_latest_search_and_detail_respect_servers(database: Database) -> None:
    theirs = await add_source(database, "Theirs", guild_id=2)
    tariffs = await add_article(
        database,
        "Steel tariffs rise",
        ready_at=NOW - timedelta(hours=2),
        topics=[("trade and tariffs", 0.9)],
        countries=["US"],
    )
    lithium = await add_article(
        database,
        "Lithium mines open",
        ready_at=NOW - timedelta(hours=1),
        topics=[("critical minerals and supply chains", 0.8)],
        countries=["CL"],
    )
    hidden = await add_article(database, "Private lithium note", ready_at=NOW, source_id=theirs, countries=["CL"])
    await _vector(database, tariffs, [1, 0, 0])
    await _vector(database, lithium, [0, 1, 0])
    await _vector(database, hidden, [0, 1, 0])

    chile = await queries.latest(database, guild_id=1, country="CL")
    assert [b.title for b in chile] == ["Lithium mines open"]
    assert [b.title for b in await queries.latest(database, guild_id=2, country="CL")] == [
        "Private lithium note",
        "Lithium mines open",
    ]
    on_trade = await queries.latest(database, guild_id=1, topic="trade and tariffs")
    assert [b.title for b in on_trade] == ["Steel tariffs rise"]

    query = np.asarray([0.1, 0.99, 0], dtype=np.float32)
    found = await queries.rank(database, query / np.linalg.norm(query), "lithium", ArticleFilter(guild_id=1))
    assert found[0].title == "Lithium mines open"
    assert "Private lithium note" not in [b.title for b in found]
    by_words = await queries.rank(database, None, "steel", ArticleFilter(guild_id=1))
    assert [b.title for b in by_words] == ["Steel tariffs rise"]

    detail = await queries.article_detail(database, lithium, guild_id=1)
    assert detail.sections[0].heading == "What's Happening?"
    with pytest.raises(NotFoundError):
        await queries.article_detail(database, hidden, guild_id=1)
    with pytest.raises(NotFoundError):  # a direct message sees only the global sources
        await queries.article_detail(database, hidden, guild_id=None)

    # Removing the server's source keeps its articles, still for that server's eyes only.
    await sources.remove_server_source(database, guild_id=2, source_id=theirs)
    assert [b.title for b in await queries.latest(database, guild_id=None, country="CL")] == ["Lithium mines open"]
    assert [b.title for b in await queries.latest(database, guild_id=1, country="CL")] == ["Lithium mines open"]
    assert (await queries.article_detail(database, hidden, guild_id=2)).title == "Private lithium note"


async def test_admin_services_validate_and_isolate(database: Database) -> None:
    settings = make_settings(database.url)
    subscriptions = Subscriptions(database, settings)
    subscription = await subscriptions.add(
        guild_id=1,
        channel_id=10,
        schedule="08:00",
        timezone="Asia/Tokyo",
        topics=["Energy"],
        countries=["British"],
    )
    assert (subscription.topics, subscription.countries) == (["energy"], ["GB"])
    with pytest.raises(SitrepError, match="unknown time zone"):
        await subscriptions.add(guild_id=1, channel_id=10, schedule="08:00", timezone="Tokio")
    with pytest.raises(SitrepError, match="Unknown topic"):
        await subscriptions.add(guild_id=1, channel_id=10, schedule="08:00", timezone="UTC", topics=["weather"])
    with pytest.raises(NotFoundError):
        await subscriptions.remove(guild_id=2, subscription_id=subscription.id)
    assert [s.id for s in await subscriptions.list(guild_id=1)] == [subscription.id]

    source = await sources.add_server_source(database, settings, guild_id=1, url="https://news.example/feed.xml")
    assert (source.kind, source.guild_id, source.name) == ("url", 1, "news.example/feed.xml")
    with pytest.raises(SitrepError, match="already has that source"):
        await sources.add_server_source(database, settings, guild_id=1, url="https://news.example/feed.xml")
    with pytest.raises(SitrepError, match="only http and https"):
        await sources.add_server_source(database, settings, guild_id=1, url="file:///etc/passwd")
    strict = make_settings(database.url, fetch={"allow_private_addresses": False})
    with pytest.raises(SitrepError, match="private or local"):
        await sources.add_server_source(database, strict, guild_id=1, url="http://169.254.169.254/latest")
    assert await sources.server_sources(database, guild_id=2) == []
    with pytest.raises(NotFoundError):
        await sources.remove_server_source(database, guild_id=2, source_id=source.id)
    report = await workers.status(database, Enricher(settings))
    assert report.sources == 1
    assert report.database == database.describe()
    assert report.processes == ()  # nothing is running
