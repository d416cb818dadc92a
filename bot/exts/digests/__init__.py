"""The /digest command."""

from bot.client import SitrepBot
from bot.exts.digests._cog import Digests


async def setup(bot: SitrepBot) -> None:
    """Load the extension."""
    await bot.add_cog(Digests(bot))
