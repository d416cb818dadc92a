"""Several processes on one database: claims, locks and roles (PostgreSQL for real; SQLite refuses a second)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from alembic.script import ScriptDirectory
from rich.console import Console
from sqlalchemy import text

from digests.app import App, Resources, parse_roles, shard_of
from digests.errors import ConfigError
from digests.kinds import ALL_ROLES, Role, TargetKind
from digests.senders import WebhookSender
from digests.services.collection import collect_due_sources
from digests.services.deliveries import record_delivery, retry_due, send_delivery
from digests.services.sources import sync_sources
from digests.store import Database, single_runner
from digests.store.db import alembic_config
from digests.store.models import Subscription
from tests.conftest import make_settings
from tests.factories import add_article
from tests.httpserver import LocalServer

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
async def empty_postgres(postgres_url: str) -> str:
    """The test PostgreSQL database with nothing in it, not even the schema."""
    database = Database(postgres_url)
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await database.dispose()
    return postgres_url


@pytest.mark.postgres
async def test_processes_starting_together_on_an_empty_database_all_succeed(empty_postgres: str) -> None:
    databases = [Database(empty_postgres) for _ in range(4)]
    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(database.migrate() for database in databases))
        async with databases[0].engine.connect() as connection:
            version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        await asyncio.gather(*(database.dispose() for database in databases))


async def _subscription(database: Database, url: str) -> int:
    async with database.sessions.begin() as session:
        subscription = Subscription(
            name="hook", target_kind=TargetKind.WEBHOOK, target=url, schedule="0 8 * * *", timezone="UTC",
            topics=[], countries=[], max_items=10,
        )  # fmt: skip
        session.add(subscription)
        await session.flush()
        return subscription.id


@pytest.mark.postgres
async def test_a_digest_is_composed_and_sent_by_one_process(
    postgres_database: Database, http_server: LocalServer
) -> None:
    database = postgres_database
    received: list[Any] = []

    async def webhook(request: web.Request) -> web.StreamResponse:
        received.append(await request.json())
        return web.json_response({"id": str(len(received))})

    http_server.routes["/api/webhooks/1/t"] = webhook
    settings = make_settings(database.url, digest={"allow_any_webhook_host": True, "claim_seconds": 1})
    for number in range(3):
        await add_article(database, f"Story {number}", ready_at=NOW - timedelta(minutes=number + 1))
    subscription = await _subscription(database, http_server.url("/api/webhooks/1/t"))
    other = Database(database.url)  # a second process's engine
    try:
        # Both fire the same schedule at once: one records (and holds) the delivery, the other finds it taken.
        recorded = await asyncio.gather(
            record_delivery(subscription, NOW, database=database, settings=settings, claimant="one"),
            record_delivery(subscription, NOW, database=other, settings=settings, claimant="two"),
        )
        (delivery,) = [d for d in recorded if d is not None]
        holder = delivery.claimed_by
        stranger = "two" if holder == "one" else "one"
        async with aiohttp.ClientSession() as http:

            def sender(s: Subscription) -> WebhookSender:
                return WebhookSender(s.target, http)

            refused = await send_delivery(
                delivery.id, database=other, settings=settings, sender_for=sender, claimant=stranger
            )
            assert (refused.status, refused.error) == ("pending", "held by another process")
            assert received == []
            # The holder dies; once its hold runs out, the retry job of any process takes the delivery over.
            await asyncio.sleep(1.2)
            (taken,) = await retry_due(database=other, settings=settings, sender_for=sender)
            assert taken.status == "sent"
            again = await send_delivery(
                delivery.id, database=database, settings=settings, sender_for=sender, claimant=holder
            )
            assert again.status == "sent"
        assert len(received) == len(delivery.payload)
    finally:
        await other.dispose()


@pytest.mark.postgres
async def test_each_due_source_is_polled_by_one_process(
    postgres_database: Database, http_server: LocalServer, tmp_path: Path
) -> None:
    database = postgres_database
    feeds = "".join(f'[[source]]\nname = "Feed {n}"\nlocation = "{http_server.url(f"/rss{n}")}"\n' for n in range(6))
    (tmp_path / "sources.toml").write_text(feeds)
    settings = make_settings(database.url, collect={"sources_file": str(tmp_path / "sources.toml")})
    for n in range(6):

        async def slow_feed(request: web.Request, n: int = n) -> web.StreamResponse:
            await asyncio.sleep(0.2)
            text_ = "Text. " * 40
            item = f"<item><title>Item {n}</title><link>https://n.example/{n}</link><description>{text_}</description></item>"
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{item}</channel></rss>'
            return web.Response(text=body, content_type="application/rss+xml")

        http_server.routes[f"/rss{n}"] = slow_feed
    await sync_sources(database=database, settings=settings)
    others = [Database(database.url) for _ in range(2)]
    try:
        reports = await asyncio.gather(
            *(collect_due_sources(database=db, settings=settings) for db in [database, *others])
        )
    finally:
        await asyncio.gather(*(db.dispose() for db in others))
    assert sorted(s.source for report in reports for s in report.sources) == [f"Feed {n}" for n in range(6)]
    assert all(http_server.hits(f"/rss{n}") == 1 for n in range(6))
    assert sum(report.new for report in reports) == 6


def test_a_second_runner_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    refused = pytest.raises(ConfigError, match=r"another `sitrep run` \(pid \d+\) is already using")
    with single_runner(url), refused, single_runner(url):
        pass
    with single_runner(url):  # released when the first stops
        pass
    with single_runner("postgresql+asyncpg://u@h/db"), single_runner("postgresql+asyncpg://u@h/db"):
        pass  # PostgreSQL coordinates processes itself


def test_roles_are_parsed_with_a_clear_error() -> None:
    assert parse_roles("all") == ALL_ROLES
    assert parse_roles("collect, enrich") == {Role.COLLECT, Role.ENRICH}
    with pytest.raises(ConfigError, match="unknown role 'deliverer'"):
        parse_roles("collect,deliverer")


async def test_each_role_runs_only_its_jobs(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'roles.db'}",
        collect={"sources_file": str(tmp_path / "none.toml")},
        digest={"subscriptions": [{"name": "default", "target": "terminal", "schedule": "0 8 * * *"}]},
    )
    jobs: dict[str, set[str]] = {}
    for roles in ("collect", "enrich", "deliver", "collect,enrich,deliver"):
        app = await App.open(settings, console=Console(file=io.StringIO()), roles=parse_roles(roles))
        try:
            await app.start()
            jobs[roles] = {job.id for job in app.scheduler.get_jobs()}
        finally:
            await app.close()
    assert jobs["collect"] == {"heartbeat", "collect"}
    assert jobs["enrich"] == {"heartbeat", "enrich"}
    assert jobs["deliver"] == {"heartbeat", "reconcile", "retry-deliveries", "digest:1"}
    assert jobs["collect,enrich,deliver"] == {"heartbeat", "collect", "reconcile", "retry-deliveries", "digest:1"}


async def test_followers_are_told_by_a_delivering_process_with_a_messenger(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'follow.db'}", collect={"sources_file": str(tmp_path / "none.toml")}
    )

    class Messenger:
        async def tell(self, update: object) -> bool:
            return True

    for roles, expected in (("deliver", True), ("collect", False)):
        app = await App.open(settings, console=Console(file=io.StringIO()), roles=parse_roles(roles))
        try:
            await app.start()
            app.tell_followers_through(Messenger())
            assert (app.scheduler.get_job("tell-followers") is not None) is expected
            assert await app.tell_followers() == 0  # nothing followed yet
            app.tell_followers_through(None)
            assert app.scheduler.get_job("tell-followers") is None
        finally:
            await app.close()


async def test_channel_digests_go_to_the_bot_process_of_their_shard(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'shards.db'}", discord={"shard_count": 2, "shard_ids": [1]}
    )
    resources = await Resources.open(settings)
    try:
        bot = App(resources, console=Console(file=io.StringIO()), roles=parse_roles("bot"))
        deliverer = App(resources, console=Console(file=io.StringIO()), roles=parse_roles("deliver"))
        bot.senders.register(TargetKind.CHANNEL, lambda target: WebhookSender(target, resources.http))
        mine = next(g for g in range(1 << 22, 10 << 22, 1 << 22) if shard_of(g, 2) == 1)
        theirs = next(g for g in range(1 << 22, 10 << 22, 1 << 22) if shard_of(g, 2) == 0)

        def channel(guild: int) -> Subscription:
            return Subscription(guild_id=guild, target_kind=TargetKind.CHANNEL, target="5")

        hook = Subscription(guild_id=0, target_kind=TargetKind.WEBHOOK, target="https://discord.com/api/webhooks/1/x")
        assert bot.delivers(channel(mine))
        assert not bot.delivers(channel(theirs))  # the process of shard 0 posts there
        assert not bot.delivers(hook)  # a deliver process does
        assert deliverer.delivers(hook)
        assert not deliverer.delivers(channel(mine))
        assert bot.describe_roles() == "bot (shard 1 of 2)"
    finally:
        await resources.close()
