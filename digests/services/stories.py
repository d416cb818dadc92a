"""Story services: place newly ready articles in stories, rebuild a window, and read stories back."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from digests.compose import pooled
from digests.errors import NotFoundError, SitrepError
from digests.inference import SentenceEncoder
from digests.settings import StorySettings
from digests.store import Database, Session
from digests.store import stories as store
from digests.store.records import CoverageRecord as CoverageRecord  # what front doors read of a story
from digests.store.records import OpenStoryRecord, StoryWork
from digests.store.records import StoryRecord as StoryRecord
from digests.stories import Incoming, Member, StoryMatcher, WindowStory, event_text, lead_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StoryReport:
    """What one pass of story placement did."""

    placed: int = 0
    new_stories: int = 0
    merged: int = 0


def _vectors(raws: list[bytes | None]) -> list[np.ndarray]:
    """Return stored float16 vectors as float32 (an empty one for none), converted together by size."""
    found = [np.zeros(0, dtype=np.float32)] * len(raws)
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, raw in enumerate(raws):
        if raw:
            by_size[len(raw)].append(i)
    for where in by_size.values():
        matrix = np.frombuffer(b"".join(raws[i] or b"" for i in where), dtype=np.float16).reshape(len(where), -1)
        for i, row in zip(where, matrix.astype(np.float32), strict=True):
            found[i] = row
    return found


def _window(stories: list[OpenStoryRecord]) -> list[WindowStory]:
    """Return the open stories as the matcher reads them."""
    vectors = iter(_vectors([raw for story in stories for *_, raw in story.members]))
    return [
        WindowStory(s.id, [Member(title, next(vectors), lead_of(text), source) for title, text, source, _ in s.members])
        for s in stories
    ]


async def place_batch(
    database: Database,
    embed: Callable[[list[str]], Awaitable[np.ndarray]],
    settings: StorySettings,
    *,
    batch_size: int,
    report: StoryReport,
) -> int:
    """Place up to ``batch_size`` waiting articles in stories; return how many were placed."""
    matcher = StoryMatcher(settings)
    async with database.sessions.begin() as session:
        work = await store.claim_articles(batch_size, session=session)
        if not work:
            return 0
        texts = [event_text(a.title, a.text) for a in work]
        usable = [i for i, text in enumerate(texts) if text.strip()]
        vectors: list[np.ndarray | None] = [None] * len(work)
        if usable:
            encoded = await embed([texts[i] for i in usable])
            for i, vector in zip(usable, encoded, strict=True):
                vectors[i] = vector
        by_scope: dict[int, list[tuple[StoryWork, np.ndarray | None]]] = defaultdict(list)
        for article, vector in zip(work, vectors, strict=True):
            by_scope[article.guild_id].append((article, vector))
        quiet = timedelta(hours=settings.quiet_hours)
        for guild_id, everything in by_scope.items():
            for articles in _spans(everything, quiet):
                # Stories alive within the span's quiet time: a stray old date never widens it to years.
                window = _window(
                    await store.open_stories(
                        [guild_id],
                        since=articles[0][0].at - quiet,
                        until=articles[-1][0].at + quiet,
                        latest=settings.linkage_members,
                        session=session,
                    )
                )
                await _place(matcher, articles, window, report, session=session)
        report.placed += len(work)
        return len(work)


def _spans(
    articles: list[tuple[StoryWork, np.ndarray | None]], quiet: timedelta
) -> list[list[tuple[StoryWork, np.ndarray | None]]]:
    """Split articles, by time, into runs no longer than ``quiet``, each placed against its own window."""
    spans: list[list[tuple[StoryWork, np.ndarray | None]]] = []
    for item in sorted(articles, key=lambda pair: (pair[0].at, pair[0].id)):
        if spans and item[0].at - spans[-1][0][0].at <= quiet:
            spans[-1].append(item)
        else:
            spans.append([item])
    return spans


async def _place(
    matcher: StoryMatcher,
    articles: list[tuple[StoryWork, np.ndarray | None]],
    window: list[WindowStory],
    report: StoryReport,
    *,
    session: Session,
) -> None:
    """Place one span's articles among its window's stories and record where they went."""
    placed = matcher.place([Incoming(a.id, a.title, v, a.at, lead_of(a.text), a.source) for a, v in articles], window)
    found = {a.id: (a, v) for a, v in articles}
    joinings = []
    for placement in placed.placements:
        article, vector = found[placement.article_id]
        raw = vector.astype(np.float16).tobytes() if vector is not None else None
        joinings.append(store.Joining(article, placement.story_id, placement.new_group, placement.similarity, raw))
    report.new_stories += await store.join_all(joinings, session=session)
    for merge in placed.merges:
        if await store.merge(merge.story_id, merge.into, session=session):
            report.merged += 1
            log.info("Story %d is the same event as story %d: merged into it", merge.story_id, merge.into)


async def place_pending(
    database: Database, encoder: SentenceEncoder, settings: StorySettings, *, batch_size: int | None = None
) -> StoryReport:
    """Place every waiting article in a story (blocking encoder calls; for tools and tests)."""

    async def embed(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts)

    report = StoryReport()
    while await place_batch(database, embed, settings, batch_size=batch_size or settings.batch_size, report=report):
        pass
    return report


async def forget_since(database: Database, since: datetime) -> int:
    """Take the articles ready since ``since`` out of their stories so the next enrichment places them again."""
    async with database.sessions.begin() as session:
        count = await store.forget_since(since, session=session)
    log.info("%d article(s) since %s will be placed in stories again", count, since.isoformat())
    return count


def as_json(story: StoryRecord) -> dict[str, Any]:
    """Return a story as JSON-ready data: its headline, summary, times, pooled tags and every article."""
    lead = next((c for c in story.coverage if c.summary), story.coverage[0])
    return {
        "id": story.id,
        "title": story.title,
        "summary": lead.summary,
        "first_seen": story.first_seen.isoformat(),
        "last_updated": story.last_updated.isoformat(),
        "countries": pooled([c.countries for c in story.coverage])[:8],
        "topics": pooled([c.topics for c in story.coverage])[:3],
        "articles": [
            {
                "url": c.url,
                "source": c.source,
                "title": c.title,
                "published_at": c.published_at.isoformat() if c.published_at else None,
            }
            for c in story.coverage
        ],
    }


async def recent(database: Database, *, since: datetime, guild_id: int | None, limit: int = 50) -> list[StoryRecord]:
    """Return the stories updated since ``since`` that ``guild_id`` may see, latest first."""
    async with database.sessions() as session:
        ids = await store.recent_story_ids(since=since, guild_id=guild_id, limit=limit, session=session)
        found: dict[int, StoryRecord] = {}
        for start in range(0, len(ids), 500):  # a bounded number of parameters per statement on any database
            found.update(await store.stories_by_id(ids[start : start + 500], guild_id=guild_id, session=session))
    return [found[i] for i in ids if i in found]


def _possible(story_id: int) -> bool:
    """Say whether a number a member typed can be a story's (a database integer, not any number at all)."""
    return 0 < story_id < 2**63


async def story(database: Database, story_id: int, *, guild_id: int | None) -> StoryRecord | None:
    """Return one story with its coverage (a merged story's number gives the story it joined), or None when it
    does not exist or is not visible."""
    if not _possible(story_id):
        return None
    async with database.sessions() as session:
        story_id = (await store.current_ids([story_id], session=session))[story_id]
        return (await store.stories_by_id([story_id], guild_id=guild_id, session=session)).get(story_id)


async def find(database: Database, text: str, *, guild_id: int | None, limit: int = 25) -> list[StoryRecord]:
    """Return stories whose title contains ``text``, latest first."""
    async with database.sessions() as session:
        ids = await store.find_story_ids(text, guild_id=guild_id, limit=limit, session=session)
        found = await store.stories_by_id(ids, guild_id=guild_id, session=session)
    return [found[i] for i in ids if i in found]


async def follow(database: Database, story_id: int, *, user_id: int, guild_id: int | None) -> StoryRecord:
    """Follow a story seen from ``guild_id``: its later articles come by direct message."""
    if not _possible(story_id):
        raise NotFoundError(f"There is no story {story_id} here. Find one with /story.")
    async with database.sessions.begin() as session:
        asked = story_id
        story_id = (await store.current_ids([story_id], session=session))[story_id]
        found = (await store.stories_by_id([story_id], guild_id=guild_id, session=session)).get(story_id)
        if found is None:
            raise NotFoundError(f"There is no story {asked} here. Find one with /story.")
        if not await store.follow(story_id, user_id, guild_id=guild_id, members=len(found.coverage), session=session):
            raise SitrepError(f"You already follow story {story_id}. See /following.")
        return found


async def unfollow(database: Database, story_id: int, *, user_id: int) -> None:
    """Stop following a story."""
    if not _possible(story_id):
        raise NotFoundError(f"You do not follow story {story_id}. See /following.")
    async with database.sessions.begin() as session:
        story_id = (await store.current_ids([story_id], session=session))[story_id]
        if not await store.unfollow(story_id, user_id, session=session):
            raise NotFoundError(f"You do not follow story {story_id}. See /following.")


async def following(database: Database, *, user_id: int) -> list[StoryRecord]:
    """Return the stories a member follows, latest first (each as seen from where it was followed)."""
    async with database.sessions() as session:
        follows = await store.followed(user_id, session=session)
        out = []
        for story_id, guild_id in follows:
            found = (await store.stories_by_id([story_id], guild_id=guild_id, session=session)).get(story_id)
            if found is not None:
                out.append(found)
    return out


@dataclass(slots=True, frozen=True)
class FollowUpdate:
    """New articles on a followed story, for one member."""

    user_id: int
    story: StoryRecord
    new: tuple[CoverageRecord, ...]


async def follow_updates(
    database: Database, *, now: datetime, every_minutes: float, limit: int = 100
) -> list[FollowUpdate]:
    """Claim the followed stories that grew, at most one message per story and member every ``every_minutes``.

    Claimed updates are marked sent before anything is posted: a message that fails is not sent twice.
    """
    async with database.sessions.begin() as session:
        claimed = await store.claim_follow_updates(
            now=now, quiet_since=now - timedelta(minutes=every_minutes), limit=limit, session=session
        )
        updates = []
        for story_id, user_id, guild_id, told in claimed:
            found = (await store.stories_by_id([story_id], guild_id=guild_id, session=session)).get(story_id)
            if found is not None and len(found.coverage) > told:
                updates.append(FollowUpdate(user_id, found, found.coverage[told:]))
    return updates


async def thread_of(database: Database, subscription_id: int, story_id: int) -> str | None:
    """Return the Discord thread a subscription's updates on a story go to, if one was opened."""
    async with database.sessions() as session:
        return await store.thread_of(subscription_id, story_id, session=session)


async def remember_thread(database: Database, subscription_id: int, story_id: int, thread_id: str) -> None:
    """Remember the thread opened for a subscription's updates on a story."""
    async with database.sessions.begin() as session:
        await store.set_thread(subscription_id, story_id, thread_id, session=session)
