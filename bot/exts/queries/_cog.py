"""Queries over stored articles: by topic, by country, by meaning and words, and one article in full."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import SitrepBot
from bot.exts.common import (
    Name,
    Span,
    country_autocomplete,
    country_option,
    language_option,
    since_option,
    topic_autocomplete,
    topic_option,
)
from bot.render import article_embed
from bot.views import ResultsPaginator
from digests.app import App
from digests.services import queries
from digests.services.queries import ArticleRecord
from digests.tagging.countries import country_name

_LANGUAGE = "Only articles in this language: a code such as en, pt or de"


class Queries(commands.Cog):
    """Look things up in the briefings."""

    def __init__(self, bot: SitrepBot) -> None:
        self.bot = bot

    @property
    def app(self) -> App:
        """The app the commands run over."""
        return self.bot.app

    async def _show(self, interaction: discord.Interaction, title: str, briefs: list[ArticleRecord]) -> None:
        settings = self.app.settings.discord
        guild_id = interaction.guild_id

        async def load(article_id: int) -> ArticleRecord:
            return await queries.article_detail(self.app.database, article_id, guild_id=guild_id)

        view = ResultsPaginator(
            owner_id=interaction.user.id,
            title=title,
            briefs=briefs,
            page_size=settings.page_size,
            load=load,
            timeout=settings.view_timeout_seconds,
        )
        message = await interaction.followup.send(
            embed=view.embed(), view=view, wait=True, allowed_mentions=discord.AllowedMentions.none()
        )
        view.message = message

    @app_commands.command(name="topic", description="The latest articles on a topic.")
    @app_commands.describe(name="A topic from the team's taxonomy", language=_LANGUAGE)
    @app_commands.autocomplete(name=topic_autocomplete)
    async def topic(self, interaction: discord.Interaction, name: Name, language: Name | None = None) -> None:
        """List the latest articles on a topic."""
        topic, code = topic_option(interaction, name), language_option(language)
        await interaction.response.defer(thinking=True)
        briefs = await queries.latest(self.app.database, guild_id=interaction.guild_id, topic=topic, language=code)
        await self._show(interaction, f"Latest on {topic}", briefs)

    @app_commands.command(name="country", description="The latest articles about a country.")
    @app_commands.describe(
        name="A country: name, code, alias or demonym (UK, Britain, British, GB)", language=_LANGUAGE
    )
    @app_commands.autocomplete(name=country_autocomplete)
    async def country(self, interaction: discord.Interaction, name: Name, language: Name | None = None) -> None:
        """List the latest articles about a country."""
        code, language_code = country_option(name), language_option(language)
        assert code is not None
        await interaction.response.defer(thinking=True)
        briefs = await queries.latest(
            self.app.database, guild_id=interaction.guild_id, country=code, language=language_code
        )
        await self._show(interaction, f"Latest about {country_name(code)}", briefs)

    @app_commands.command(name="search", description="Search stored articles by meaning and by words.")
    @app_commands.describe(
        query="What to look for",
        topic="Only articles on this topic",
        country="Only articles about this country",
        language=_LANGUAGE,
        since="How far back to look, e.g. 24h, 7d or 2026-11-20",
    )
    @app_commands.autocomplete(topic=topic_autocomplete, country=country_autocomplete)
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 2, 200],
        topic: Name | None = None,
        country: Name | None = None,
        language: Name | None = None,
        since: Span | None = None,
    ) -> None:
        """Search by meaning and words."""
        topic_name, code, start = topic_option(interaction, topic), country_option(country), since_option(since)
        language_code = language_option(language)
        await interaction.response.defer(thinking=True)
        briefs = await queries.search(
            self.app.database,
            self.app.models,
            query,
            guild_id=interaction.guild_id,
            topic=topic_name,
            country=code,
            language=language_code,
            since=start,
        )
        await self._show(interaction, f"Search: {query}", briefs)

    @app_commands.command(name="article", description="Every section summary of one article.")
    @app_commands.describe(article_id="The article's number, as shown in results")
    async def article(self, interaction: discord.Interaction, article_id: app_commands.Range[int, 1]) -> None:
        """Show one article's sections."""
        detail = await queries.article_detail(self.app.database, article_id, guild_id=interaction.guild_id)
        await interaction.response.send_message(
            embed=article_embed(detail), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
