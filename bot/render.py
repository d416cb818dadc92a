"""Turn digests' plain payloads and results into discord.py objects."""

from __future__ import annotations

from typing import Any

import discord

from digests.render.discord import COLOR, DESCRIPTION, FIELD_VALUE, TITLE
from digests.render.safe import linked, safe, web_url
from digests.services.queries import ArticleRecord
from digests.services.stories import CoverageRecord, StoryRecord
from digests.tagging.countries import country_name
from digests.tagging.language import language_name
from digests.text import cut


def embeds_of(payload: dict[str, Any]) -> list[discord.Embed]:
    """Return a message payload's embeds as discord.Embed objects."""
    return [discord.Embed.from_dict(embed) for embed in payload.get("embeds", [])]


def language_note(brief: ArticleRecord) -> str:
    """Return " · in Portuguese" (or "translated from ...") for a non-English result, else nothing."""
    if brief.language in (None, "en"):
        return ""
    name = language_name(brief.language)
    return f" · translated from {name}" if brief.title_translated else f" · in {name}"


def brief_line(brief: ArticleRecord) -> str:
    """Return one result as a line: linked title, source, countries, language if not English, and when."""
    title = linked(cut(safe(brief.title_translated or brief.title), 200), brief.url)
    when = f" · <t:{int(brief.when.timestamp())}:R>" if brief.when else ""
    where = f" · {', '.join(brief.countries[:3])}" if brief.countries else ""
    summary = cut(safe(brief.summary_translated or brief.summary), 300)
    return f"**{brief.id}.** {title}\n{safe(brief.source)}{where}{language_note(brief)}{when}\n{summary}"


def results_embed(title: str, briefs: list[ArticleRecord], *, page: int, pages: int, total: int) -> discord.Embed:
    """Return one page of results as an embed."""
    lines = [brief_line(b) for b in briefs]
    description = "\n\n".join(lines) if lines else "Nothing matched."
    embed = discord.Embed(title=cut(title, TITLE), description=cut(description, DESCRIPTION), color=COLOR)
    embed.set_footer(text=f"Page {page + 1} of {max(pages, 1)} · {total} result(s) · Read opens an article's sections")
    return embed


def article_embed(brief: ArticleRecord) -> discord.Embed:
    """Return every section summary of one article."""
    embed = discord.Embed(title=cut(safe(brief.title), TITLE), color=COLOR)
    embed.url = web_url(brief.url)
    for section in brief.sections[:25]:
        summary = section.summary or section.text
        embed.add_field(
            name=cut(safe(section.heading or "In brief"), 256),
            value=cut(safe(summary) or "…", FIELD_VALUE),
            inline=False,
        )
    countries = ", ".join(country_name(c) for c in brief.countries[:6])
    footer = " | ".join(part for part in (brief.source, countries, " · ".join(brief.topics)) if part)
    embed.set_footer(text=cut(footer, 2048))
    if brief.when:
        embed.timestamp = brief.when
    return embed


def story_embed(story: StoryRecord, *, page: int, page_size: int) -> discord.Embed:
    """Return a story: its summary, times, and one page of every outlet's article."""
    lead = next((c for c in story.coverage if c.summary), story.coverage[0])
    outlets = list(dict.fromkeys(c.source for c in story.coverage))
    embed = discord.Embed(title=cut(safe(story.title), TITLE), description=cut(safe(lead.summary), 1500), color=COLOR)
    pages = max((len(story.coverage) + page_size - 1) // page_size, 1)
    lines = []
    for article in story.coverage[page * page_size : (page + 1) * page_size]:
        title = linked(cut(safe(article.title), 120), article.url)
        lines.append(f"**{safe(article.source)}** · {title} · <t:{int(article.joined_at.timestamp())}:R>")
    embed.add_field(
        name=f"Reported by {len(outlets)} outlet(s)", value=cut("\n".join(lines) or "…", FIELD_VALUE), inline=False
    )
    first, last = int(story.first_seen.timestamp()), int(story.last_updated.timestamp())
    embed.add_field(name="Seen", value=f"first <t:{first}:f>, updated <t:{last}:R>", inline=False)
    embed.set_footer(text=f"Story {story.id} · page {page + 1} of {pages} · {len(story.coverage)} article(s)")
    return embed


def follow_update_embed(story: StoryRecord, new: tuple[CoverageRecord, ...]) -> discord.Embed:
    """Return the direct message for new articles on a followed story."""
    embed = discord.Embed(title=cut(f"Update: {safe(story.title)}", TITLE), color=COLOR)
    lines = []
    for article in new[:10]:
        lines.append(f"**{safe(article.source)}** · {linked(cut(safe(article.title), 150), article.url)}")
    if len(new) > 10:
        lines.append(f"…and {len(new) - 10} more")
    embed.description = cut("\n".join(lines), DESCRIPTION)
    embed.set_footer(text=f"Story {story.id} · /story {story.id} for all coverage · /unfollow {story.id} to stop")
    return embed
