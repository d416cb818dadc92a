"""The /topic, /country, /search and /article commands."""

from bot.client import SitrepBot
from bot.exts.queries._cog import Queries


async def setup(bot: SitrepBot) -> None:
    """Load the extension."""
    await bot.add_cog(Queries(bot))
