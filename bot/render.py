"""Turn digests' plain payloads and results into discord.py objects."""

from __future__ import annotations

from typing import Any

import discord

from digests.render.discord import COLOR, DESCRIPTION, FIELD_VALUE, TITLE
from digests.render.safe import safe
from digests.services.queries import ArticleRecord
from digests.tagging.countries import country_name
from digests.text import cut


def embeds_of(payload: dict[str, Any]) -> list[discord.Embed]:
    """Return a message payload's embeds as discord.Embed objects."""
    return [discord.Embed.from_dict(embed) for embed in payload.get("embeds", [])]


def brief_line(brief: ArticleRecord) -> str:
    """Return one result as a line: linked title, source, countries, and when."""
    title = safe(brief.title)
    linked = f"[{cut(title, 200)}]({brief.url})" if brief.url and brief.url.startswith("http") else cut(title, 200)
    when = f" · <t:{int(brief.when.timestamp())}:R>" if brief.when else ""
    where = f" · {', '.join(brief.countries[:3])}" if brief.countries else ""
    summary = cut(safe(brief.summary), 300)
    return f"**{brief.id}.** {linked}\n{safe(brief.source)}{where}{when}\n{summary}"


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
    if brief.url and brief.url.startswith("http"):
        embed.url = brief.url
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
