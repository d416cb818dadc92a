"""The command tree with the one error handler: service errors become ephemeral replies."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from digests.errors import SitrepError

log = logging.getLogger(__name__)


async def reply(interaction: discord.Interaction, message: str) -> None:
    """Answer ephemerally, whether or not the interaction was already answered or deferred."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


class SitrepTree(app_commands.CommandTree):
    """Maps SitrepError (and failed checks) to a short ephemeral message; logs anything else."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Reply to the user with what went wrong, in words they can act on."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, SitrepError):
            await reply(interaction, str(cause))
            return
        if isinstance(cause, app_commands.MissingPermissions):
            await reply(interaction, "You need the Manage Server permission to do that.")
            return
        if isinstance(cause, app_commands.NoPrivateMessage):
            await reply(interaction, "That command works in a server, not in direct messages.")
            return
        if isinstance(cause, app_commands.CheckFailure):
            await reply(interaction, "You cannot use that command here.")
            return
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("Command /%s failed", command, exc_info=cause)
        await reply(interaction, "Sorry, something went wrong on our side. It has been logged.")
