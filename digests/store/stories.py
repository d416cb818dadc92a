"""Stories and their members: repository functions that never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from digests.store.db import rowcount, skip_locked
from digests.store.models import Article, Story, StoryDelivery, StoryFollow, StoryMember, StoryMerge
from digests.store.reader import source_name
from digests.store.records import CoverageRecord, OpenStoryRecord, StoryRecord, StoryWork
from digests.store.types import utcnow
from digests.store.visibility import scopes, visible_articles

# Publication times before this are placeholders (year 1 and the like), not news.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# Characters of an article's text read for its lead (the matcher folds spaces and keeps 300 of them).
LEAD_CHARS = 300


async def claim_articles(limit: int, *, session: AsyncSession) -> list[StoryWork]:
    """Return up to ``limit`` ready articles that have not joined a story, oldest first (rows locked)."""
    statement = (
        select(
            Article.id,
            Article.guild_id,
            Article.title,
            Article.text,
            Article.published_at,
            Article.collected_at,
            Article.source_name,
        )
        .where(Article.needs_story.is_(True), Article.ready_at.is_not(None))
        .order_by(Article.ready_at, Article.id)
        .limit(limit)
    )
    now = utcnow()
    work = []
    for article_id, guild_id, title, text, published_at, collected_at, source in await session.execute(
        skip_locked(statement, session, of=Article)
    ):
        # A publication time in the future (a wrong clock) or a placeholder (year 1)
        # counts as the time it was collected: a story's window is computed from it.
        at = published_at if published_at is not None and EARLIEST <= published_at <= now else collected_at
        work.append(StoryWork(article_id, guild_id, title, text[:2000], at, source))
    return work


async def open_stories(
    guild_ids: Iterable[int], *, since: datetime, until: datetime, latest: int, session: AsyncSession
) -> list[OpenStoryRecord]:
    """Return the stories of these scopes alive at some time in [since, until], each with its ``latest`` members."""
    statement = select(Story.id, Story.guild_id).where(
        Story.guild_id.in_(set(guild_ids)), Story.last_updated >= since, Story.first_seen <= until
    )
    stories = list(await session.execute(statement))
    if not stories:
        return []
    members: dict[int, list[tuple[str, str, str, bytes | None]]] = {}
    ids = [story_id for story_id, _ in stories]
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(
                StoryMember.story_id,
                Article.title,
                func.substr(Article.text, 1, LEAD_CHARS * 2),
                Article.source_name,
                StoryMember.vector,
            )
            .join(Article, Article.id == StoryMember.article_id)
            .where(StoryMember.story_id.in_(ids[start : start + 500]))
            .order_by(StoryMember.story_id, StoryMember.joined_at, StoryMember.article_id)
        )
        for story_id, title, lead, source, vector in rows:
            members.setdefault(story_id, []).append((title, lead or "", source, vector))
    return [
        OpenStoryRecord(story_id, guild_id, tuple(members.get(story_id, [])[-latest:]))
        for story_id, guild_id in stories
        if members.get(story_id)
    ]


@dataclass(slots=True, frozen=True)
class Joining:
    """An article to record in a story: an existing one (``story_id``) or a new one (``new_group`` of a batch)."""

    article: StoryWork
    story_id: int | None
    new_group: int | None
    similarity: float
    vector: bytes | None


def _new_story(article: StoryWork, session: AsyncSession) -> Story:
    story = Story(guild_id=article.guild_id, title=article.title, first_seen=article.at, last_updated=article.at)
    story.member_count = 0
    session.add(story)
    return story


async def _create_stories(joinings: Sequence[Joining], *, session: AsyncSession) -> dict[int, int]:
    """Insert the batch's new stories in one statement, with their members' count and times; return their ids by
    group. A story is named after its first article."""
    groups: dict[int, list[StoryWork]] = {}
    for joining in joinings:
        if joining.story_id is None and joining.new_group is not None:
            groups.setdefault(joining.new_group, []).append(joining.article)
    if not groups:
        return {}
    rows = [
        {"guild_id": group[0].guild_id, "title": group[0].title, "first_seen": min(a.at for a in group),
         "last_updated": max(a.at for a in group), "member_count": len(group)}
        for group in groups.values()
    ]  # fmt: skip
    ids = await session.scalars(insert(Story).returning(Story.id, sort_by_parameter_order=True), rows)
    return dict(zip(groups, ids, strict=True))


async def join_all(joinings: Sequence[Joining], *, session: AsyncSession) -> int:
    """Record a batch of placements in a few statements; return how many stories were created."""
    if not joinings:
        return 0
    ids = [j.article.id for j in joinings]
    placed = await story_of(ids, session=session)  # changed text, tagged again: it keeps its story
    todo = [j for j in joinings if j.article.id not in placed]
    wanted = {j.story_id for j in todo if j.story_id is not None}
    stories = {s.id: s for s in await session.scalars(select(Story).where(Story.id.in_(wanted)))} if wanted else {}
    created = await _create_stories(todo, session=session)
    members = []
    for joining in todo:
        at = joining.article.at
        if joining.story_id is None and joining.new_group is not None:
            story_id = created[joining.new_group]
        else:
            story = stories.get(joining.story_id) if joining.story_id is not None else None
            if story is None:  # the story was deleted meanwhile: the article starts its own
                story = _new_story(joining.article, session)
                await session.flush()
                stories[story.id] = story
            story.member_count += 1
            story.first_seen = min(story.first_seen, at)
            story.last_updated = max(story.last_updated, at)
            story_id = story.id
        members.append(
            {"article_id": joining.article.id, "story_id": story_id, "joined_at": at,
             "similarity": joining.similarity, "vector": joining.vector}
        )  # fmt: skip
    if members:
        await session.execute(insert(StoryMember), members)
    await session.execute(
        update(Article)
        .where(Article.id.in_(ids))
        .values(needs_story=False)
        .execution_options(synchronize_session=False)
    )
    return len(created)


async def merge(story_id: int, into: int, *, session: AsyncSession) -> bool:
    """Merge story ``story_id`` into ``into``: its members, followers and what subscriptions were sent of it move
    there, and it is deleted. Returns False when either story is gone.

    A member who followed it alone is told only of articles after the merge (they may not have heard of the
    others, but never hear of one twice); one who followed both has been told of both's members;
    a subscription sent both stories has both counts, so the merged story comes back as an update of them.
    """
    kept, gone = await session.get(Story, into), await session.get(Story, story_id)
    if kept is None or gone is None or kept.id == gone.id:
        return False
    await session.execute(
        update(StoryMember).where(StoryMember.story_id == gone.id).values(story_id=kept.id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    kept.member_count += gone.member_count
    kept.first_seen = min(kept.first_seen, gone.first_seen)
    kept.last_updated = max(kept.last_updated, gone.last_updated)
    follows = select(StoryFollow)
    following = {f.user_id: f for f in await session.scalars(follows.where(StoryFollow.story_id == kept.id))}
    for old in list(await session.scalars(follows.where(StoryFollow.story_id == gone.id))):
        if (both := following.get(old.user_id)) is not None:  # told of both stories' members so far
            both.members_notified = min(both.members_notified + old.members_notified, kept.member_count)
        else:
            session.add(
                StoryFollow(
                    story_id=kept.id,
                    user_id=old.user_id,
                    guild_id=old.guild_id,
                    members_notified=kept.member_count,
                    notified_at=old.notified_at,
                )
            )
    deliveries = select(StoryDelivery)
    sent = {r.subscription_id: r for r in await session.scalars(deliveries.where(StoryDelivery.story_id == kept.id))}
    for row in list(await session.scalars(deliveries.where(StoryDelivery.story_id == gone.id))):
        mine = sent.get(row.subscription_id)
        if mine is None:
            session.add(
                StoryDelivery(
                    subscription_id=row.subscription_id,
                    story_id=kept.id,
                    members_sent=row.members_sent,
                    sent_at=row.sent_at,
                    thread_id=row.thread_id,
                )
            )
        else:
            mine.members_sent += row.members_sent
            mine.thread_id = mine.thread_id or row.thread_id
    # Its number, and the numbers merged into it before, now lead to the story it joined (moved before the
    # delete, which would take them along).
    await session.execute(
        update(StoryMerge).where(StoryMerge.into_id == gone.id).values(into_id=kept.id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await session.flush()
    session.expunge(gone)
    await session.execute(delete(Story).where(Story.id == gone.id))  # its old follows and deliveries cascade
    session.add(StoryMerge(story_id=gone.id, into_id=kept.id, merged_at=utcnow()))
    return True


async def current_ids(story_ids: Iterable[int], *, session: AsyncSession) -> dict[int, int]:
    """Return the story each of these numbers is now: itself, or the story it was merged into."""
    wanted = list(dict.fromkeys(story_ids))
    found = {story_id: story_id for story_id in wanted}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(StoryMerge.story_id, StoryMerge.into_id).where(StoryMerge.story_id.in_(wanted[start : start + 500]))
        )
        found.update((int(old), int(new)) for old, new in rows)
    return found


async def forget_since(since: datetime, *, session: AsyncSession) -> int:
    """Take the articles ready since ``since`` out of their stories, to be placed again; return how many."""
    ids = select(Article.id).where(Article.ready_at >= since)
    await session.execute(delete(StoryMember).where(StoryMember.article_id.in_(ids)))
    result = await session.execute(
        update(Article)
        .where(Article.ready_at >= since)
        .values(needs_story=True)
        .execution_options(synchronize_session=False)
    )
    await drop_empty(session=session)
    return rowcount(result)


async def drop_empty(*, session: AsyncSession) -> None:
    """Delete stories left without members and recount the others."""
    counts = select(func.count()).where(StoryMember.story_id == Story.id).scalar_subquery()
    await session.execute(update(Story).values(member_count=counts).execution_options(synchronize_session=False))
    await session.execute(delete(Story).where(Story.member_count == 0))


async def member_vectors(story_ids: Sequence[int], *, session: AsyncSession) -> dict[int, dict[int, bytes]]:
    """Return the event vector (float16 bytes) of every member of these stories, by story and article."""
    found: dict[int, dict[int, bytes]] = {}
    for start in range(0, len(story_ids), 500):
        rows = await session.execute(
            select(StoryMember.story_id, StoryMember.article_id, StoryMember.vector).where(
                StoryMember.story_id.in_(list(story_ids[start : start + 500])), StoryMember.vector.is_not(None)
            )
        )
        for story_id, article_id, raw in rows:
            if raw:
                found.setdefault(story_id, {})[article_id] = raw
    return found


async def story_of(article_ids: Sequence[int], *, session: AsyncSession) -> dict[int, int]:
    """Return the story of each of these articles that has one."""
    found: dict[int, int] = {}
    for start in range(0, len(article_ids), 500):
        rows = await session.execute(
            select(StoryMember.article_id, StoryMember.story_id).where(
                StoryMember.article_id.in_(list(article_ids[start : start + 500]))
            )
        )
        found.update((a, s) for a, s in rows)
    return found


def _coverage(article: Article, joined_at: datetime) -> CoverageRecord:
    return CoverageRecord(
        article_id=article.id,
        title=article.title,
        url=article.url,
        source=source_name(article),
        published_at=article.published_at,
        joined_at=joined_at,
        summary=article.summary or "",
        countries=tuple(c.code for c in article.countries),
        topics=tuple(t.topic for t in article.topics),
    )


async def stories_by_id(
    story_ids: Sequence[int], *, guild_id: int | None, session: AsyncSession
) -> dict[int, StoryRecord]:
    """Return these stories with the coverage ``guild_id`` may see (stories it may not see are left out)."""
    if not story_ids:
        return {}
    statement = (
        select(Story)
        .where(Story.id.in_(list(story_ids)), Story.guild_id.in_(scopes(guild_id)))
        .options(selectinload(Story.members))
    )
    stories = list(await session.scalars(statement))
    joined = {m.article_id: (m.story_id, m.joined_at) for s in stories for m in s.members}
    articles = await session.scalars(
        select(Article)
        .where(Article.id.in_(list(joined)), visible_articles(guild_id), Article.ready_at.is_not(None))
        .options(selectinload(Article.source), selectinload(Article.countries), selectinload(Article.topics))
    )
    coverage: dict[int, list[CoverageRecord]] = {}
    for article in articles:
        story_id, joined_at = joined[article.id]
        coverage.setdefault(story_id, []).append(_coverage(article, joined_at))
    out = {}
    for story in stories:
        members = sorted(coverage.get(story.id, []), key=lambda c: (c.joined_at, c.article_id))
        if members:  # a story whose members are all gone is not shown
            out[story.id] = StoryRecord(story.id, story.title, story.first_seen, story.last_updated, tuple(members))
    return out


async def recent_story_ids(*, since: datetime, guild_id: int | None, limit: int, session: AsyncSession) -> list[int]:
    """Return the ids of the stories ``guild_id`` may see updated since ``since``, latest first."""
    statement = (
        select(Story.id)
        .where(Story.last_updated >= since, Story.guild_id.in_(scopes(guild_id)))
        .order_by(Story.last_updated.desc(), Story.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def find_story_ids(text: str, *, guild_id: int | None, limit: int, session: AsyncSession) -> list[int]:
    """Return ids of stories whose title contains ``text`` (case-insensitive), latest first."""
    pattern = f"%{text.strip()[:100]}%"
    statement = (
        select(Story.id)
        .where(Story.title.ilike(pattern), Story.guild_id.in_(scopes(guild_id)))
        .order_by(Story.last_updated.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def members_sent(subscription_id: int, story_ids: Sequence[int], *, session: AsyncSession) -> dict[int, int]:
    """Return how many members of each of these stories the subscription was already sent."""
    rows = await session.execute(
        select(StoryDelivery.story_id, StoryDelivery.members_sent).where(
            StoryDelivery.subscription_id == subscription_id, StoryDelivery.story_id.in_(list(story_ids))
        )
    )
    return {int(story_id): int(count) for story_id, count in rows.all()}


async def record_sent(subscription_id: int, sent: Mapping[int, int], *, session: AsyncSession) -> None:
    """Remember how many members of each story a subscription's digest carried."""
    current = await current_ids(sent, session=session)  # a story may have merged since the digest was composed
    merged: dict[int, int] = {}
    for story_id, count in sent.items():
        merged[current[story_id]] = merged.get(current[story_id], 0) + count
    sent = merged
    existing = await members_sent(subscription_id, list(sent), session=session)
    alive = set(await session.scalars(select(Story.id).where(Story.id.in_(list(sent))))) if sent else set()
    now = utcnow()
    for story_id, count in sent.items():
        if story_id not in alive:  # deleted (its articles all gone)
            continue
        if story_id in existing:
            await session.execute(
                update(StoryDelivery)
                .where(StoryDelivery.subscription_id == subscription_id, StoryDelivery.story_id == story_id)
                .values(members_sent=max(count, existing[story_id]), sent_at=now)
            )
        else:
            session.add(
                StoryDelivery(subscription_id=subscription_id, story_id=story_id, members_sent=count, sent_at=now)
            )


async def follow(story_id: int, user_id: int, *, guild_id: int | None, members: int, session: AsyncSession) -> bool:
    """Record that a member follows a story (told of members after the first ``members``); False if already."""
    if await session.get(StoryFollow, (story_id, user_id)) is not None:
        return False
    session.add(StoryFollow(story_id=story_id, user_id=user_id, guild_id=guild_id, members_notified=members))
    return True


async def unfollow(story_id: int, user_id: int, *, session: AsyncSession) -> bool:
    """Stop a member following a story; False if they did not."""
    result = await session.execute(
        delete(StoryFollow).where(StoryFollow.story_id == story_id, StoryFollow.user_id == user_id)
    )
    return bool(rowcount(result))


async def followed(user_id: int, *, session: AsyncSession) -> list[tuple[int, int | None]]:
    """Return (story id, server followed from) for every story a member follows, latest first."""
    rows = await session.execute(
        select(StoryFollow.story_id, StoryFollow.guild_id)
        .join(Story, Story.id == StoryFollow.story_id)
        .where(StoryFollow.user_id == user_id)
        .order_by(Story.last_updated.desc())
    )
    return [(int(story_id), guild_id) for story_id, guild_id in rows.all()]


async def claim_follow_updates(
    *, now: datetime, quiet_since: datetime, limit: int, session: AsyncSession
) -> list[tuple[int, int, int | None, int]]:
    """Claim follows whose story has grown and who were not told since ``quiet_since``.

    Returns (story id, user id, server, members already told of) and marks them told now, up to the
    story's current member count: a message is sent at most once (never twice) per claim.
    """
    statement = (
        select(StoryFollow, Story.member_count)
        .join(Story, Story.id == StoryFollow.story_id)
        .where(
            Story.member_count > StoryFollow.members_notified,
            (StoryFollow.notified_at.is_(None)) | (StoryFollow.notified_at <= quiet_since),
        )
        .order_by(StoryFollow.story_id, StoryFollow.user_id)
        .limit(limit)
    )
    claimed = []
    for row, count in (await session.execute(skip_locked(statement, session, of=StoryFollow))).all():
        claimed.append((row.story_id, row.user_id, row.guild_id, row.members_notified))
        row.members_notified = count
        row.notified_at = now
    return claimed


async def thread_of(subscription_id: int, story_id: int, *, session: AsyncSession) -> str | None:
    """Return the thread a subscription's updates on a story go to, if one was opened."""
    story_id = (await current_ids([story_id], session=session))[story_id]
    row = await session.get(StoryDelivery, (subscription_id, story_id))
    return row.thread_id if row is not None else None


async def set_thread(subscription_id: int, story_id: int, thread_id: str, *, session: AsyncSession) -> None:
    """Remember the thread a subscription's updates on a story go to."""
    story_id = (await current_ids([story_id], session=session))[story_id]
    if await session.get(Story, story_id) is None:
        return
    row = await session.get(StoryDelivery, (subscription_id, story_id))
    if row is None:
        row = StoryDelivery(subscription_id=subscription_id, story_id=story_id, members_sent=0)
        session.add(row)
    row.thread_id = thread_id
