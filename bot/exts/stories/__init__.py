"""The /story, /follow, /unfollow and /following commands, and direct messages to followers."""

from bot.client import SitrepBot
from bot.exts.stories._cog import Stories
from bot.views import FollowButton


async def setup(bot: SitrepBot) -> None:
    """Load the extension."""
    bot.add_dynamic_items(FollowButton)
    await bot.add_cog(Stories(bot))
