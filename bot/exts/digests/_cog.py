"""/digest: a digest now, filtered, in the channel or privately."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import SitrepBot
from bot.exts.common import (
    Name,
    Span,
    country_autocomplete,
    country_option,
    since_option,
    topic_autocomplete,
    topic_option,
)
from bot.render import embeds_of
from digests.render.discord import discord_messages
from digests.services.digests import digest_filters, digest_now


class Digests(commands.Cog):
    """Digests on demand."""

    def __init__(self, bot: SitrepBot) -> None:
        self.bot = bot

    @app_commands.command(name="digest", description="Get a briefing digest of recent articles now.")
    @app_commands.describe(
        topic="Only articles on this topic",
        country="Only articles about this country (name, code or demonym)",
        since="How far back to look, e.g. 24h, 3d or 2026-11-20 (default 24h)",
        private="Show the digest only to you",
    )
    @app_commands.autocomplete(topic=topic_autocomplete, country=country_autocomplete)
    async def digest(
        self,
        interaction: discord.Interaction,
        topic: Name | None = None,
        country: Name | None = None,
        since: Span | None = None,
        private: bool = False,
    ) -> None:
        """Build and post a digest."""
        now = datetime.now(UTC)
        filters = digest_filters(
            self.bot.app.settings,
            since=since_option(since) or now - timedelta(hours=24),
            until=now,
            topics=[t for t in [topic_option(interaction, topic)] if t],
            countries=[c for c in [country_option(country)] if c],
            guild_id=interaction.guild_id,
        )
        await interaction.response.defer(ephemeral=private, thinking=True)
        built = await digest_now(self.bot.app.database, filters)
        for message in discord_messages(built):
            await interaction.followup.send(
                embeds=embeds_of(message), ephemeral=private, allowed_mentions=discord.AllowedMentions.none()
            )
