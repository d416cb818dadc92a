"""The Sitrep bot: minimal intents, one extension per feature, commands synced at start."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands
from rich.console import Console

from bot.sender import ChannelSender
from bot.tree import SitrepTree
from digests.app import App
from digests.errors import ConfigError, SitrepError
from digests.kinds import ALL_ROLES, Role, TargetKind
from digests.render.safe import no_pings
from digests.settings import Settings
from digests.tagging.topics import Topic, current_topics
from digests.text import cut, sha256

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.exts.digests", "bot.exts.queries", "bot.exts.admin", "bot.exts.stories")


class SitrepBot(commands.Bot):
    """A front door over the app: answers slash commands and delivers channel digests."""

    def __init__(
        self,
        settings: Settings,
        *,
        console: Console | None = None,
        status: Console | None = None,
        roles: frozenset[Role] = ALL_ROLES,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        shards = settings.discord
        if shards.shard_count > 1:
            if len(shards.shard_ids) != 1 or not 0 <= shards.shard_ids[0] < shards.shard_count:
                raise ConfigError(
                    f"with discord.shard_count = {shards.shard_count}, name this process's one shard in "
                    f"discord.shard_ids (0 to {shards.shard_count - 1}); run one process per shard"
                )
            options |= {"shard_id": shards.shard_ids[0], "shard_count": shards.shard_count}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=SitrepTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.console = console or Console()
        self.status_console = status
        self.roles = roles
        self._app: App | None = None
        self._begin: asyncio.Task[None] | None = None

    @property
    def app(self) -> App:
        """The app the commands run over; there from ``setup_hook`` on."""
        if self._app is None:
            raise RuntimeError("the bot has not been set up")
        return self._app

    @property
    def topics(self) -> list[Topic]:
        """The taxonomy (read again when its file changes), for options and autocompletion."""
        return current_topics(self.settings.config_path(self.settings.tagging.topics_file))

    async def setup_hook(self) -> None:
        """Open the app, load the extensions, sync commands, and start the scheduled jobs in the background."""
        self._app = await App.open(self.settings, console=self.console, status=self.status_console, roles=self.roles)
        self._app.senders.register(TargetKind.CHANNEL, lambda target: ChannelSender(self, int(target)))
        if self.settings.discord.admin_channel_id:
            self._app.notifiers.append(self.post_notice)
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
        self._begin = asyncio.create_task(self._start_app(self._app), name="sitrep-app")

    async def post_notice(self, message: str) -> None:
        """Post an operator notice in the admin channel."""
        sender = ChannelSender(self, self.settings.discord.admin_channel_id)
        await sender.send({"content": cut(no_pings(message), 2000)}, nonce=sha256(message)[:25])

    @staticmethod
    async def _start_app(app: App) -> None:
        try:
            await app.start()
        except Exception:
            log.exception("The scheduled jobs could not start")

    async def close(self) -> None:
        """Stop the app, then disconnect."""
        if self._begin is not None and not self._begin.done():
            self._begin.cancel()
        if self._app is not None:
            await self._app.close()
        await super().close()


async def run_bot(
    settings: Settings, *, console: Console, status: Console | None = None, roles: frozenset[Role] = ALL_ROLES
) -> None:
    """Run the bot until it is closed; a refused token or a Discord outage at login is a one-line SitrepError."""
    if settings.discord_token is None:
        raise SitrepError("no Discord token: set SITREP_DISCORD_TOKEN")
    async with SitrepBot(settings, console=console, status=status, roles=roles) as bot:
        try:
            await bot.start(settings.discord_token.get_secret_value())
        except discord.LoginFailure as error:
            raise SitrepError("Discord refused the token: check SITREP_DISCORD_TOKEN (the bot's token)") from error
        except discord.HTTPException as error:
            raise SitrepError(f"Discord answered HTTP {error.status} at login; try again later") from error
        except (OSError, TimeoutError) as error:
            raise SitrepError(f"cannot reach Discord ({error}); check the network and try again") from error
