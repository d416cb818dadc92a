"""Stored articles for digest tests, made directly (no models needed)."""

from __future__ import annotations

from datetime import datetime

from digests.collect.identity import sha256
from digests.store.db import Database
from digests.store.models import Article, ArticleCountry, ArticleTopic, Section, Source


async def add_source(database: Database, name: str, guild_id: int = 0) -> int:
    """Store a source and return its id."""
    async with database.sessions.begin() as session:
        source = Source(name=name, kind="feed", location=f"https://{name}.example/rss", guild_id=guild_id)
        session.add(source)
        await session.flush()
        return source.id


async def add_article(
    database: Database,
    title: str,
    *,
    ready_at: datetime,
    topics: list[tuple[str, float]] = (),  # type: ignore[assignment]
    countries: list[str] = (),  # type: ignore[assignment]
    url: str | None = None,
    source_id: int | None = None,
    sections: list[tuple[str | None, str]] | None = None,
    published_at: datetime | None = None,
) -> int:
    """Store a summarized, tagged article and return its id."""
    sections = sections or [("What's Happening?", f"{title} happened."), ("What's Next?", "More follows.")]
    async with database.sessions.begin() as session:
        article = Article(
            key=sha256(f"{title}|{url}|{source_id}"),
            source_id=source_id,
            source_name="Direct",
            url=url,
            title=title,
            published_at=published_at,
            collected_at=ready_at,
            updated_at=ready_at,
            content_hash=sha256(title),
            text=title,
            summary=" ".join(text for _, text in sections[:3]),
            needs_tagging=False,
            tags_version="test",
            ready_at=ready_at,
            sections=[
                Section(position=i, heading=h, text=t, text_hash=sha256(t), summary=t, needs_summary=False)
                for i, (h, t) in enumerate(sections)
            ],
            topics=[ArticleTopic(topic=t, score=s, rank=i) for i, (t, s) in enumerate(topics)],
            countries=[ArticleCountry(code=c, score=1.0, rank=i) for i, c in enumerate(countries)],
        )
        session.add(article)
        await session.flush()
        return article.id
