"""Bot logic as unit tests with specced mocks: the one error handler and the channel sender."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock, MagicMock, create_autospec

import discord
import pytest
from discord import app_commands

from bot.sender import ChannelSender
from bot.tree import SitrepTree
from digests.errors import NotFoundError
from digests.senders import SendFailed, TargetGone


def _interaction(*, done: bool = False) -> MagicMock:
    interaction = create_autospec(discord.Interaction, instance=True)
    interaction.response = create_autospec(discord.InteractionResponse, instance=True)
    interaction.followup = create_autospec(discord.Webhook, instance=True)
    interaction.response.is_done.return_value = done
    interaction.command = None
    return interaction


@pytest.fixture
def tree() -> SitrepTree:
    return SitrepTree(discord.Client(intents=discord.Intents.none()))


async def test_service_errors_become_ephemeral_replies(tree: SitrepTree) -> None:
    interaction = _interaction()
    error = app_commands.CommandInvokeError(MagicMock(), NotFoundError("Unknown country 'Brtain'."))
    await tree.on_error(interaction, error)
    interaction.response.send_message.assert_awaited_once()
    args, kwargs = interaction.response.send_message.await_args
    assert args == ("Unknown country 'Brtain'.",)
    assert kwargs["ephemeral"] is True
    assert kwargs["allowed_mentions"].everyone is False


async def test_after_a_defer_the_error_is_a_followup(tree: SitrepTree) -> None:
    interaction = _interaction(done=True)
    await tree.on_error(interaction, app_commands.MissingPermissions(["manage_guild"]))
    interaction.followup.send.assert_awaited_once()
    assert "Manage Server" in interaction.followup.send.await_args.args[0]
    interaction.response.send_message.assert_not_awaited()


async def test_unexpected_errors_are_logged_and_apologised_for(
    tree: SitrepTree, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = _interaction()
    with caplog.at_level(logging.ERROR, logger="bot.tree"):
        await tree.on_error(interaction, app_commands.CommandInvokeError(MagicMock(), ZeroDivisionError("boom")))
    assert "Sorry, something went wrong" in interaction.response.send_message.await_args.args[0]
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def _http_error(kind: type[discord.HTTPException], status: int) -> discord.HTTPException:
    response = MagicMock(status=status, reason="refused")
    return kind(response, {"message": "Missing Access", "code": 50001})


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_http_error(discord.Forbidden, 403), TargetGone),
        (_http_error(discord.NotFound, 404), TargetGone),
        (_http_error(discord.DiscordServerError, 503), SendFailed),
    ],
)
async def test_channel_sender_maps_discord_errors(error: Exception, expected: type[Exception]) -> None:
    client = create_autospec(discord.Client, instance=True)
    channel = create_autospec(discord.TextChannel, instance=True)
    channel.send = AsyncMock(side_effect=error)
    client.get_channel.return_value = channel
    with pytest.raises(expected):
        await ChannelSender(client, 42).send({"embeds": [{"title": "x"}]}, nonce="n")
    assert channel.send.await_args.kwargs["nonce"] == "n"


async def test_channel_sender_returns_the_message_id() -> None:
    client = create_autospec(discord.Client, instance=True)
    channel = create_autospec(discord.TextChannel, instance=True)
    channel.send = AsyncMock(return_value=MagicMock(id=1234))
    client.get_channel.return_value = channel
    assert await ChannelSender(client, 42).send({"embeds": [{"title": "Briefing"}]}, nonce="abc") == "1234"
    sent = channel.send.await_args.kwargs
    assert [e.title for e in sent["embeds"]] == ["Briefing"]
    assert sent["allowed_mentions"].everyone is False


async def test_a_story_view_stops_paging_on_timeout_but_follow_keeps_working() -> None:
    from datetime import UTC, datetime

    from bot.exts.stories._cog import StoryView
    from bot.views import FollowButton
    from digests.store.records import CoverageRecord, StoryRecord

    when = datetime(2026, 2, 16, tzinfo=UTC)
    coverage = tuple(CoverageRecord(n, f"Title {n}", None, f"Outlet {n}", None, when, "Said.") for n in range(3))
    view = StoryView(StoryRecord(7, "A story", when, when, coverage), owner_id=1, page_size=1, timeout=30)
    await view.on_timeout()
    paging = [item for item in view.children if isinstance(item, discord.ui.Button)]
    assert [button.label for button in paging] == ["Previous", "Next"]
    assert all(button.disabled for button in paging)
    (follow,) = [item for item in view.children if isinstance(item, FollowButton)]
    assert not follow.item.disabled
