"""The real discord.py client against the fake Discord: start-up, every command, buttons, 429s, reconnects."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest
import yarl
from discord import app_commands
from rich.console import Console
from sqlalchemy import delete, update

from bot.client import SitrepBot, run_bot
from digests.errors import ConfigError, SitrepError
from digests.store.models import Article
from tests.conftest import SAMPLES, make_settings
from tests.factories import add_article, add_source
from tests.fakediscord import DM, MEMBER_ID, MEMBER_PERMISSIONS, FakeDiscord

GUILD, CHANNEL = 500000000000000001, 500000000000000101
OTHER_GUILD, OTHER_CHANNEL = 500000000000000002, 500000000000000201

pytestmark = pytest.mark.slow


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def wire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscord, SitrepBot]]:
    fake = FakeDiscord()
    fake.add_guild(GUILD, [CHANNEL])
    fake.add_guild(OTHER_GUILD, [OTHER_CHANNEL], name="Other team")
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.rest_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "Samples"\nlocation = "{SAMPLES / "articles"}"\n')
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        collect={"sources_file": str(sources)},
        digest={"subscriptions": [], "retry_base_seconds": 0.01},
        discord={"view_timeout_seconds": 30},
    )
    failures = _Failures()
    logging.getLogger("discord").addHandler(failures)
    bot = SitrepBot(settings, console=Console(file=io.StringIO()), guild_ready_timeout=0.1)
    task = asyncio.create_task(bot.start("fake-token"))
    try:
        async with asyncio.timeout(60):
            while not bot.is_ready():
                if task.done():
                    task.result()  # surface the bot's exception
                await asyncio.sleep(0.05)
            assert bot._begin is not None
            await bot._begin  # the first collection, summary and tagging of the samples
        yield fake, bot
    finally:
        await bot.close()
        await asyncio.wait([task], timeout=10)
        await fake.stop()
        logging.getLogger("discord").removeHandler(failures)
    if task.done() and not task.cancelled() and task.exception():
        raise task.exception()  # type: ignore[misc]
    assert [r.getMessage() for r in failures.records] == []


async def test_start_up_syncs_every_command(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    assert fake.identifies == 1
    names = sorted(c["name"] for c in fake.commands["global"])
    assert names == [
        "article",
        "country",
        "digest",
        "follow",
        "following",
        "search",
        "sources",
        "status",
        "story",
        "subscribe",
        "subscriptions",
        "topic",
        "unfollow",
        "unsubscribe",
    ]
    admin = {c["name"]: c for c in fake.commands["global"]}
    assert admin["subscribe"]["default_member_permissions"] == "32"  # Manage Server
    assert admin["sources"]["default_member_permissions"] == "32"
    assert admin["digest"]["default_member_permissions"] is None
    assert bot.intents.value == discord.Intents(guilds=True).value


def test_no_two_commands_share_a_name_and_every_option_is_described() -> None:
    from bot.exts.admin._cog import Admin
    from bot.exts.digests._cog import Digests
    from bot.exts.queries._cog import Queries
    from bot.exts.stories._cog import Stories

    names: list[str] = []
    for cog in (Admin, Digests, Queries, Stories):
        for command in cog.__cog_app_commands__:
            names.append(command.name)
            leaves = command.commands if isinstance(command, app_commands.Group) else [command]
            for leaf in leaves:
                assert leaf.description not in ("", "…"), leaf.qualified_name
                for parameter in leaf.parameters:
                    assert parameter.description not in ("", "…"), f"{leaf.qualified_name} {parameter.name}"
    assert len(names) == len(set(names))


async def test_digest_command_defers_then_follows_up(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    interaction = await fake.interact(GUILD, CHANNEL, "digest", [{"type": 3, "name": "since", "value": "7d"}])
    callback = await interaction.answered()
    assert callback["type"] == 5  # deferred: the answer comes as a follow-up
    (message,) = await interaction.followup(1)
    titles = [e["title"] for e in message["embeds"]]
    assert titles[0].startswith("Sitrep briefing")
    assert "Japan and Britain Deepen Cyber and Critical Minerals Ties" in titles
    assert fake.bad_requests == []


async def test_country_command_and_paging_buttons(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    bot.settings.discord.page_size = 1
    interaction = await fake.interact(GUILD, CHANNEL, "country", [{"type": 3, "name": "name", "value": "American"}])
    (message,) = await interaction.followup(1)
    assert message["embeds"][0]["title"] == "Latest about United States"
    assert message["embeds"][0]["footer"]["text"].startswith("Page 1 of 3")
    custom_ids = [c["custom_id"] for row in message["components"] for c in row["components"]]
    assert "sitrep:next" in custom_ids
    read = next(c for c in custom_ids if c.startswith("sitrep:read:"))
    turned = await fake.press(GUILD, CHANNEL, message, "sitrep:next")
    page = await turned.answered()
    assert page["type"] == 7  # the message is updated in place
    assert page["data"]["embeds"][0]["footer"]["text"].startswith("Page 2 of")
    # Someone else cannot page through the invoker's results.
    stranger = await fake.press(GUILD, CHANNEL, message, "sitrep:next", user_id=MEMBER_ID)
    refused = await stranger.answered()
    assert refused["data"]["flags"] & 64
    assert "someone else" in refused["data"]["content"]
    assert read not in [c["custom_id"] for row in page["data"]["components"] for c in row["components"]]
    read = next(
        c["custom_id"]
        for row in page["data"]["components"]
        for c in row["components"]
        if c["custom_id"].startswith("sitrep:read:")
    )
    opened = await fake.press(GUILD, CHANNEL, message, read)
    answer = await opened.answered()
    assert answer["type"] == 4
    assert answer["data"]["embeds"][0]["fields"][0]["name"] == "What's Happening?"

    # A button whose article is gone answers like a command would, instead of "interaction failed".
    article_id = int(read.rsplit(":", 1)[1])
    async with bot.app.database.sessions.begin() as session:
        await session.execute(delete(Article).where(Article.id == article_id))
    gone = await (await fake.press(GUILD, CHANNEL, message, read)).answered()
    assert gone["data"]["flags"] & 64
    assert gone["data"]["content"] == f"There is no article {article_id} here."


async def test_unknown_country_gets_suggestions_ephemerally(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    interaction = await fake.interact(GUILD, CHANNEL, "country", [{"type": 3, "name": "name", "value": "Brtain"}])
    answer = await interaction.answered()
    assert answer["data"]["flags"] & 64
    assert "Did you mean United Kingdom (GB)" in answer["data"]["content"]


async def test_topic_search_and_article(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    topic = await fake.interact(GUILD, CHANNEL, "topic", [{"type": 3, "name": "name", "value": "energy"}])
    (message,) = await topic.followup(1)
    assert "Kenya Expands Geothermal Power" in message["embeds"][0]["description"]
    search = await fake.interact(
        GUILD, CHANNEL, "search", [{"type": 3, "name": "query", "value": "lithium mining investment"}]
    )
    (found,) = await search.followup(1)
    first = found["embeds"][0]["description"].split("\n")[0]
    assert "Chile Opens Lithium Flats" in first
    article_id = int(first.split(".**")[0].strip("*"))
    article = await fake.interact(GUILD, CHANNEL, "article", [{"type": 4, "name": "article_id", "value": article_id}])
    answer = await article.answered()
    assert answer["data"]["embeds"][0]["title"] == "Chile Opens Lithium Flats to New Investors"


async def test_queries_filter_by_language(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    english = await fake.interact(
        GUILD,
        CHANNEL,
        "topic",
        [{"type": 3, "name": "name", "value": "energy"}, {"type": 3, "name": "language", "value": "English"}],
    )
    (message,) = await english.followup(1)
    assert "Kenya Expands Geothermal Power" in message["embeds"][0]["description"]
    german = await fake.interact(
        GUILD,
        CHANNEL,
        "topic",
        [{"type": 3, "name": "name", "value": "energy"}, {"type": 3, "name": "language", "value": "de"}],
    )
    (message,) = await german.followup(1)
    assert message["embeds"][0]["description"] == "Nothing matched."
    unknown = await fake.interact(
        GUILD,
        CHANNEL,
        "country",
        [{"type": 3, "name": "name", "value": "Japan"}, {"type": 3, "name": "language", "value": "Elvish"}],
    )
    answer = await unknown.answered()
    assert answer["data"]["flags"] & 64
    assert "Unknown language" in answer["data"]["content"]


async def test_admin_commands_are_refused_to_members(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    interaction = await fake.interact(
        GUILD, CHANNEL, "subscriptions", user_id=MEMBER_ID, permissions=MEMBER_PERMISSIONS
    )
    answer = await interaction.answered()
    assert answer["data"]["flags"] & 64
    assert "Manage Server" in answer["data"]["content"]


async def test_servers_are_isolated(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    channel = {
        "channels": {
            str(CHANNEL): {
                "id": str(CHANNEL),
                "name": "briefings-0",
                "type": 0,
                "permissions": "8",
                "guild_id": str(GUILD),
            }
        }
    }
    subscribe = await fake.interact(
        GUILD,
        CHANNEL,
        "subscribe",
        [
            {"type": 7, "name": "channel", "value": str(CHANNEL)},
            {"type": 3, "name": "schedule", "value": "08:00"},
            {"type": 3, "name": "timezone", "value": "Asia/Tokyo"},
            {"type": 3, "name": "countries", "value": "Japan, UK"},
        ],
        resolved=channel,
    )
    created = await subscribe.answered()
    assert "Subscription 1" in created["data"]["content"]
    add = await fake.interact(
        GUILD,
        CHANNEL,
        "sources",
        [{"type": 1, "name": "add", "options": [{"type": 3, "name": "url", "value": "https://news.example/rss"}]}],
    )
    added = (await add.answered())["data"]["content"]
    assert added.startswith("Source ")
    source_id = int(added.split()[1])
    # The other server sees neither, and cannot remove them.
    listing = await fake.interact(OTHER_GUILD, OTHER_CHANNEL, "subscriptions")
    assert "No subscriptions yet" in (await listing.answered())["data"]["embeds"][0]["description"]
    sources = await fake.interact(OTHER_GUILD, OTHER_CHANNEL, "sources", [{"type": 1, "name": "list", "options": []}])
    assert "No sources" in (await sources.answered())["data"]["embeds"][0]["description"]
    remove = await fake.interact(
        OTHER_GUILD, OTHER_CHANNEL, "unsubscribe", [{"type": 4, "name": "subscription_id", "value": 1}]
    )
    assert "has no subscription 1" in (await remove.answered())["data"]["content"]
    theirs = await fake.interact(
        OTHER_GUILD,
        OTHER_CHANNEL,
        "sources",
        [{"type": 1, "name": "remove", "options": [{"type": 4, "name": "source_id", "value": source_id}]}],
    )
    assert f"has no source {source_id}" in (await theirs.answered())["data"]["content"]
    enable = await fake.interact(
        GUILD,
        CHANNEL,
        "sources",
        [{"type": 1, "name": "enable", "options": [{"type": 4, "name": "source_id", "value": source_id}]}],
    )
    assert "enabled again" in (await enable.answered())["data"]["content"]
    removed = await fake.interact(
        GUILD,
        CHANNEL,
        "sources",
        [{"type": 1, "name": "remove", "options": [{"type": 4, "name": "source_id", "value": source_id}]}],
    )
    assert "removed" in (await removed.answered())["data"]["content"]
    mine = await fake.interact(GUILD, CHANNEL, "subscriptions")
    assert "Asia/Tokyo" in (await mine.answered())["data"]["embeds"][0]["description"]
    bad = await fake.interact(
        GUILD,
        CHANNEL,
        "subscribe",
        [
            {"type": 7, "name": "channel", "value": str(CHANNEL)},
            {"type": 3, "name": "schedule", "value": "daily"},
            {"type": 3, "name": "timezone", "value": "UTC"},
        ],
        resolved=channel,
    )
    answer = await bad.answered()
    assert answer["data"]["flags"] & 64
    assert "0 8 * * 1-5" in answer["data"]["content"]
    status = await fake.interact(GUILD, CHANNEL, "status")
    described = (await status.answered())["data"]["embeds"][0]["description"]
    assert "extractive" in described
    assert f"Processes: 1 running\n• {socket.gethostname()[:60]} pid {os.getpid()}: all, heartbeat <t:" in described


async def test_scheduled_digest_posted_through_the_bot_with_a_429(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    subscription = await bot.app.subscriptions.add(
        guild_id=GUILD, channel_id=CHANNEL, schedule="0 8 * * *", timezone="UTC"
    )
    fake.rate_limit_next[str(CHANNEL)] = 1
    fired = datetime.now(UTC)  # as the cron job computes it: the run's scheduled time
    await bot.app.deliver(subscription.id, fired)
    posted = fake.messages[str(CHANNEL)]
    assert posted
    assert posted[0]["embeds"][0]["title"].startswith("Sitrep briefing")
    attempts = [r for r in fake.requests if r == ("POST", f"/channels/{CHANNEL}/messages")]
    assert len(attempts) == len(posted) + 1  # the 429 was waited out and retried
    count = len(posted)
    await bot.app.deliver(subscription.id, fired)  # the same window again: nothing twice
    assert len(fake.messages[str(CHANNEL)]) == count


async def test_gateway_reconnect_resumes(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    await fake.reconnect()
    async with asyncio.timeout(15):
        await fake.resumed.wait()
    assert fake.resumes == 1
    interaction = await fake.interact(GUILD, CHANNEL, "status")
    assert (await interaction.answered())["type"] == 4


async def test_a_servers_private_source_reaches_no_one_else(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    private = await add_source(bot.app.database, "Other team's wire", guild_id=OTHER_GUILD)
    await add_article(bot.app.database, "Private memo of the other team", ready_at=datetime.now(UTC), source_id=private)

    async def digest_titles(guild_id: int, channel_id: int) -> list[str]:
        interaction = await fake.interact(guild_id, channel_id, "digest", [{"type": 3, "name": "since", "value": "7d"}])
        await interaction.answered()
        messages = await interaction.followup(1)
        return [embed.get("title", "") for message in messages for embed in message["embeds"]]

    in_dm = await digest_titles(DM, 600000000000000001)
    assert "Japan and Britain Deepen Cyber and Critical Minerals Ties" in in_dm
    assert "Private memo of the other team" not in in_dm
    assert "Private memo of the other team" not in await digest_titles(GUILD, CHANNEL)
    assert "Private memo of the other team" in await digest_titles(OTHER_GUILD, OTHER_CHANNEL)
    assert fake.bad_requests == []


async def test_operator_notices_go_to_the_admin_channel(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    bot.settings.discord.admin_channel_id = CHANNEL
    bot.app.notifiers.append(bot.post_notice)
    await bot.app.notify("Source 'Wire' is disabled: @everyone look")
    (notice,) = fake.messages[str(CHANNEL)]
    assert notice["content"].startswith("Source 'Wire' is disabled")
    assert "@everyone" not in notice["content"]  # neutralised, and mentions are off anyway


@pytest.mark.parametrize(("status", "message"), [(401, "Discord refused the token"), (503, "HTTP 503 at login")])
async def test_login_failures_are_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, message: str
) -> None:
    fake = FakeDiscord()
    fake.login_status = status
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.rest_base)
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", discord_token="wrong")
    try:
        with pytest.raises(SitrepError, match=message) as raised:
            await run_bot(settings, console=Console(file=io.StringIO()))
    finally:
        await fake.stop()
    assert "\n" not in str(raised.value)


async def test_replies_stay_within_discords_limits(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, _ = wire
    options = {c["name"]: c for c in fake.commands["global"]}
    name, language = options["country"]["options"]
    assert name["max_length"] == language["max_length"] == 100
    assert not language.get("required")
    assert {o["name"]: o.get("max_length") for o in options["digest"]["options"]}["since"] == 40
    # Discord enforces max_length itself; should a long value get through, the reply is still cut to fit.
    for command, option in (("country", "name"), ("topic", "name"), ("digest", "since")):
        interaction = await fake.interact(GUILD, CHANNEL, command, [{"type": 3, "name": option, "value": "Q" * 6000}])
        answer = await interaction.answered()
        assert answer["data"]["flags"] & 64
        assert 0 < len(answer["data"]["content"]) <= 2000
    assert fake.bad_requests == []


def test_a_bot_split_into_shards_runs_one_shard_per_process(tmp_path: Path) -> None:
    settings = make_settings(discord={"shard_count": 4, "shard_ids": [2]})
    bot = SitrepBot(settings, console=Console(file=io.StringIO()))
    assert (bot.shard_id, bot.shard_count) == (2, 4)
    with pytest.raises(ConfigError, match="run one process per shard"):
        SitrepBot(make_settings(discord={"shard_count": 4, "shard_ids": [1, 2]}), console=Console(file=io.StringIO()))


async def _peru_story(bot: SitrepBot, *outlets: str) -> int:
    """Store one article per outlet on one event, place them in stories, and return the story's id."""
    from digests.services import stories

    database = bot.app.database
    for number, outlet in enumerate(outlets):
        source_id = await add_source(database, outlet)
        title = "Peru's Congress ousts interim president Jeri" + (f", {outlet} reports" if number else "")
        text = "Peru's Congress voted to remove interim president José Jerí on Tuesday after a vote of 75 to 24."
        article = await add_article(
            database,
            title,
            ready_at=datetime.now(UTC),
            source_id=source_id,
            url=f"https://{outlet.lower()}.example/peru",
            sections=[(None, text)],
        )
        async with database.sessions.begin() as session:
            await session.execute(update(Article).where(Article.id == article).values(needs_story=True, text=text))
    await stories.place_pending(database, bot.app.models.encoder, bot.settings.stories)
    found = await stories.find(database, "Peru", guild_id=GUILD)
    assert len(found) == 1, [(s.id, s.title, [c.source for c in s.coverage]) for s in found]
    return found[0].id


async def test_story_autocomplete_paging_follow_and_direct_messages(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    bot.settings.discord.page_size = 1
    story_id = await _peru_story(bot, "Reuters", "BBC")
    typed = [{"type": 3, "name": "story", "value": "congress", "focused": True}]
    suggested = await (await fake.interact(GUILD, CHANNEL, "story", typed, kind=4)).answered()
    assert suggested["type"] == 8
    assert [c["value"] for c in suggested["data"]["choices"]] == [str(story_id)]
    shown = await fake.interact(GUILD, CHANNEL, "story", [{"type": 3, "name": "story", "value": str(story_id)}])
    body = (await shown.answered())["data"]
    embed = body["embeds"][0]
    assert embed["fields"][0]["name"] == "Reported by 2 outlet(s)"
    assert embed["footer"]["text"].startswith(f"Story {story_id} · page 1 of 2")
    buttons = [c["custom_id"] for row in body["components"] for c in row["components"]]
    assert f"sitrep:follow:{story_id}" in buttons
    # Anyone may press Follow, once.
    message = fake._message(str(CHANNEL), body)
    pressed = await fake.press(GUILD, CHANNEL, message, f"sitrep:follow:{story_id}", user_id=MEMBER_ID)
    assert "You follow story" in (await pressed.answered())["data"]["content"]
    again = await fake.press(GUILD, CHANNEL, message, f"sitrep:follow:{story_id}", user_id=MEMBER_ID)
    assert "already follow" in (await again.answered())["data"]["content"]
    cog = bot.get_cog("Stories")
    assert await cog.send_follow_updates() == 0  # nothing new yet
    await _peru_story(bot, "AP")
    assert await cog.send_follow_updates() == 1
    (dm,) = fake.dm_channels.values()
    (told,) = fake.messages[dm["id"]]
    assert told["embeds"][0]["title"].startswith("Update: Peru's Congress")
    assert "AP" in told["embeds"][0]["description"]
    await _peru_story(bot, "AFP")
    assert await cog.send_follow_updates() == 0  # at most one message per story per period
    listed = await fake.interact(GUILD, CHANNEL, "following", user_id=MEMBER_ID)
    assert f"**{story_id}.**" in (await listed.answered())["data"]["content"]
    gone = [{"type": 3, "name": "story", "value": str(story_id)}]
    stopped = await fake.interact(GUILD, CHANNEL, "unfollow", gone, user_id=MEMBER_ID)
    assert "no longer follow" in (await stopped.answered())["data"]["content"]
    unknown = await fake.interact(GUILD, CHANNEL, "story", [{"type": 3, "name": "story", "value": "99999"}])
    assert "There is no story 99999 here." in (await unknown.answered())["data"]["content"]
    nothing = [{"type": 3, "name": "story", "value": "volcano"}]
    missing = await fake.interact(GUILD, CHANNEL, "follow", nothing, user_id=MEMBER_ID)
    assert "No story has 'volcano' in its title" in (await missing.answered())["data"]["content"]
    assert fake.bad_requests == []


async def test_updates_go_to_one_thread_per_story_exactly_once(wire: tuple[FakeDiscord, SitrepBot]) -> None:
    fake, bot = wire
    subscription = await bot.app.subscriptions.add(
        guild_id=GUILD,
        channel_id=CHANNEL,
        schedule="0 8 * * *",
        timezone="UTC",
        threads=True,
    )
    await _peru_story(bot, "Reuters")
    first = datetime.now(UTC)
    await bot.app.deliver(subscription.id, first)
    digest = fake.messages[str(CHANNEL)]
    follow = [c["custom_id"] for m in digest for row in m["components"] for c in row["components"]]
    assert any(f.startswith("sitrep:follow:") for f in follow)  # a Follow button per story item
    assert fake.threads == {}
    last = first
    for outlet in ("BBC", "AP"):
        await _peru_story(bot, outlet)
        last = datetime.now(UTC)
        await bot.app.deliver(subscription.id, last)
    (thread,) = fake.threads.values()  # one thread for the story, opened once
    assert thread["name"].startswith("Peru's Congress ousts interim president Jeri")
    updates = fake.messages[thread["id"]]
    assert [m["embeds"][0]["author"]["name"].startswith("Update") for m in updates] == [True, True]
    await bot.app.deliver(subscription.id, last)  # the same window again: nothing twice
    assert len(fake.messages[thread["id"]]) == 2
    assert fake.bad_requests == []


async def test_follow_buttons_name_their_stories_and_a_thread_refused_is_not_a_channel_gone(
    wire: tuple[FakeDiscord, SitrepBot],
) -> None:
    fake, bot = wire
    fake.can_create_threads = False  # the bot lacks Create Public Threads
    subscription = await bot.app.subscriptions.add(
        guild_id=GUILD, channel_id=CHANNEL, schedule="0 8 * * *", timezone="UTC", threads=True
    )
    story_id = await _peru_story(bot, "Reuters")
    await add_article(
        bot.app.database,
        "Kenya opens a geothermal plant in the Rift Valley",
        ready_at=datetime.now(UTC),
        url="https://kenya.example/geothermal",
        sections=[(None, "Kenya opened a geothermal plant on Tuesday, adding 80 megawatts to its grid.")],
    )
    first = datetime.now(UTC)
    await bot.app.deliver(subscription.id, first)
    buttons = [c for m in fake.messages[str(CHANNEL)] for row in m["components"] for c in row["components"]]
    labels = {c["custom_id"]: c["label"] for c in buttons}
    assert labels[f"sitrep:follow:{story_id}"].startswith("Follow: Peru's Congress ousts")
    assert len(set(labels.values())) == len(labels)  # one distinct label per story
    assert all(len(label) <= 80 for label in labels.values())
    posted = len(fake.messages[str(CHANNEL)])
    await _peru_story(bot, "BBC")
    await bot.app.deliver(subscription.id, datetime.now(UTC))
    assert fake.threads == {}
    update = fake.messages[str(CHANNEL)][posted:]
    assert any(e.get("author", {}).get("name", "").startswith("Update") for m in update for e in m["embeds"])
    (kept,) = await bot.app.subscriptions.list(guild_id=GUILD)
    assert kept.enabled  # the channel is there; only threads were refused
    assert fake.bad_requests == []


async def test_an_update_that_goes_to_its_thread_leaves_no_header_alone_in_the_channel(
    wire: tuple[FakeDiscord, SitrepBot],
) -> None:
    fake, bot = wire
    subscription = await bot.app.subscriptions.add(
        guild_id=GUILD, channel_id=CHANNEL, schedule="0 8 * * *", timezone="UTC", threads=True
    )
    await _peru_story(bot, "Reuters")
    await bot.app.deliver(subscription.id, datetime.now(UTC))
    in_channel = len(fake.messages[str(CHANNEL)])
    await _peru_story(bot, "BBC")
    await bot.app.deliver(subscription.id, datetime.now(UTC))
    (thread,) = fake.threads.values()
    assert len(fake.messages[thread["id"]]) == 1
    assert len(fake.messages[str(CHANNEL)]) == in_channel  # before: a header-only "1 of 1" message
