"""Composing digests from the store, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from digests.compose import OTHER, DigestFilters
from digests.services.digests import digest_now
from digests.store.db import Database
from tests.factories import add_article, add_source

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_window_filters_grouping_and_cap(database: Database) -> None:
    hour = timedelta(hours=1)
    await add_article(database, "Old story", ready_at=NOW - 30 * hour, topics=[("energy", 0.9)])
    await add_article(
        database, "Tariff war", ready_at=NOW - hour, topics=[("trade and tariffs", 0.9)], countries=["US", "CN"]
    )
    await add_article(
        database,
        "Cyber pact",
        ready_at=NOW - 2 * hour,
        topics=[("cybersecurity", 0.8), ("diplomacy and alliances", 0.6)],
        countries=["JP", "GB"],
    )
    await add_article(database, "Grid expands", ready_at=NOW - 3 * hour, topics=[("energy", 0.5)], countries=["KE"])
    await add_article(database, "Untagged item", ready_at=NOW - 4 * hour)
    await add_article(database, "Future item", ready_at=NOW + hour, topics=[("energy", 0.9)])

    window = DigestFilters(since=NOW - 24 * hour, until=NOW)
    digest = await digest_now(database, window, timezone="Asia/Tokyo")
    assert digest.matched == 4
    assert {i.title for i in digest.items} == {"Tariff war", "Cyber pact", "Grid expands", "Untagged item"}
    assert digest.groups[-1].topic == OTHER
    assert digest.counts_by_topic == {"trade and tariffs": 1, "cybersecurity": 1, "energy": 1, OTHER: 1}
    assert digest.items[0].title == "Tariff war"  # most salient and most recent first
    cyber = next(i for i in digest.items if i.title == "Cyber pact")
    assert [s.heading for s in cyber.sections] == ["What's Happening?", "What's Next?"]
    assert cyber.countries == ["JP", "GB"]

    capped = await digest_now(database, DigestFilters(since=NOW - 24 * hour, until=NOW, max_items=2))
    assert (capped.shown, capped.matched, capped.more) == (2, 4, 2)

    by_topic = await digest_now(
        database, DigestFilters(since=NOW - 24 * hour, until=NOW, topics=("diplomacy and alliances",))
    )
    assert [i.title for i in by_topic.items] == ["Cyber pact"]
    assert [g.topic for g in by_topic.groups] == ["diplomacy and alliances"]

    by_country = await digest_now(database, DigestFilters(since=NOW - 48 * hour, until=NOW, countries=("KE", "CN")))
    assert {i.title for i in by_country.items} == {"Tariff war", "Grid expands"}

    empty = await digest_now(database, DigestFilters(since=NOW - 24 * hour, until=NOW, countries=("FR",)))
    assert (empty.matched, empty.groups) == (0, [])


async def test_syndicated_story_appears_once(database: Database) -> None:
    wire = await add_source(database, "Wire")
    paper = await add_source(database, "Paper")
    blog = await add_source(database, "Blog")
    ready = NOW - timedelta(hours=1)
    await add_article(
        database,
        "Port strike ends",
        ready_at=ready,
        url="https://a.example/strike",
        source_id=wire,
        topics=[("economy and markets", 0.9)],
    )
    await add_article(
        database,
        "Port Strike Ends!",
        ready_at=ready,
        url="https://b.example/x",
        source_id=paper,
        topics=[("economy and markets", 0.5)],
    )
    await add_article(database, "Another title", ready_at=ready, url="https://a.example/strike", source_id=blog)
    digest = await digest_now(database, DigestFilters(since=NOW - timedelta(days=1), until=NOW))
    assert digest.matched == 1
    (item,) = digest.items
    assert item.source == "Wire"
    assert sorted(item.also_reported_by) == ["Blog", "Paper"]


async def test_guild_sees_global_and_own_sources_only(database: Database) -> None:
    ours = await add_source(database, "Ours", guild_id=111)
    theirs = await add_source(database, "Theirs", guild_id=222)
    ready = NOW - timedelta(hours=1)
    await add_article(database, "Global", ready_at=ready)
    await add_article(database, "Mine", ready_at=ready, source_id=ours)
    await add_article(database, "Not mine", ready_at=ready, source_id=theirs)
    digest = await digest_now(database, DigestFilters(since=NOW - timedelta(days=1), until=NOW, guild_id=111))
    assert {i.title for i in digest.items} == {"Global", "Mine"}


async def test_an_event_many_outlets_report_outranks_a_fresher_single_outlet_read(database: Database) -> None:
    for number, name in enumerate(["Wire", "Paper", "Broadcaster"]):
        source = await add_source(database, name)
        await add_article(
            database,
            "Port strike ends after three weeks",
            ready_at=NOW - timedelta(hours=20),
            url=f"https://{name.lower()}.example/strike-{number}",
            source_id=source,
            topics=[("economy and markets", 0.3)],
        )
    magazine = await add_source(database, "Magazine")
    await add_article(
        database,
        "The long read: how ports became the world's choke points",
        ready_at=NOW,
        source_id=magazine,
        topics=[("economy and markets", 0.95)],
    )
    digest = await digest_now(database, DigestFilters(since=NOW - timedelta(days=1), until=NOW))
    assert digest.matched == 2
    assert [i.title for i in digest.items] == [
        "Port strike ends after three weeks",
        "The long read: how ports became the world's choke points",
    ]
    assert sorted(digest.items[0].outlets) == ["Broadcaster", "Paper", "Wire"]


def test_a_story_is_told_through_its_most_central_article() -> None:
    from digests.compose import central

    def unit(*values: float) -> np.ndarray:
        vector = np.array(values, dtype=np.float32)
        return vector / np.linalg.norm(vector)

    vectors = {1: unit(1, 0.2, 0), 2: unit(1, -0.2, 0), 3: unit(1, 0, 0), 4: unit(0, 0, 1)}
    assert central(vectors, [1, 2, 3, 4]) == 3  # between the other two, far from the outlier
    assert central(vectors, [4, 1]) == 1  # only the candidates are told through, measured against every member
    assert central(vectors, [5]) is None
