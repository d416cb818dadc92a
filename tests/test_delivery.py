"""Delivering exactly once: webhooks on a local server, crashes at every point, missed runs, the main job."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rich.console import Console
from sqlalchemy import select

from digests.app import App
from digests.errors import SitrepError
from digests.senders import SendFailed, TargetGone, WebhookSender, check_webhook_url
from digests.services.deliveries import (
    deliver,
    due_catch_up,
    record_delivery,
    resume_pending,
    retry_due,
    send_delivery,
)
from digests.services.digests import parse_target, sync_settings_subscriptions
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Delivery, Subscription
from tests.conftest import SAMPLES, make_settings
from tests.factories import add_article, add_source
from tests.httpserver import LocalServer

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@dataclass
class FakeDiscord:
    """Webhook and channel endpoints that keep what they receive; channels honour enforce_nonce like Discord."""

    server: LocalServer
    messages: list[dict[str, Any]] = field(default_factory=list)
    nonces: dict[str, str] = field(default_factory=dict)
    script: list[int] = field(default_factory=list)  # statuses to answer before succeeding

    def install(self) -> None:
        async def webhook(request: web.Request) -> web.StreamResponse:
            assert request.query.get("wait") == "true"
            if self.script:
                status = self.script.pop(0)
                if status == 429:
                    body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
                    return web.json_response(body, status=429, headers={"Retry-After": "1"})
                return web.json_response({"message": "error", "code": 0}, status=status)
            payload = await request.json()
            self.messages.append(payload)
            return web.json_response({"id": str(len(self.messages)), **payload})

        async def channel(request: web.Request) -> web.StreamResponse:
            payload = await request.json()
            nonce = payload.get("nonce")
            if payload.get("enforce_nonce") and nonce in self.nonces:
                return web.json_response({"id": self.nonces[nonce]})
            self.messages.append(payload)
            self.nonces[nonce] = str(len(self.messages))
            return web.json_response({"id": self.nonces[nonce]})

        self.server.routes["/api/webhooks/1/token"] = webhook
        self.server.routes["/api/channels/5/messages"] = channel


class ChannelPoster:
    """A channel sender as the bot provides one: idempotent through Discord's enforce_nonce."""

    idempotent = True

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        body = {**payload, "nonce": nonce, "enforce_nonce": True}
        async with self.session.post(self.url, json=body) as response:
            return (await response.json())["id"]


class Crash(BaseException):
    """Stands for the process dying: no handler in the service catches it."""


class CrashAfterSend:
    """Sends for real, then dies before the service can mark the message sent."""

    def __init__(self, inner: Any, *, at: int) -> None:
        self.inner, self.at, self.calls = inner, at, 0
        self.idempotent = inner.idempotent

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        message_id = await self.inner.send(payload, nonce=nonce)
        self.calls += 1
        if self.calls == self.at:
            raise Crash
        return message_id


@pytest.fixture
async def discord(http_server: LocalServer) -> FakeDiscord:
    fake = FakeDiscord(http_server)
    fake.install()
    return fake


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


def _settings(database: Database, **digest: Any) -> Settings:
    values = {"allow_any_webhook_host": True, "retry_base_seconds": 0.01, "subscriptions": [], **digest}
    return make_settings(database.url, digest=values)


async def _subscription(database: Database, kind: str, target: str, **kw: Any) -> int:
    async with database.sessions.begin() as session:
        subscription = Subscription(
            name=f"s{kind}",
            target_kind=kind,
            target=target,
            schedule=kw.pop("schedule", "0 8 * * *"),
            timezone="UTC",
            topics=[],
            countries=[],
            max_items=kw.pop("max_items", 10),
            **kw,
        )
        session.add(subscription)
        await session.flush()
        return subscription.id


async def _stories(database: Database, count: int) -> None:
    long = [(f"Part {n}", "word " * 180) for n in range(5)]
    for number in range(count):
        await add_article(
            database,
            f"Story {number}",
            ready_at=NOW - timedelta(minutes=number + 1),
            sections=long,
            topics=[("energy", 0.5)],
        )


async def test_webhook_delivery_with_429_and_500(database: Database, discord: FakeDiscord, http: Any) -> None:
    settings = _settings(database)
    await _stories(database, 3)
    url = discord.server.url("/api/webhooks/1/token")
    sub = await _subscription(database, "webhook", url)
    discord.script = [429, 500]
    outcome = await deliver(
        sub, NOW, database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert outcome is not None
    assert outcome.status == "sent"
    assert len(discord.messages) == outcome.messages >= 2  # three long articles do not fit one message
    assert discord.messages[0]["embeds"][0]["title"].startswith("Sitrep briefing")
    assert all(m["allowed_mentions"] == {"parse": []} for m in discord.messages)
    # The same window again: nothing is posted twice.
    again = await deliver(
        sub, NOW, database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert again is None
    assert len(discord.messages) == outcome.messages
    async with database.sessions() as session:
        (stored,) = (await session.scalars(select(Delivery))).all()
    assert (stored.status, stored.sent_count, len(stored.message_ids)) == ("sent", outcome.messages, outcome.messages)


async def test_webhook_404_disables_the_subscription(database: Database, discord: FakeDiscord, http: Any) -> None:
    settings = _settings(database)
    await _stories(database, 1)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))
    discord.script = [404]
    outcome = await deliver(
        sub, NOW, database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert outcome is not None
    assert outcome.status == "failed"
    async with database.sessions() as session:
        subscription = await session.get(Subscription, sub)
    assert subscription is not None
    assert not subscription.enabled
    assert "404" in (subscription.disabled_reason or "")
    assert discord.messages == []


async def test_webhook_500_every_time_leaves_the_delivery_pending(
    database: Database, discord: FakeDiscord, http: Any
) -> None:
    settings = _settings(database, send_attempts=3)
    await _stories(database, 1)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))
    discord.script = [500] * 3
    outcome = await deliver(
        sub, NOW, database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert outcome is not None
    assert outcome.status == "pending"
    assert "HTTP 500" in (outcome.error or "")
    # The next run finishes it, once.
    (resumed,) = await resume_pending(
        database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert resumed.status == "sent"
    assert len(discord.messages) == 1


async def test_crash_between_record_and_send(database: Database, discord: FakeDiscord, http: Any) -> None:
    settings = _settings(database)
    await _stories(database, 3)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))
    recorded = await record_delivery(sub, NOW, database=database, settings=settings)
    assert recorded is not None
    assert discord.messages == []  # the process "dies" here: recorded, nothing sent
    outcomes = await resume_pending(
        database=database, settings=settings, sender_for=lambda s: WebhookSender(s.target, http)
    )
    assert [o.status for o in outcomes] == ["sent"]
    assert len(discord.messages) == len(recorded.payload)


@pytest.mark.parametrize("kind", ["channel", "webhook"])
async def test_crash_after_send_before_marking(database: Database, discord: FakeDiscord, http: Any, kind: str) -> None:
    settings = _settings(database)
    await _stories(database, 3)
    url = discord.server.url("/api/channels/5/messages" if kind == "channel" else "/api/webhooks/1/token")
    sub = await _subscription(database, kind, url)

    def sender(_: Subscription | None = None) -> Any:
        return ChannelPoster(url, http) if kind == "channel" else WebhookSender(url, http)

    recorded = await record_delivery(sub, NOW, database=database, settings=settings)
    assert recorded is not None
    total = len(recorded.payload)
    assert total >= 2
    crashing = CrashAfterSend(sender(), at=2)
    with pytest.raises(Crash):
        await send_delivery(recorded.id, database=database, settings=settings, sender_for=lambda s: crashing)
    assert len(discord.messages) == 2  # the second message went out; the crash came before it was marked
    (resumed,) = await resume_pending(database=database, settings=settings, sender_for=sender)
    # Only a webhook, which takes no nonce, has to leave the message whose answer was lost unconfirmed.
    assert resumed.unconfirmed == (1 if kind == "webhook" else 0)
    titles = [m["embeds"][0]["title"] for m in discord.messages]
    assert len(titles) == total  # every message exactly once: none lost, none twice
    assert len(set(map(json.dumps, discord.messages))) == total
    async with database.sessions() as session:
        stored = await session.get(Delivery, recorded.id)
    assert stored is not None
    assert (stored.status, stored.sent_count) == ("sent", total)


async def test_missed_runs_are_delivered_once_within_grace(database: Database) -> None:
    settings = _settings(database, grace_minutes=360)
    sub = await _subscription(database, "webhook", "https://discord.com/api/webhooks/1/x", schedule="0 * * * *")
    async with database.sessions.begin() as session:
        session.add(
            Delivery(
                subscription_id=sub,
                key="k",
                window_start=NOW - timedelta(hours=6),
                window_end=NOW - timedelta(hours=5),
                status="sent",
            )
        )
    # Down for five hours: five runs missed, one digest due, for the latest of them.
    now = NOW + timedelta(minutes=20)
    assert await due_catch_up(database=database, settings=settings, now=now) == [(sub, NOW)]
    # Beyond the grace period nothing is sent late.
    late = _settings(database, grace_minutes=10)
    assert await due_catch_up(database=database, settings=late, now=now) == []


def test_webhook_urls_are_checked() -> None:
    assert check_webhook_url("https://discord.com/api/webhooks/1/abc").endswith("abc")
    with pytest.raises(SitrepError, match="must be Discord's"):
        check_webhook_url("https://evil.example/api/webhooks/1/abc")
    with pytest.raises(SitrepError, match="not a webhook URL"):
        check_webhook_url("https://discord.com/channels/1")
    for mistyped in (
        "https://discord.com/api/webhoks/123/s3cr3t-t0ken",
        "htps://discord.com/api/webhooks/1/s3cr3t-t0ken",
    ):
        with pytest.raises(SitrepError) as refused:
            check_webhook_url(mistyped)
        assert "s3cr3t-t0ken" not in str(refused.value)
    with pytest.raises(SitrepError, match="must be Discord's") as elsewhere:
        check_webhook_url("https://evil.example/api/webhooks/1/s3cr3t-t0ken")
    assert "evil.example/api/webhooks/1/…" in str(elsewhere.value)
    assert "s3cr3t-t0ken" not in str(elsewhere.value)
    assert issubclass(TargetGone, SitrepError)
    assert SendFailed("x").retry


async def test_settings_subscription_sync(database: Database) -> None:
    settings = make_settings(
        database.url,
        digest={
            "subscriptions": [{"name": "daily", "target": "terminal", "schedule": "07:30", "timezone": "Asia/Tokyo"}]
        },
    )
    (subscription,) = await sync_settings_subscriptions(database=database, settings=settings)
    assert (subscription.target_kind, subscription.schedule, subscription.timezone) == (
        "terminal",
        "07:30",
        "Asia/Tokyo",
    )
    bad = make_settings(database.url, digest={"subscriptions": [{"schedule": "nonsense"}]})
    with pytest.raises(SitrepError, match="cron expression"):
        await sync_settings_subscriptions(database=database, settings=bad)


async def test_main_job_shows_the_first_digest_in_the_terminal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "Samples"\nlocation = "{SAMPLES / "articles"}"\n')
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'run.db'}", collect={"sources_file": str(sources)})
    output = io.StringIO()
    app = await App.open(settings, console=Console(file=output, width=120))
    try:
        with caplog.at_level(logging.INFO, logger="digests.jobs"):
            await app.start()
        assert app.scheduler.get_job("collect") is not None
        assert app.scheduler.get_job("digest:1") is not None
        assert app.scheduler.get_job("retry-deliveries") is not None
        assert gc.get_freeze_count() > 0  # what start-up made is kept out of later garbage collections
    finally:
        await app.close()
    assert "Next digest 'default' at" in caplog.text
    shown = output.getvalue()
    assert "Sitrep briefing" in shown
    assert "Japan and Britain Deepen Cyber and Critical Minerals Ties" in shown
    assert "What's Happening?" in shown
    # A restart right away sends nothing twice.
    output.truncate(0)
    app = await App.open(settings, console=Console(file=output, width=120))
    try:
        await app.start()
    finally:
        await app.close()
    assert "Japan and Britain" not in output.getvalue()


async def test_settings_digests_show_no_servers_private_source(database: Database) -> None:
    settings = _settings(database, subscriptions=[{"name": "default", "target": "terminal"}])
    (declared,) = await sync_settings_subscriptions(database=database, settings=settings)
    private = await add_source(database, "Team wire", guild_id=7)
    await add_article(database, "Private memo", ready_at=NOW - timedelta(hours=1), source_id=private)
    await add_article(database, "Public news", ready_at=NOW - timedelta(hours=1))
    own = await _subscription(database, "terminal", "terminal", guild_id=7)

    recorded = await record_delivery(declared.id, NOW, database=database, settings=settings)
    assert recorded is not None
    shown = json.dumps(recorded.payload)
    assert "Public news" in shown
    assert "Private memo" not in shown
    # The server that owns the source sees it in its own subscription's digest.
    mine = await record_delivery(own, NOW, database=database, settings=settings)
    assert mine is not None
    assert "Private memo" in json.dumps(mine.payload)


async def test_a_failed_round_is_retried_while_running_then_given_up(
    database: Database, discord: FakeDiscord, http: Any
) -> None:
    settings = _settings(database, send_attempts=2, delivery_rounds=2, retry_round_minutes=1)
    await _stories(database, 1)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))

    def sender(s: Subscription) -> WebhookSender:
        return WebhookSender(s.target, http)

    discord.script = [500, 500]
    first = await deliver(sub, NOW, database=database, settings=settings, sender_for=sender)
    assert first is not None
    assert first.status == "pending"
    # Not due yet: nothing is tried; a minute later the round is tried again and succeeds.
    assert await retry_due(database=database, settings=settings, sender_for=sender) == []
    later = datetime.now(UTC) + timedelta(minutes=2)
    (retried,) = await retry_due(database=database, settings=settings, sender_for=sender, now=later)
    assert retried.status == "sent"
    assert len(discord.messages) == 1

    # Another window whose webhook keeps failing is given up after two rounds, with the reason.
    await add_article(database, "Later story", ready_at=NOW + timedelta(minutes=30))
    discord.script = [500] * 4
    second = await deliver(sub, NOW + timedelta(hours=1), database=database, settings=settings, sender_for=sender)
    assert second is not None
    assert second.status == "pending"
    (gave_up,) = await retry_due(
        database=database, settings=settings, sender_for=sender, now=later + timedelta(hours=1)
    )
    assert gave_up.status == "failed"
    assert "given up after 2 failed rounds" in (gave_up.error or "")
    assert len(discord.messages) == 1


async def test_a_failed_digest_is_dropped_once_a_later_one_covers_it(
    database: Database, discord: FakeDiscord, http: Any
) -> None:
    settings = _settings(database, send_attempts=1)
    await _stories(database, 2)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))

    def sender(s: Subscription) -> WebhookSender:
        return WebhookSender(s.target, http)

    discord.script = [500]
    stale = await deliver(sub, NOW, database=database, settings=settings, sender_for=sender)
    assert stale is not None
    assert stale.status == "pending"
    # The next digest starts where the last delivered one ended, so it carries the failed one's stories.
    fresh = await deliver(sub, NOW + timedelta(hours=1), database=database, settings=settings, sender_for=sender)
    assert fresh is not None
    assert fresh.status == "sent"
    shown = json.dumps(discord.messages)
    assert "Story 0" in shown
    assert "Story 1" in shown
    posted = len(discord.messages)
    # After a restart the stale digest is not posted late.
    assert [o.status for o in await resume_pending(database=database, settings=settings, sender_for=sender)] == []
    assert len(discord.messages) == posted
    async with database.sessions() as session:
        statuses = dict((await session.execute(select(Delivery.key, Delivery.status))).all())
    assert sorted(statuses.values()) == ["sent", "superseded"]


async def test_stopping_during_a_retry_loses_no_message(
    database: Database, discord: FakeDiscord, http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(database, retry_base_seconds=30)
    await _stories(database, 3)
    sub = await _subscription(database, "webhook", discord.server.url("/api/webhooks/1/token"))

    def sender(s: Subscription) -> WebhookSender:
        return WebhookSender(s.target, http)

    recorded = await record_delivery(sub, NOW, database=database, settings=settings)
    assert recorded is not None
    total = len(recorded.payload)
    discord.script = [500]  # the first message is refused, then Sitrep waits 30 s before trying again
    sending = asyncio.create_task(send_delivery(recorded.id, database=database, settings=settings, sender_for=sender))
    for _ in range(500):  # until the refusal has been answered, then a little into the backoff
        if not discord.script:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    sending.cancel()  # Ctrl-C during the backoff
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert discord.messages == []

    with caplog.at_level(logging.INFO, logger="digests.services.deliveries"):
        (resumed,) = await resume_pending(database=database, settings=settings, sender_for=sender)
    assert (resumed.status, resumed.unconfirmed) == ("sent", 0)
    assert len(discord.messages) == total  # the refused message was sent after the restart
    assert f"{total} of {total} message(s) posted" in caplog.text
    assert "may have been posted" not in caplog.text


def test_the_webhook_from_the_environment_is_checked_too() -> None:
    settings = make_settings(discord_webhook_url="https://evil.example/api/webhooks/1/s3cr3t-t0ken")
    with pytest.raises(SitrepError, match="SITREP_DISCORD_WEBHOOK_URL: webhook URLs must be Discord's") as refused:
        parse_target("auto", settings)
    assert "s3cr3t-t0ken" not in str(refused.value)
    good = make_settings(discord_webhook_url="https://discord.com/api/webhooks/1/abc")
    assert parse_target("auto", good) == ("webhook", "https://discord.com/api/webhooks/1/abc")


async def test_a_digest_being_sent_is_not_superseded(database: Database) -> None:
    settings = _settings(database)
    await _stories(database, 1)
    sub = await _subscription(database, "webhook", "https://discord.com/api/webhooks/1/x")
    sending = await record_delivery(sub, NOW, database=database, settings=settings, claimant="another process")
    assert sending is not None
    await add_article(database, "Later story", ready_at=NOW + timedelta(minutes=30))
    later = await record_delivery(sub, NOW + timedelta(hours=1), database=database, settings=settings)
    assert later is not None
    async with database.sessions() as session:
        first = await session.get(Delivery, sending.id)
    assert first is not None
    assert first.status == "pending"  # held by the process sending it: it finishes, it is not cut off


async def test_the_webhook_can_be_tested_before_the_first_digest(http_server: LocalServer) -> None:
    from digests.services.digests import post_test_message

    received: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.StreamResponse:
        received.append(await request.json())
        return web.json_response({"id": "1"})

    http_server.routes["/api/webhooks/9/secret-token"] = webhook
    url = http_server.url("/api/webhooks/9/secret-token")
    settings = make_settings(discord_webhook_url=url, digest={"allow_any_webhook_host": True})
    where = await post_test_message(settings)
    assert "secret-token" not in where
    assert "Sitrep can post here" in received[0]["content"]
    assert received[0]["allowed_mentions"] == {"parse": []}

    async def gone(request: web.Request) -> web.StreamResponse:
        return web.Response(status=404)

    http_server.routes["/api/webhooks/9/secret-token"] = gone
    with pytest.raises(SitrepError, match="HTTP 404"):
        await post_test_message(settings)
    with pytest.raises(SitrepError, match="no webhook to test"):
        await post_test_message(make_settings())
