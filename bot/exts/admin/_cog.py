"""Administration: a server's subscriptions and sources, and Sitrep's status (Manage Server only)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import SitrepBot
from bot.exts.common import Listing, Name, country_autocomplete, topic_autocomplete
from digests.app import App
from digests.render.safe import safe
from digests.services import sources as source_service
from digests.services import workers
from digests.text import cut

MANAGE = discord.Permissions(manage_guild=True)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage
    return interaction.guild_id


async def _ephemeral(interaction: discord.Interaction, text: str, *, title: str | None = None) -> None:
    none = discord.AllowedMentions.none()
    if title is None:
        await interaction.response.send_message(cut(text, 2000), ephemeral=True, allowed_mentions=none)
        return
    embed = discord.Embed(title=title, description=cut(text, 4096), color=0x2F6DB5)
    await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=none)


class Admin(commands.Cog):
    """Manage this server's digests and sources."""

    sources = app_commands.Group(
        name="sources",
        description="Manage this server's own sources.",
        default_permissions=MANAGE,
        guild_only=True,
    )

    def __init__(self, bot: SitrepBot) -> None:
        self.bot = bot

    @property
    def app(self) -> App:
        """The app the commands run over."""
        return self.bot.app

    @app_commands.command(name="subscribe", description="Post scheduled digests in a channel.")
    @app_commands.describe(
        channel="Where to post the digests",
        schedule="A cron expression such as '0 8 * * 1-5', or daily times such as '08:00, 18:30'",
        timezone="An IANA time zone such as Europe/London or Asia/Tokyo",
        topics="Only these topics, separated by commas",
        countries="Only these countries, separated by commas",
        languages="Only articles in these languages (codes such as en, pt, de), separated by commas",
        max_items="At most this many articles per digest (1-50, default 10)",
        threads="Post updates on a story already sent in one thread per story (default off)",
    )
    @app_commands.autocomplete(topics=topic_autocomplete, countries=country_autocomplete)
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        schedule: Listing,
        timezone: Name,
        topics: Listing | None = None,
        countries: Listing | None = None,
        languages: Listing | None = None,
        max_items: app_commands.Range[int, 1, 50] = 10,
        threads: bool = False,
    ) -> None:
        """Create a subscription for this server."""
        subscription = await self.app.subscriptions.add(
            guild_id=_guild(interaction),
            channel_id=channel.id,
            schedule=schedule,
            timezone=timezone,
            topics=_split(topics),
            countries=_split(countries),
            languages=_split(languages),
            max_items=max_items,
            threads=threads,
        )
        filters = ", ".join(subscription.topics + subscription.countries + subscription.languages) or "everything"
        await _ephemeral(
            interaction,
            f"Subscription {subscription.id}: digests of {filters} in <#{channel.id}> on '{subscription.schedule}' "
            f"({subscription.timezone}), at most {subscription.max_items} articles"
            + (", updates in one thread per story." if subscription.threads else "."),
        )

    @app_commands.command(name="unsubscribe", description="Stop one of this server's scheduled digests.")
    @app_commands.describe(subscription_id="The number shown by /subscriptions")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    async def unsubscribe(self, interaction: discord.Interaction, subscription_id: int) -> None:
        """Remove a subscription."""
        removed = await self.app.subscriptions.remove(guild_id=_guild(interaction), subscription_id=subscription_id)
        await _ephemeral(interaction, f"Subscription {removed.id} removed; no more digests in <#{removed.target}>.")

    @app_commands.command(name="subscriptions", description="List this server's scheduled digests.")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    async def subscriptions(self, interaction: discord.Interaction) -> None:
        """List subscriptions."""
        rows = await self.app.subscriptions.list(guild_id=_guild(interaction))
        lines = [
            f"**{s.id}** <#{s.target}> · `{s.schedule}` {s.timezone} · "
            f"{', '.join(s.topics + s.countries + s.languages) or 'everything'} · max {s.max_items}"
            + ("" if s.enabled else f" · disabled: {safe(s.disabled_reason or '')}")
            for s in rows
        ]
        await _ephemeral(
            interaction, "\n".join(lines) or "No subscriptions yet: see /subscribe.", title="Subscriptions"
        )

    @sources.command(name="add", description="Add a feed or web page for this server.")
    @app_commands.describe(url="An http(s) URL of an RSS/Atom feed or a page", interval="Minutes between polls")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def sources_add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        interval: app_commands.Range[int, 5, 10080] | None = None,
    ) -> None:
        """Add a source."""
        source = await source_service.add_server_source(
            self.app.database, self.app.settings, guild_id=_guild(interaction), url=url, interval_minutes=interval
        )
        await _ephemeral(
            interaction, f"Source {source.id} added: {source.name}, polled every {source.interval_minutes:g} minutes."
        )

    @sources.command(name="enable", description="Turn on again a source that was disabled for failing.")
    @app_commands.describe(source_id="The number shown by /sources list")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def sources_enable(self, interaction: discord.Interaction, source_id: int) -> None:
        """Enable a source again."""
        source = await source_service.enable_server_source(
            self.app.database, guild_id=_guild(interaction), source_id=source_id
        )
        await _ephemeral(interaction, f"Source {source.id} ({source.name}) is enabled again; it is polled next.")

    @sources.command(name="remove", description="Remove one of this server's sources.")
    @app_commands.describe(source_id="The number shown by /sources list")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def sources_remove(self, interaction: discord.Interaction, source_id: int) -> None:
        """Remove a source."""
        removed = await source_service.remove_server_source(
            self.app.database, guild_id=_guild(interaction), source_id=source_id
        )
        await _ephemeral(interaction, f"Source {removed.id} ({removed.name}) removed; its articles stay.")

    @sources.command(name="list", description="List this server's sources with their health.")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def sources_list(self, interaction: discord.Interaction) -> None:
        """List sources."""
        rows = await source_service.server_sources(self.app.database, guild_id=_guild(interaction))
        lines = []
        for s in rows:
            fetched = f"<t:{int(s.last_fetched_at.timestamp())}:R>" if s.last_fetched_at else "never"
            state = "ok" if s.enabled and not s.failures else f"{s.failures} failure(s): {safe(s.last_error or '')}"
            if not s.enabled:
                state = f"disabled: {safe(s.disabled_reason or '')}"
            lines.append(
                f"**{s.id}** {safe(s.name)} · every {s.interval_minutes:g} min · last fetch {fetched} · {state}"
            )
        await _ephemeral(
            interaction, "\n".join(lines) or "No sources of this server's own yet: see /sources add.", title="Sources"
        )

    @app_commands.command(name="status", description="Sitrep's health: collection, backlog, model and database.")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @app_commands.checks.has_permissions(manage_guild=True)
    async def status(self, interaction: discord.Interaction) -> None:
        """Report status."""
        report = await workers.status(self.app.database, self.app.models)
        last = f"<t:{int(report.last_collection.timestamp())}:R>" if report.last_collection else "never"
        text = (
            f"Last collection: {last}\nArticles stored: {report.articles}\n"
            f"Waiting to be summarized: {report.pending_sections} section(s), {report.pending_articles} article(s)\n"
            f"Sources: {report.sources} enabled, {report.failing_sources} failing\n"
            f"Summarizer: {report.summarizer}\nDatabase: {report.database}\n"
            f"Processes: {len(report.processes)} running"
            + "".join(
                f"\n• {safe(p.host)} pid {p.pid}: {safe(p.roles)}, heartbeat <t:{int(p.heartbeat_at.timestamp())}:R>"
                for p in report.processes[:20]
            )
        )
        await _ephemeral(interaction, text, title="Sitrep status")
