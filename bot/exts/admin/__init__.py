"""The administration commands: subscriptions, sources and status."""

from bot.client import SitrepBot
from bot.exts.admin._cog import Admin


async def setup(bot: SitrepBot) -> None:
    """Load the extension."""
    await bot.add_cog(Admin(bot))
