"""Deliver digests to channels through the bot, idempotently (Discord's enforce_nonce)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.render import embeds_of, follow_update_embed
from bot.views import FollowButton
from digests.render.discord import FOLLOW, THREAD
from digests.senders import SendFailed, TargetGone
from digests.services import stories
from digests.text import cut

if TYPE_CHECKING:
    from bot.client import SitrepBot

log = logging.getLogger(__name__)

THREAD_NAME = 100
"""Discord's limit on a thread's name."""


class DirectMessenger:
    """Tells a member, by direct message, of new articles on a story they follow (the app's follow job)."""

    def __init__(self, bot: SitrepBot) -> None:
        self.bot = bot

    async def tell(self, update: stories.FollowUpdate) -> bool:
        """Send one update; False when Discord refuses (DMs closed, member gone): the claim stands."""
        await self.bot.wait_until_ready()  # the update is claimed: never try it on a gateway not yet connected
        try:
            user = self.bot.get_user(update.user_id) or await self.bot.fetch_user(update.user_id)
            await user.send(
                embed=follow_update_embed(update.story, update.new), allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as error:
            log.warning("Could not tell user %s about story %s: %s", update.user_id, update.story.id, error)
            return False
        return True


class ChannelSender:
    """Posts a digest message in a channel (or a story's thread); resending with the same nonce never posts twice."""

    idempotent = True

    def __init__(self, client: SitrepBot, channel_id: int) -> None:
        self.client = client
        self.channel_id = channel_id

    async def _channel(self, channel_id: int) -> Any:
        return self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)

    async def _thread(self, channel: Any, target: dict[str, Any]) -> Any:
        """Return the thread of a story for this subscription, opening it the first time."""
        database = self.client.app.database
        subscription, story = int(target["subscription"]), int(target["story"])
        known = await stories.thread_of(database, subscription, story)
        if known is not None:
            try:
                return await self._channel(int(known))
            except discord.NotFound:
                pass  # deleted by someone: open a new one
        if not isinstance(channel, discord.TextChannel):
            return channel  # no threads here: the update goes to the channel itself
        try:
            thread = await channel.create_thread(
                name=cut(str(target.get("name") or f"Story {story}"), THREAD_NAME),
                type=discord.ChannelType.public_thread,
                auto_archive_duration=10080,
            )
        except discord.Forbidden as error:
            # The bot may post here but not open threads: the channel is not gone, so the update goes to it.
            log.warning(
                "Cannot open a thread in channel %s (%s; grant Create Public Threads): the update on story %s "
                "is posted in the channel",
                channel.id,
                error.text or error.status,
                story,
            )
            return channel
        await stories.remember_thread(database, subscription, story, str(thread.id))
        return thread

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        """Send one payload to the channel, or to its story's thread, with Follow buttons for its stories."""
        channel_id = self.channel_id
        try:
            channel = await self._channel(channel_id)
            if THREAD in payload:
                channel = await self._thread(channel, payload[THREAD])
            if not isinstance(channel, discord.abc.Messageable):
                raise TargetGone(f"channel {channel_id} cannot receive messages")
            view = discord.ui.View(timeout=None)
            for entry in payload.get(FOLLOW, [])[:25]:
                # [story, title] (older recorded digests hold the story alone)
                story_id, title = (entry[0], entry[1]) if isinstance(entry, list) else (entry, None)
                view.add_item(FollowButton(int(story_id), title=title))
            message = await channel.send(
                content=payload.get("content") or None,
                embeds=embeds_of(payload),
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions.none(),
                view=view,
            )
        except (discord.NotFound, discord.Forbidden) as error:
            raise TargetGone(f"Discord answered {error.status} for channel {channel_id}: {error.text}") from error
        except discord.HTTPException as error:
            raise SendFailed(f"Discord answered {error.status}: {error.text}", retry=error.status >= 500) from error
        except (OSError, TimeoutError) as error:
            raise SendFailed(f"could not reach Discord ({error})", maybe_sent=True) from error
        return str(message.id)
