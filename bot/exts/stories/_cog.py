"""Stories in Discord: look one up with all its coverage, follow it, and hear of its new articles by DM."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import SitrepBot
from bot.exts.common import Name, bot_of
from bot.render import story_embed
from bot.sender import DirectMessenger
from bot.tree import reply
from bot.views import FollowButton, PagedView, follow_story
from digests.errors import NotFoundError
from digests.services import stories as service
from digests.services.stories import StoryRecord
from digests.text import cut

log = logging.getLogger(__name__)


async def _story(interaction: discord.Interaction, value: str) -> StoryRecord:
    """Resolve a story option: a story number (from autocompletion) or words of its title."""
    database = bot_of(interaction).app.database
    text = value.strip()
    if text.isdigit():
        found = await service.story(database, int(text), guild_id=interaction.guild_id)
        if found is None:
            raise NotFoundError(f"There is no story {text} here.")
        return found
    matches = await service.find(database, text, guild_id=interaction.guild_id, limit=1)
    if not matches:
        raise NotFoundError(f"No story has {cut(text, 100)!r} in its title. Try fewer words.")
    return matches[0]


async def story_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Offer stories whose title has what was typed (the latest when nothing was), by number."""
    database = bot_of(interaction).app.database
    if current.strip():
        found = await service.find(database, current, guild_id=interaction.guild_id, limit=25)
    else:
        since = datetime(1970, 1, 1, tzinfo=UTC)
        found = await service.recent(database, since=since, guild_id=interaction.guild_id, limit=25)
    return [
        app_commands.Choice(name=cut(f"{s.title} ({len(s.coverage)} article(s))", 100), value=str(s.id)) for s in found
    ]


async def following_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Offer the stories the member follows."""
    found = await service.following(bot_of(interaction).app.database, user_id=interaction.user.id)
    wanted = current.casefold()
    return [
        app_commands.Choice(name=cut(s.title, 100), value=str(s.id)) for s in found if wanted in s.title.casefold()
    ][:25]


class StoryView(PagedView):
    """A story's coverage a page at a time, with a Follow button."""

    page_ids = ("sitrep:story:-1", "sitrep:story:1")

    def __init__(self, story: StoryRecord, *, owner_id: int, page_size: int, timeout: float) -> None:
        super().__init__(owner_id=owner_id, count=len(story.coverage), page_size=page_size, timeout=timeout)
        self.story = story
        self.rebuild()

    def embed(self) -> discord.Embed:
        """Return the current page."""
        return story_embed(self.story, page=self.page, page_size=self.page_size)

    def page_items(self) -> list[discord.ui.Item[Any]]:
        """Follow, which anyone may press."""
        return [FollowButton(self.story.id)]

    def expires(self, item: discord.ui.Item[Any]) -> bool:
        """Paging stops with the view; Follow keeps working."""
        return not isinstance(item, FollowButton)


class Stories(commands.Cog):
    """Stories: one event's articles from every outlet."""

    def __init__(self, bot: SitrepBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Tell followers of new articles through this bot (the app's follow job runs in a delivering process)."""
        self.bot.app.tell_followers_through(DirectMessenger(self.bot))

    async def cog_unload(self) -> None:
        """Stop telling followers through this bot."""
        self.bot.app.tell_followers_through(None)

    @app_commands.command(name="story", description="A story and every outlet's article on it.")
    @app_commands.describe(story="A story: pick one, or type words of its title")
    @app_commands.autocomplete(story=story_autocomplete)
    async def story(self, interaction: discord.Interaction, story: Name) -> None:
        """Show a story with its coverage, paged."""
        found = await _story(interaction, story)
        settings = self.bot.settings.discord
        view = StoryView(
            found, owner_id=interaction.user.id, page_size=settings.page_size, timeout=settings.view_timeout_seconds
        )
        await interaction.response.send_message(
            embed=view.embed(), view=view, allowed_mentions=discord.AllowedMentions.none()
        )
        view.message = await interaction.original_response()

    @app_commands.command(name="follow", description="Get a direct message when a story has new articles.")
    @app_commands.describe(story="A story: pick one, or type words of its title")
    @app_commands.autocomplete(story=story_autocomplete)
    async def follow(self, interaction: discord.Interaction, story: Name) -> None:
        """Follow a story."""
        await follow_story(interaction, (await _story(interaction, story)).id)

    @app_commands.command(name="unfollow", description="Stop following a story.")
    @app_commands.describe(story="A story you follow")
    @app_commands.autocomplete(story=following_autocomplete)
    async def unfollow(self, interaction: discord.Interaction, story: Name) -> None:
        """Stop following a story."""
        if not story.strip().isdigit():
            raise NotFoundError("Pick the story from the list, or give its number (see /following).")
        await service.unfollow(self.bot.app.database, int(story), user_id=interaction.user.id)
        await reply(interaction, f"You no longer follow story {int(story)}.")

    @app_commands.command(name="following", description="The stories you follow.")
    async def following(self, interaction: discord.Interaction) -> None:
        """List the stories the member follows."""
        found = await service.following(self.bot.app.database, user_id=interaction.user.id)
        lines = [f"**{s.id}.** {cut(s.title, 150)} · {len(s.coverage)} article(s)" for s in found]
        await reply(interaction, "\n".join(lines) if lines else "You follow no story. Use /follow or a Follow button.")

    async def send_follow_updates(self) -> int:
        """Send the due follow messages now; return how many were sent."""
        return await self.bot.app.tell_followers()
