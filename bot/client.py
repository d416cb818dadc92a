"""The Sitrep bot: minimal intents, one extension per feature, commands synced at start."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands
from rich.console import Console

from bot.sender import ChannelSender
from bot.tree import SitrepTree
from digests.runner import MainJob
from digests.settings import Settings
from digests.tagging.topics import Topic, load_topics

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.exts.digests", "bot.exts.queries", "bot.exts.admin")


class SitrepBot(commands.Bot):
    """Runs the main job (scheduler, models, database) and answers slash commands over the same services."""

    def __init__(self, settings: Settings, *, console: Console | None = None, **options: object) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=SitrepTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.job = MainJob(settings, console=console or Console(), channel_sender=lambda cid: ChannelSender(self, cid))
        self._begin: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[Topic]:
        """The taxonomy the tagger uses (read again when its file changes), for options and autocompletion."""
        if self.job.enricher is None:
            return load_topics(self.settings.config_path(self.settings.tagging.topics_file))
        return self.job.enricher.topics.topics

    async def setup_hook(self) -> None:
        """Open the store, load the extensions, sync commands, and start the main job in the background."""
        await self.job.open()
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        guild_id = self.settings.discord.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("Synced %d slash command(s) %s", len(synced), f"to server {guild_id}" if guild_id else "globally")
        self._begin = asyncio.create_task(self._run_job(), name="sitrep-main-job")

    async def _run_job(self) -> None:
        try:
            await self.job.begin()
        except Exception:
            log.exception("The main job could not start")

    async def close(self) -> None:
        """Stop the main job, then disconnect."""
        if self._begin is not None and not self._begin.done():
            self._begin.cancel()
        await self.job.stop()
        await super().close()


async def run_bot(settings: Settings, *, console: Console) -> None:
    """Run the bot until it is closed."""
    if settings.discord_token is None:
        raise RuntimeError("no Discord token")
    async with SitrepBot(settings, console=console) as bot:
        await bot.start(settings.discord_token.get_secret_value())
