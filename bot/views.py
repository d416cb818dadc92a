"""Paging views whose buttons only the invoker can press, and which stop after a timeout."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import discord

from bot.render import article_embed, results_embed
from digests.services.queries import ArticleRecord

Loader = Callable[[int], Awaitable[ArticleRecord]]


class ResultsPaginator(discord.ui.View):
    """Shows results a page at a time, with a Read button per result on the page."""

    def __init__(
        self, *, owner_id: int, title: str, briefs: list[ArticleRecord], page_size: int, load: Loader, timeout: float
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.title = title
        self.briefs = briefs
        self.page_size = page_size
        self.load = load
        self.page = 0
        self.message: discord.InteractionMessage | None = None
        self._refresh()

    @property
    def pages(self) -> int:
        """Count the pages."""
        return max((len(self.briefs) + self.page_size - 1) // self.page_size, 1)

    def embed(self) -> discord.Embed:
        """Return the current page."""
        start = self.page * self.page_size
        chunk = self.briefs[start : start + self.page_size]
        return results_embed(self.title, chunk, page=self.page, pages=self.pages, total=len(self.briefs))

    def _refresh(self) -> None:
        self.clear_items()
        previous = discord.ui.Button(
            label="Previous",
            style=discord.ButtonStyle.secondary,
            disabled=self.page == 0,
            custom_id="sitrep:previous",
            row=0,
        )
        following = discord.ui.Button(
            label="Next",
            style=discord.ButtonStyle.secondary,
            disabled=self.page >= self.pages - 1,
            custom_id="sitrep:next",
            row=0,
        )
        previous.callback = self._previous
        following.callback = self._next
        self.add_item(previous)
        self.add_item(following)
        start = self.page * self.page_size
        for brief in self.briefs[start : start + self.page_size]:
            button = discord.ui.Button(
                label=f"Read {brief.id}", style=discord.ButtonStyle.primary, custom_id=f"sitrep:read:{brief.id}", row=1
            )
            button.callback = self._reader(brief.id)
            self.add_item(button)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Let only the person who ran the command press the buttons."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message("These buttons belong to someone else's search.", ephemeral=True)
            return False
        return True

    async def _previous(self, interaction: discord.Interaction) -> None:
        self.page = max(self.page - 1, 0)
        self._refresh()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    async def _next(self, interaction: discord.Interaction) -> None:
        self.page = min(self.page + 1, self.pages - 1)
        self._refresh()
        await interaction.response.edit_message(embed=self.embed(), view=self)

    def _reader(self, article_id: int) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def read(interaction: discord.Interaction) -> None:
            detail = await self.load(article_id)
            await interaction.response.send_message(
                embed=article_embed(detail), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

        return read

    async def on_timeout(self) -> None:
        """Disable the buttons once the view stops listening."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)
