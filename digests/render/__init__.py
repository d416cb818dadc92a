"""Render digests: Discord message payloads (within every limit), Markdown, plain text, the terminal."""

from digests.render.discord import discord_messages
from digests.render.text import markdown, plain_text

__all__ = ["discord_messages", "markdown", "plain_text"]
