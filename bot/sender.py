"""Deliver digests to channels through the bot, idempotently (Discord's enforce_nonce)."""

from __future__ import annotations

from typing import Any

import discord

from bot.render import embeds_of
from digests.delivery import SendFailed, TargetGone


class ChannelSender:
    """Posts a digest message in a channel; resending with the same nonce never posts twice."""

    idempotent = True

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self.client = client
        self.channel_id = channel_id

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        """Send one payload to the channel."""
        channel_id = self.channel_id
        try:
            channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise TargetGone(f"channel {channel_id} cannot receive messages")
            message = await channel.send(
                content=payload.get("content") or None,
                embeds=embeds_of(payload),
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except (discord.NotFound, discord.Forbidden) as error:
            raise TargetGone(f"Discord answered {error.status} for channel {channel_id}: {error.text}") from error
        except discord.HTTPException as error:
            raise SendFailed(f"Discord answered {error.status}: {error.text}", retry=error.status >= 500) from error
        except (OSError, TimeoutError) as error:
            raise SendFailed(f"could not reach Discord ({error})", maybe_sent=True) from error
        return str(message.id)
