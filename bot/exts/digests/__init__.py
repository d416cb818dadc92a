"""The /digest command."""

from bot.exts.digests._cog import Digests


async def setup(bot) -> None:
    """Load the extension."""
    await bot.add_cog(Digests(bot))
