"""Helpers shared by the extensions: option conversion and autocompletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from digests.schedule import parse_since
from digests.tagging.countries import resolve_country, suggest_countries
from digests.tagging.language import resolve_language
from digests.tagging.topics import resolve_topic

if TYPE_CHECKING:
    from bot.client import SitrepBot


Name = app_commands.Range[str, 1, 100]
"""A topic, country or time-zone option: Discord refuses anything longer before it reaches us."""
Span = app_commands.Range[str, 1, 40]
"""A "since" option such as 24h or 2026-11-20."""
Listing = app_commands.Range[str, 1, 500]
"""A comma-separated list of topics or countries, or a schedule."""


def bot_of(interaction: discord.Interaction) -> SitrepBot:
    """Return the bot that received the interaction."""
    return cast("SitrepBot", interaction.client)  # only a SitrepBot registers Sitrep's commands


def topic_option(interaction: discord.Interaction, value: str | None) -> str | None:
    """Resolve a topic option against the taxonomy (any case); unknown names get suggestions."""
    return resolve_topic(value, bot_of(interaction).topics) if value else None


def country_option(value: str | None) -> str | None:
    """Resolve a country option (name, code, alias or demonym) to its ISO code."""
    return resolve_country(value) if value else None


def language_option(value: str | None) -> str | None:
    """Resolve a language option (a code such as "pt", or an English name) to its ISO 639-1 code."""
    return resolve_language(value) if value else None


def since_option(value: str | None) -> datetime | None:
    """Turn "24h", "7d" or a date into the start of a window."""
    return parse_since(value, datetime.now(UTC)) if value else None


async def topic_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Offer the taxonomy's topics that contain what was typed."""
    names = [t.name for t in bot_of(interaction).topics]
    wanted = current.casefold()
    return [app_commands.Choice(name=n, value=n) for n in names if wanted in n.casefold()][:25]


async def country_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Offer countries by name, code, alias or demonym."""
    return [app_commands.Choice(name=label, value=code) for label, code in suggest_countries(current, 25)]
