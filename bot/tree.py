"""The one error path: service errors become ephemeral replies, for commands and buttons alike."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from digests.errors import SitrepError
from digests.text import cut

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000


async def reply(interaction: discord.Interaction, message: str) -> None:
    """Answer ephemerally, whether or not the interaction was already answered or deferred."""
    text = cut(message, MESSAGE_LIMIT)
    none = discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=none)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=none)


async def handle_error(interaction: discord.Interaction, error: Exception, *, where: str) -> None:
    """Reply to the user with what went wrong, in words they can act on; log anything unexpected."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(cause, SitrepError):
        await reply(interaction, str(cause))
    elif isinstance(cause, app_commands.MissingPermissions):
        await reply(interaction, "You need the Manage Server permission to do that.")
    elif isinstance(cause, app_commands.NoPrivateMessage):
        await reply(interaction, "That command works in a server, not in direct messages.")
    elif isinstance(cause, app_commands.CheckFailure):
        await reply(interaction, "You cannot use that command here.")
    else:
        log.error("%s failed", where, exc_info=cause)
        await reply(interaction, "Sorry, something went wrong on our side. It has been logged.")


class SitrepTree(app_commands.CommandTree):
    """Maps SitrepError (and failed checks) to a short ephemeral message; logs anything else."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Reply to the user with what went wrong, in words they can act on."""
        command = interaction.command.qualified_name if interaction.command else "?"
        await handle_error(interaction, error, where=f"Command /{command}")
