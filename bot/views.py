"""Paging views whose buttons only the invoker can press, and which stop after a timeout."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

import discord

from bot.render import article_embed, results_embed
from bot.tree import handle_error, reply
from digests.services import stories as story_service
from digests.services.queries import ArticleRecord
from digests.text import cut

if TYPE_CHECKING:
    from digests.app import App

Loader = Callable[[int], Awaitable[ArticleRecord]]


class SitrepView(discord.ui.View):
    """A view whose buttons fail the way commands do, and whose expiring buttons are disabled on timeout."""

    message: discord.Message | None = None

    def expires(self, item: discord.ui.Item[Any]) -> bool:
        """Say whether a button stops working when the view stops listening (all do, unless overridden)."""
        return True

    async def on_timeout(self) -> None:
        """Disable the expiring buttons once the view stops listening."""
        for item in self.children:
            if isinstance(item, discord.ui.Button) and self.expires(item):
                item.disabled = True
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        """Send button errors through the same path as command errors."""
        label = getattr(item, "label", None) or type(item).__name__
        await handle_error(interaction, error, where=f"Button {label!r}")


class _PageButton(discord.ui.Button["PagedView"]):
    """Previous or Next: turns its view's page by ``step``."""

    def __init__(self, label: str, step: int, *, custom_id: str, disabled: bool) -> None:
        super().__init__(
            label=label, style=discord.ButtonStyle.secondary, disabled=disabled, custom_id=custom_id, row=0
        )
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.view is not None:
            await self.view.turn(interaction, self.step)


class PagedView(SitrepView):
    """Items shown a page at a time, with Previous and Next buttons that only the member who asked can press.

    A subclass says how a page looks (``embed``), what else a page carries (``page_items``) and the custom ids of
    its page buttons (``page_ids``).
    """

    page_ids: tuple[str, str] = ("sitrep:previous", "sitrep:next")

    def __init__(self, *, owner_id: int, count: int, page_size: int, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.owner_id, self.page_size, self.page = owner_id, page_size, 0
        self.pages = max((count + page_size - 1) // page_size, 1)

    @property
    def shown(self) -> slice:
        """The current page's items, as a slice of all of them."""
        return slice(self.page * self.page_size, (self.page + 1) * self.page_size)

    def embed(self) -> discord.Embed:
        """Return the current page."""
        raise NotImplementedError

    def page_items(self) -> list[discord.ui.Item[Any]]:
        """Return the buttons the current page carries besides Previous and Next."""
        return []

    def rebuild(self) -> None:
        """Lay out the buttons for the current page."""
        self.clear_items()
        self.add_item(_PageButton("Previous", -1, custom_id=self.page_ids[0], disabled=self.page == 0))
        self.add_item(_PageButton("Next", 1, custom_id=self.page_ids[1], disabled=self.page >= self.pages - 1))
        for item in self.page_items():
            self.add_item(item)

    async def turn(self, interaction: discord.Interaction, step: int) -> None:
        """Show the previous (-1) or next (1) page, for the member who asked (no one else)."""
        if interaction.user.id != self.owner_id:
            await reply(interaction, NOT_YOURS)
            return
        self.page = min(max(self.page + step, 0), self.pages - 1)
        self.rebuild()
        await interaction.response.edit_message(embed=self.embed(), view=self)


NOT_YOURS = "These buttons belong to someone else's search."


class _ReadButton(discord.ui.Button["ResultsPaginator"]):
    def __init__(self, article_id: int) -> None:
        super().__init__(
            label=f"Read {article_id}",
            style=discord.ButtonStyle.primary,
            custom_id=f"sitrep:read:{article_id}",
            row=1,
        )
        self.article_id = article_id

    async def callback(self, interaction: discord.Interaction) -> None:
        assert self.view is not None
        await self.view.read(interaction, self.article_id)


class ResultsPaginator(PagedView):
    """Shows results a page at a time, with a Read button per result on the page."""

    def __init__(
        self, *, owner_id: int, title: str, briefs: list[ArticleRecord], page_size: int, load: Loader, timeout: float
    ) -> None:
        super().__init__(owner_id=owner_id, count=len(briefs), page_size=page_size, timeout=timeout)
        self.title, self.briefs, self.load = title, briefs, load
        self.rebuild()

    def embed(self) -> discord.Embed:
        """Return the current page."""
        chunk = self.briefs[self.shown]
        return results_embed(self.title, chunk, page=self.page, pages=self.pages, total=len(self.briefs))

    def page_items(self) -> list[discord.ui.Item[Any]]:
        """A Read button for each result on the page."""
        return [_ReadButton(brief.id) for brief in self.briefs[self.shown]]

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Let only the person who ran the command press the buttons (Read too)."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return False
        return True

    async def read(self, interaction: discord.Interaction, article_id: int) -> None:
        """Show one article's sections privately."""
        detail = await self.load(article_id)
        await interaction.response.send_message(
            embed=article_embed(detail), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


class _HasApp(Protocol):
    """What a view needs of the bot: the app it serves (the bot imports the views, so not the bot's class)."""

    @property
    def app(self) -> App: ...


async def follow_story(interaction: discord.Interaction, story_id: int) -> None:
    """Follow a story for the member who pressed or typed, answering privately."""
    database = cast(_HasApp, interaction.client).app.database  # the SitrepBot
    story = await story_service.follow(database, story_id, user_id=interaction.user.id, guild_id=interaction.guild_id)
    await reply(
        interaction,
        f"You follow story {story.id}, {cut(story.title, 200)!r}: new articles on it come by direct message. "
        f"/unfollow {story.id} stops them.",
    )


class FollowButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"sitrep:follow:(?P<id>[0-9]+)"):
    """A Follow button on a digest item or a story; it works for anyone, for as long as the message lives."""

    def __init__(self, story_id: int, *, title: str | None = None) -> None:
        # Several items, several buttons: each names its story (a button label holds 80 characters).
        label = cut(f"Follow: {' '.join(title.split())}", 80) if title and title.strip() else "Follow"
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=f"sitrep:follow:{story_id}")
        )
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FollowButton:
        """Rebuild the button from its custom id (also after a restart)."""
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Follow the story, answering privately."""
        try:
            await follow_story(interaction, self.story_id)
        except Exception as error:  # the same error path as commands
            await handle_error(interaction, error, where="Button 'Follow'")
