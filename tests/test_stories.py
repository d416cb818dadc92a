"""Stories: the matcher's rules, placement in the store on both backends, rebuilds, and digest items as stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import delete, insert, select, update

from digests.compose import DigestFilters, new_lines
from digests.inference import SentenceEncoder
from digests.services import stories as service
from digests.services.digests import compose
from digests.settings import StorySettings
from digests.store import stories as story_store
from digests.store.db import Database
from digests.store.models import Article, Story, StoryMember, Subscription
from digests.stories import Incoming, Member, StoryMatcher, WindowStory
from tests.factories import add_article, add_source

NOW = datetime(2026, 2, 16, 12, tzinfo=UTC)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_close_vectors_with_shared_names_join_and_templates_do_not() -> None:
    matcher = StoryMatcher(StorySettings())
    near = _unit(1, 0.7, 0)  # cosine 0.82 to (1, 0, 0): close, but not a copy
    window = [WindowStory(1, [Member("Purolator agrees buyout with Hutton", _unit(1, 0, 0))])]
    same = Incoming(10, "Hutton starts Purolator bid", near, NOW)
    (placed,) = matcher.place([same], window).placements
    assert placed.story_id == 1
    # As close in meaning, but one wire's reports whose titles share only words every earnings report has
    # (a window of 300 articles, 60 of them earnings reports).
    window = [WindowStory(2, [Member("Cinram Ltd 4th qtr net", _unit(1, 0, 0), "", "Wire")])]
    window += [
        WindowStory(3 + i, [Member(f"Company{i} Corp 4th qtr net", _unit(1, 0, 0.01 * i), "", "Wire")])
        for i in range(59)
    ]
    rng = np.random.default_rng(3)
    window += [
        WindowStory(100 + i, [Member(f"Story{i} about topic{i % 40} in place{i % 25}", _unit(0, *rng.random(2)))])
        for i in range(240)
    ]
    incoming = Incoming(11, "Pittway Corp 4th qtr net", near, NOW, "", "Wire")
    (placed,) = matcher.place([incoming], window).placements
    assert placed.story_id is None


def test_one_lookalike_member_does_not_pull_an_article_in() -> None:
    matcher = StoryMatcher(StorySettings(linkage_members=5, join_mean=0.3))
    members = [Member("Viacom bid raised again by National Amusements", _unit(1, 0, 0)) for _ in range(3)]
    members.append(Member("Viacom stake raised by Oppenheimer", _unit(0, 1, 0)))
    drifting = Incoming(20, "Oppenheimer raises Viacom stake to 7.7 pct", _unit(0, 1, 0.05), NOW)
    (placed,) = matcher.place([drifting], [WindowStory(7, members)]).placements
    assert placed.story_id is None  # pairs with one of four members only: a mean probability under 0.3


def test_articles_of_one_batch_form_stories_together_and_odd_ones_stand_alone() -> None:
    matcher = StoryMatcher(StorySettings())
    batch = [
        Incoming(1, "Peru Congress ousts interim president Jeri", _unit(1, 0, 0), NOW),
        Incoming(2, "Peru's Congress votes to remove interim president Jeri", _unit(1, 0.1, 0), NOW),
        Incoming(3, "", _unit(1, 0, 0), NOW),  # no title words: nothing to match on
        Incoming(4, "Peru Congress ousts Jeri", None, NOW),  # no embedding
    ]
    placements = {p.article_id: p for p in matcher.place(batch, []).placements}
    assert placements[2].new_group == placements[1].new_group
    assert len({placements[i].new_group for i in (1, 3, 4)}) == 3


def test_after_a_change_of_model_old_vectors_are_passed_over_and_new_ones_still_group() -> None:
    matcher = StoryMatcher(StorySettings())
    old = [WindowStory(5, [Member("Peru Congress ousts interim president Jeri", _unit(1, 0))])]  # two dimensions
    batch = [
        Incoming(1, "Peru Congress ousts interim president Jeri", _unit(1, 0, 0), NOW),
        Incoming(2, "Peru's Congress votes to remove interim president Jeri", _unit(1, 0.1, 0), NOW),
        Incoming(3, "Chile central bank holds rates", _unit(0, 0, 1), NOW),
    ]
    placements = {p.article_id: p for p in matcher.place(batch, old).placements}
    assert placements[1].story_id is None  # the same headline, but no vector of its size to join on
    assert placements[2].new_group == placements[1].new_group
    assert placements[3].new_group not in (None, placements[1].new_group)


def test_new_lines_keep_only_what_earlier_articles_did_not_say() -> None:
    earlier = ["Congress removed the interim president on Tuesday after a vote of 72 to 40."]
    later = [
        "Congress removed the interim president on Tuesday after a 72 to 40 vote. "
        "The speaker of Congress will take over as head of state until elections in April."
    ]
    assert new_lines(earlier, later) == [
        "The speaker of Congress will take over as head of state until elections in April."
    ]


async def _peru(database: Database) -> list[int]:
    ids = []
    for number, (source, title, text) in enumerate(
        [
            (
                "Reuters",
                "Peru's Congress ousts interim president Jeri",
                "Peru's Congress voted to remove interim "
                "president José Jerí on Tuesday, the latest upheaval in a country that has had six presidents.",
            ),
            (
                "BBC",
                "Peru Congress removes interim president Jeri from office",
                "Lawmakers in Peru removed interim "
                "president José Jerí from office, after a vote in Congress late on Tuesday.",
            ),
            (
                "Kenya Times",
                "Kenya expands geothermal power in the Rift Valley",
                "Kenya will add 300 megawatts of geothermal capacity in the Rift Valley over the next four years.",
            ),
        ]
    ):
        source_id = await add_source(database, source)
        ids.append(
            await add_article(
                database,
                title,
                ready_at=NOW + timedelta(minutes=number),
                source_id=source_id,
                url=f"https://{source.lower().replace(' ', '')}.example/{number}",
                sections=[(None, text)],
                topics=[("politics", 0.6)],
                countries=["PE"] if "Peru" in title else ["KE"],
            )
        )
    async with database.sessions.begin() as session:
        await session.execute(update(Article).values(needs_story=True, text=Article.summary))
    return ids


async def test_ready_articles_join_stories_and_digests_show_each_story_once(
    database: Database, encoder: SentenceEncoder
) -> None:
    peru_reuters, peru_bbc, kenya = await _peru(database)
    peru_ids = [peru_reuters, peru_bbc]
    report = await service.place_pending(database, encoder, StorySettings())
    assert (report.placed, report.new_stories) == (3, 2)
    stories = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)
    peru = next(s for s in stories if len(s.coverage) == 2)
    assert [c.article_id for c in peru.coverage] == [peru_reuters, peru_bbc]
    async with database.sessions() as session:  # a story made by a batch counts and spans its members
        row = await session.get(Story, peru.id)
        times = sorted((await session.scalars(select(Article.collected_at).where(Article.id.in_(peru_ids)))).all())
    assert row is not None
    assert row.member_count == 2
    assert (row.first_seen, row.last_updated) == (times[0], times[-1])
    assert service.as_json(peru)["articles"][1] == {
        "url": "https://bbc.example/1",
        "source": "BBC",
        "title": "Peru Congress removes interim president Jeri from office",
        "published_at": None,
    }
    filters = DigestFilters(since=NOW - timedelta(hours=1), until=NOW + timedelta(hours=1), max_items=10)
    async with database.sessions() as session:
        digest = await compose(filters, "UTC", session=session)
    assert digest.matched == 2
    item = next(i for i in digest.items if i.story_id == peru.id)
    assert item.outlets == ["Reuters", "BBC"] or item.outlets == ["BBC", "Reuters"]
    assert [a.source for a in item.articles] == ["Reuters", "BBC"]
    assert kenya in [i.article_id for i in digest.items]


async def _peru_for_a_subscription(database: Database, encoder: SentenceEncoder) -> int:
    """Store and place the Peru articles; return the id of a new terminal subscription."""
    await _peru(database)
    await service.place_pending(database, encoder, StorySettings())
    async with database.sessions.begin() as session:
        subscription = Subscription(name="s", target_kind="terminal", target="terminal", schedule="0 8 * * *")
        session.add(subscription)
        await session.flush()
        return subscription.id


async def test_a_later_article_is_an_update_for_a_subscription_that_had_the_story(
    database: Database, encoder: SentenceEncoder
) -> None:
    subscription_id = await _peru_for_a_subscription(database, encoder)
    async with database.sessions.begin() as session:
        first = DigestFilters(since=NOW - timedelta(hours=1), until=NOW + timedelta(hours=1))
        digest = await compose(first, "UTC", session=session, subscription_id=subscription_id)
        assert not any(item.update for item in digest.items)
        await story_store.record_sent(subscription_id, digest.carried, session=session)  # as a sent delivery does
    source_id = await add_source(database, "AP")
    later = await add_article(
        database,
        "Peru's Congress ousts interim president Jeri and names new leader",
        ready_at=NOW + timedelta(hours=5),
        source_id=source_id,
        sections=[
            (
                None,
                "Peru's Congress voted to remove interim president José Jerí on Tuesday. "
                "Congress named José María Balcázar as the country's leader on Wednesday.",
            )
        ],
    )
    async with database.sessions.begin() as session:
        await session.execute(update(Article).where(Article.id == later).values(needs_story=True, text=Article.summary))
    await service.place_pending(database, encoder, StorySettings())
    async with database.sessions() as session:
        second = DigestFilters(since=NOW + timedelta(hours=1), until=NOW + timedelta(hours=6))
        digest = await compose(second, "UTC", session=session, subscription_id=subscription_id)
    (item,) = digest.items
    assert item.update
    assert len(item.articles) == 3
    assert item.new_lines == ["Congress named José María Balcázar as the country's leader on Wednesday."]


async def test_rebuild_places_again_and_empty_stories_disappear(database: Database, encoder: SentenceEncoder) -> None:
    ids = await _peru(database)
    await service.place_pending(database, encoder, StorySettings())
    assert await service.forget_since(database, NOW - timedelta(days=1)) == 3
    report = await service.place_pending(database, encoder, StorySettings())
    assert (report.placed, report.new_stories) == (3, 2)
    async with database.sessions.begin() as session:
        await session.execute(delete(Article).where(Article.id.in_(ids[:2])))
    assert len(await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)) == 1
    async with database.sessions() as session:
        assert len(list(await session.scalars(select(Story)))) == 2  # the Peru story is hidden, not yet pruned


async def test_a_future_publication_date_counts_as_the_collection_time(
    database: Database, encoder: SentenceEncoder
) -> None:
    await _peru(database)
    async with database.sessions.begin() as session:
        await session.execute(update(Article).values(published_at=datetime(2099, 1, 1, tzinfo=UTC)))
    await service.place_pending(database, encoder, StorySettings())
    stories = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)
    assert all(s.last_updated < datetime(2030, 1, 1, tzinfo=UTC) for s in stories)


async def test_a_publication_date_in_year_one_counts_as_the_collection_time(
    database: Database, encoder: SentenceEncoder
) -> None:
    await _peru(database)
    async with database.sessions.begin() as session:
        await session.execute(update(Article).values(published_at=datetime(1, 1, 1, tzinfo=UTC)))
    report = await service.place_pending(database, encoder, StorySettings())
    assert (report.placed, report.new_stories) == (3, 2)
    stories = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)
    assert all(s.first_seen > datetime(2000, 1, 1, tzinfo=UTC) for s in stories)


async def test_servers_never_share_stories(database: Database, encoder: SentenceEncoder) -> None:
    await _peru(database)
    private = await add_source(database, "Desk notes", guild_id=42)
    mine = await add_article(
        database, "Peru's Congress ousts interim president Jeri, desk notes", ready_at=NOW, source_id=private
    )
    async with database.sessions.begin() as session:
        await session.execute(update(Article).values(needs_story=True, text=Article.summary))
    await service.place_pending(database, encoder, StorySettings())
    everyone = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)
    assert mine not in [c.article_id for s in everyone for c in s.coverage]
    ours = await service.recent(database, since=NOW - timedelta(days=1), guild_id=42)
    assert any(s.coverage[0].article_id == mine and len(s.coverage) == 1 for s in ours)


def test_no_source_fills_more_than_its_share_while_others_have_items() -> None:
    from digests.compose import select_items
    from digests.store.records import ArticleRecord

    def record(number: int, source: str) -> ArticleRecord:
        when = NOW - timedelta(minutes=number)
        return ArticleRecord(
            id=number, title=f"{source} item {number}", url=None, source=source, published_at=None, ready_at=when,
            countries=(), topics=("politics",), topic_score=0.9 - number / 100, summary="",
        )  # fmt: skip

    articles = [record(n, "Greenland Daily") for n in range(10)] + [record(20 + n, "Other") for n in range(2)]
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW, max_items=5, max_source_share=0.4)
    shown = [item.source for item in select_items(articles, filters).shown]
    assert shown.count("Greenland Daily") == 3  # two by the share, one more because nothing else is left
    assert shown.count("Other") == 2
    alone = select_items([record(n, "Greenland Daily") for n in range(10)], filters)
    assert len(alone.shown) == 5  # a cap never leaves slots empty


async def test_a_subscription_has_a_story_only_once_its_digest_is_sent(
    database: Database, encoder: SentenceEncoder
) -> None:
    from io import StringIO

    from rich.console import Console

    from digests.senders import TerminalSender
    from digests.services.deliveries import record_delivery, send_delivery
    from tests.conftest import make_settings

    subscription_id = await _peru_for_a_subscription(database, encoder)
    settings = make_settings(database.url, digest={"subscriptions": [], "window_hours": 48})
    delivery = await record_delivery(subscription_id, NOW + timedelta(hours=1), database=database, settings=settings)
    assert delivery is not None
    carried = {int(story): count for story, count in (delivery.stories or {}).items()}
    assert sorted(carried.values()) == [1, 2]
    async with database.sessions() as session:
        assert await story_store.members_sent(subscription_id, list(carried), session=session) == {}
    terminal = TerminalSender(Console(file=StringIO()))
    outcome = await send_delivery(delivery.id, database=database, settings=settings, sender_for=lambda _: terminal)
    assert outcome.status == "sent"
    async with database.sessions() as session:
        assert await story_store.members_sent(subscription_id, list(carried), session=session) == carried


def test_title_words_are_stemmed_and_keep_numbers() -> None:
    from digests.stories.cluster import title_words

    assert title_words("UK interest rates held at 4.75%") >= {"rate", "interest", "4.75"}
    assert title_words("Bank holds interest rate at 4.75%") & title_words("UK interest rates held at 4.75%") == {
        "rate",
        "interest",
        "4.75",
    }
    assert title_words("Turkey-Iran mobile deal 'at risk'") >= {"turkey", "iran"}


def test_the_same_headline_is_one_story_even_when_the_texts_differ() -> None:
    matcher = StoryMatcher(StorySettings())
    window = [WindowStory(3, [Member("Asia shares defy post-quake gloom", _unit(1, 0, 0))])]
    incoming = Incoming(30, "Asia shares defy post-quake gloom", _unit(1, 1.2, 0), NOW)
    (placed,) = matcher.place([incoming], window).placements
    assert placed.story_id == 3  # cosine 0.64 only, but word for word the same headline


async def test_an_article_tagged_again_keeps_its_story(database: Database, encoder: SentenceEncoder) -> None:
    ids = await _peru(database)
    await service.place_pending(database, encoder, StorySettings())
    async with database.sessions.begin() as session:  # its text changed and it was tagged again
        await session.execute(update(Article).where(Article.id == ids[0]).values(needs_story=True))
    report = await service.place_pending(database, encoder, StorySettings())
    assert (report.placed, report.new_stories) == (1, 0)
    stories = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None)
    assert sorted(len(s.coverage) for s in stories) == [1, 2]


async def test_the_same_headline_years_apart_is_two_stories(database: Database, encoder: SentenceEncoder) -> None:
    ids = await _peru(database)
    async with database.sessions.begin() as session:  # the BBC copy carries a date two years back
        await session.execute(
            update(Article).where(Article.id == ids[1]).values(published_at=NOW - timedelta(days=730))
        )
    report = await service.place_pending(database, encoder, StorySettings())
    assert (report.placed, report.new_stories) == (3, 3)
    old = await service.recent(database, since=NOW - timedelta(days=800), guild_id=None)
    assert {s.first_seen.year for s in old} == {NOW.year, NOW.year - 2}


async def test_merging_a_story_moves_its_members_followers_and_what_was_sent(
    database: Database, encoder: SentenceEncoder
) -> None:
    subscription_id = await _peru_for_a_subscription(database, encoder)
    async with database.sessions() as session:
        stories = list(await session.scalars(select(Story).order_by(Story.id)))
    peru, kenya = (stories[0], stories[1]) if stories[0].member_count == 2 else (stories[1], stories[0])
    async with database.sessions.begin() as session:
        await story_store.record_sent(subscription_id, {peru.id: 2, kenya.id: 1}, session=session)
        await story_store.set_thread(subscription_id, kenya.id, "thread-9", session=session)
        assert await story_store.follow(kenya.id, 5, guild_id=None, members=1, session=session)
        assert await story_store.follow(kenya.id, 6, guild_id=None, members=1, session=session)
        assert await story_store.follow(peru.id, 6, guild_id=None, members=2, session=session)
    async with database.sessions.begin() as session:
        assert await story_store.merge(kenya.id, peru.id, session=session)
    async with database.sessions.begin() as session:
        assert await session.get(Story, kenya.id) is None
        merged = await session.get(Story, peru.id)
        assert merged is not None
        assert merged.member_count == 3
        found = await story_store.stories_by_id([peru.id], guild_id=None, session=session)
        assert len(found[peru.id].coverage) == 3
        assert await story_store.members_sent(subscription_id, [peru.id], session=session) == {peru.id: 3}
        assert await story_store.thread_of(subscription_id, peru.id, session=session) == "thread-9"
        assert sorted(await story_store.followed(5, session=session)) == [(peru.id, None)]
        assert await story_store.followed(6, session=session) == [(peru.id, None)]
        # Told of nothing that came before the merge: no follower hears of an article twice.
        assert await story_store.claim_follow_updates(now=NOW, quiet_since=NOW, limit=10, session=session) == []
        # A delivery composed before the merge records what it carried against the story it merged into.
        await story_store.record_sent(subscription_id, {kenya.id: 1}, session=session)
        assert await story_store.members_sent(subscription_id, [kenya.id, peru.id], session=session) == {peru.id: 3}
        assert await story_store.thread_of(subscription_id, kenya.id, session=session) == "thread-9"
        assert not await story_store.merge(kenya.id, peru.id, session=session)
    # The old number, in a digest's Follow button or typed in /story, leads to the merged story.
    shown = await service.story(database, kenya.id, guild_id=None)
    assert shown is not None
    assert shown.id == peru.id
    await service.unfollow(database, kenya.id, user_id=5)
    assert (await service.follow(database, kenya.id, user_id=5, guild_id=None)).id == peru.id
    assert await service.story(database, 10**20, guild_id=None) is None
    # Merged again: both old numbers lead to the latest story.
    async with database.sessions.begin() as session:
        later = Story(guild_id=0, title="Later", first_seen=NOW, last_updated=NOW, member_count=0)
        session.add(later)
        await session.flush()
        assert await story_store.merge(peru.id, later.id, session=session)
    async with database.sessions() as session:
        assert await story_store.current_ids([kenya.id, peru.id], session=session) == {
            kenya.id: later.id,
            peru.id: later.id,
        }


async def test_every_story_of_a_window_can_be_listed(database: Database) -> None:
    rows = [
        {"id": n + 1, "key": f"k{n}", "source_name": "Wire", "guild_id": 0, "title": f"Event {n}", "text": "t",
         "summary": "s", "collected_at": NOW, "updated_at": NOW, "content_hash": "h", "needs_tagging": False,
         "ready_at": NOW, "needs_story": False, "full_text_attempts": 0}
        for n in range(1200)
    ]  # fmt: skip
    async with database.sessions.begin() as session:
        await session.execute(insert(Article), rows)
        await session.execute(
            insert(Story),
            [{"id": n + 1, "guild_id": 0, "title": f"Event {n}", "first_seen": NOW, "last_updated": NOW,
              "member_count": 1} for n in range(1200)],
        )  # fmt: skip
        await session.execute(
            insert(StoryMember),
            [{"article_id": n + 1, "story_id": n + 1, "joined_at": NOW, "similarity": 1.0} for n in range(1200)],
        )
    found = await service.recent(database, since=NOW - timedelta(days=1), guild_id=None, limit=100_000)
    assert len(found) == 1200


async def test_telling_followers_goes_on_past_a_failure_of_one_message(
    database: Database, encoder: SentenceEncoder
) -> None:
    from digests.jobs import tell_followers
    from digests.settings import Settings

    await _peru(database)
    await service.place_pending(database, encoder, StorySettings())
    (peru,) = [
        s for s in await service.recent(database, since=NOW - timedelta(days=1), guild_id=None) if len(s.coverage) == 2
    ]
    for user_id in (5, 6):
        await service.follow(database, peru.id, user_id=user_id, guild_id=None)
    source_id = await add_source(database, "AP")
    later = await add_article(
        database,
        "Peru's Congress ousts interim president Jeri",
        ready_at=NOW + timedelta(hours=1),
        source_id=source_id,
        sections=[(None, "Peru's Congress voted to remove interim president José Jerí on Tuesday.")],
    )
    async with database.sessions.begin() as session:
        await session.execute(update(Article).where(Article.id == later).values(needs_story=True, text=Article.summary))
    await service.place_pending(database, encoder, StorySettings())

    class Messenger:
        def __init__(self) -> None:
            self.told: list[int] = []

        async def tell(self, update: service.FollowUpdate) -> bool:
            if update.user_id == 5:
                raise RuntimeError("a bug in one message")
            self.told.append(update.user_id)
            return True

    messenger = Messenger()
    assert await tell_followers(database=database, settings=Settings(), messenger=messenger) == 1
    assert messenger.told == [6]
    # Both were claimed: nobody is told twice, and the next run goes on as usual.
    assert await tell_followers(database=database, settings=Settings(), messenger=messenger) == 0
