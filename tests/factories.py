"""Stored articles for digest tests, made directly (no models needed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from digests.store.db import Database
from digests.store.models import Article, ArticleCountry, ArticleTopic, Section, Source
from digests.text import sha256


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
        source = await session.get(Source, source_id) if source_id is not None else None
        article = Article(
            key=sha256(f"{title}|{url}|{source_id}"),
            source_id=source_id,
            guild_id=source.guild_id if source is not None else 0,
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


async def count_articles(database: Database) -> int:
    """Count the stored articles."""
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Article)) or 0


async def get_article(database: Database, article_id: int) -> Article | None:
    """Return one stored article with its sections."""
    async with database.sessions() as session:
        statement = select(Article).where(Article.id == article_id).options(selectinload(Article.sections))
        return await session.scalar(statement)
