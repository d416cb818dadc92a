"""A real `sitrep run` process, stopped with Ctrl-C at the worst moment and started again."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text

from digests.store import Database
from tests.conftest import REPO, SAMPLES
from tests.httpserver import LocalServer

pytestmark = pytest.mark.slow


async def _start(tmp_path: Path, webhook: str, log: Path) -> asyncio.subprocess.Process:
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "Samples"\nlocation = "{SAMPLES / "articles"}"\n')
    subscription = {"name": "hook", "target": f"webhook:{webhook}", "schedule": "* * * * *", "timezone": "UTC"}
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITREP_")} | {
        "SITREP_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "SITREP_COLLECT__SOURCES_FILE": str(sources),
        "SITREP_DIGEST__SUBSCRIPTIONS": json.dumps([subscription]),
        "SITREP_DIGEST__ALLOW_ANY_WEBHOOK_HOST": "true",
        "SITREP_DIGEST__RETRY_BASE_SECONDS": "60",
        "SITREP_DIGEST__GRACE_MINUTES": "5",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "digests.cli", "run", cwd=REPO, env=env, stdout=log.open("ab"), stderr=log.open("ab")
    )


async def _until(condition, seconds: float, process: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(int(seconds * 10)):
        if condition():
            return
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    said = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"gave up waiting; the process said:\n{said[-3000:]}")


def _delivery(tmp_path: Path) -> tuple[str, list[str]]:
    with sqlite3.connect(tmp_path / "run.db") as connection:
        row = connection.execute(
            "SELECT status, message_ids FROM deliveries WHERE status != 'skipped' ORDER BY id LIMIT 1"
        ).fetchone()
    return (row[0], json.loads(row[1])) if row else ("none", [])


async def test_ctrl_c_during_a_retry_loses_no_message(tmp_path: Path, http_server: LocalServer) -> None:
    received: list[dict] = []
    refusals = [500]

    async def webhook(request: web.Request) -> web.StreamResponse:
        if refusals:
            refusals.pop()
            return web.json_response({"message": "error"}, status=500)
        received.append(await request.json())
        return web.json_response({"id": str(len(received))})

    http_server.routes["/api/webhooks/1/token"] = webhook
    url = http_server.url("/api/webhooks/1/token")
    log = tmp_path / "run.log"

    first = await _start(tmp_path, url, log)
    # The first digest is due at the next whole minute; Discord refuses its first message, and Sitrep waits 60 s.
    await _until(lambda: not refusals, 120, first, log)
    await asyncio.sleep(0.5)
    first.send_signal(signal.SIGINT)  # Ctrl-C during the backoff
    assert await asyncio.wait_for(first.wait(), 30) == 0
    assert received == []

    second = await _start(tmp_path, url, log)
    try:
        await _until(lambda: _delivery(tmp_path)[0] == "sent", 90, second, log)
    finally:
        second.send_signal(signal.SIGINT)
        await asyncio.wait_for(second.wait(), 30)
    _, ids = _delivery(tmp_path)
    assert "unconfirmed" not in ids  # Discord answered 500: the message was never posted, so it was sent now
    assert len(received) == len(ids) >= 1
    assert len({json.dumps(message, sort_keys=True) for message in received}) == len(received)
    said = log.read_text()
    assert "may have been posted" not in said
    assert "Traceback" not in said


# Titles that share no word, so that each entry is its own story (and its own digest item).
_FIRST = """Harbor Copper Glacier Lantern Meadow Orchard Quarry Summit Tundra Valley Beacon Canyon Delta Ember Falcon
Granite Horizon Island Jasper Kestrel Lagoon Mesa Nectar Onyx Prairie Quartz Ridge Sierra Timber Upland""".split()
_SECOND = """reopens expands closes merges delays launches halts revives audits rebuilds trims doubles
relocates lists pauses renames upgrades sells buys restores floods dims lifts seals opens splits joins ranks grows
tests""".split()


def _feed(started: float, every: float) -> str:
    ticks = min(int((time.monotonic() - started) // every) + 1, len(_FIRST))
    items = "".join(
        f"<item><title>{_FIRST[n]} {_SECOND[n]}</title><guid>event-{n}</guid><link>https://n.example/{n}</link>"
        f"<description>{f'Officials said the {_FIRST[n].lower()} site {_SECOND[n]} this week, item {n}. ' * 12}"
        "</description></item>"
        for n in range(ticks)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'


@pytest.mark.postgres
async def test_three_processes_on_postgresql_survive_a_kill(
    tmp_path: Path, http_server: LocalServer, postgres_url: str
) -> None:
    fresh = Database(postgres_url)
    async with fresh.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await fresh.dispose()
    started = time.monotonic()
    received: list[dict[str, Any]] = []

    async def feed(request: web.Request) -> web.StreamResponse:
        return web.Response(text=_feed(started, 20), content_type="application/rss+xml")

    async def webhook(request: web.Request) -> web.StreamResponse:
        received.append(await request.json())
        return web.json_response({"id": str(len(received))})

    http_server.routes["/feed.xml"] = feed
    http_server.routes["/api/webhooks/1/t"] = webhook
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "Wire"\nlocation = "{http_server.url("/feed.xml")}"\ninterval_minutes = 0.2\n'
    )
    subscription = {
        "name": "hook",
        "target": f"webhook:{http_server.url('/api/webhooks/1/t')}",
        "schedule": "* * * * *",
        "max_items": 50,
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITREP_")} | {
        "SITREP_DATABASE_URL": postgres_url,
        "SITREP_COLLECT__SOURCES_FILE": str(sources),
        "SITREP_COLLECT__FETCH_FULL_TEXT": "false",
        "SITREP_COLLECT__CHECK_SECONDS": "10",
        "SITREP_COLLECT__CLAIM_MINUTES": "0.5",
        "SITREP_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
        "SITREP_DIGEST__SUBSCRIPTIONS": json.dumps([subscription]),
        "SITREP_DIGEST__ALLOW_ANY_WEBHOOK_HOST": "true",
        "SITREP_DIGEST__CLAIM_SECONDS": "20",
        "SITREP_DIGEST__GRACE_MINUTES": "0",
    }
    logs = [tmp_path / f"process-{n}.log" for n in range(3)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "digests.cli", "run", cwd=REPO, env=env, stdout=log.open("ab"), stderr=log.open("ab")
        )
        for log in logs
    ]
    database = Database(postgres_url)

    async def sent_windows() -> list[tuple[datetime, datetime, list[str]]]:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT window_start, window_end, message_ids FROM deliveries WHERE status = 'sent'")
            )
            return [(row[0], row[1], json.loads(row[2]) if isinstance(row[2], str) else row[2]) for row in rows]

    async def wait_for(what: str, check: Any, seconds: float) -> None:
        for _ in range(int(seconds)):
            if await check():
                return
            await asyncio.sleep(1)
        said = "\n".join((await asyncio.to_thread(log.read_text))[-1500:] for log in logs)
        raise AssertionError(f"gave up waiting for {what}:\n{said}")

    try:

        async def all_running() -> bool:
            texts = [await asyncio.to_thread(log.read_text) for log in logs]
            return all("Scheduler running" in said for said in texts)

        await wait_for("three processes to start", all_running, 120)
        assert all(process.returncode is None for process in processes)
        status = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "digests.cli", "status", "--json", cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE
        )
        listed = json.loads((await status.communicate())[0])
        assert len(listed["processes"]) == 3

        async def first_digest() -> bool:
            return bool(await sent_windows())

        await wait_for("a first digest", first_digest, 150)
        processes[1].kill()  # SIGKILL: no chance to release anything it holds
        killed_at = datetime.now(UTC)
        await processes[1].wait()

        async def two_more() -> bool:
            return sum(end > killed_at for _, end, _ in await sent_windows()) >= 2

        await wait_for("two digests after the kill", two_more, 200)
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
        await asyncio.gather(*(asyncio.wait_for(p.wait(), 60) for p in processes), return_exceptions=True)

    try:
        windows = await sent_windows()
        async with database.engine.connect() as connection:
            ready = (await connection.execute(text("SELECT title, ready_at FROM articles"))).all()
            sections = (await connection.execute(text("SELECT count(*) FROM sections"))).scalar_one()
    finally:
        await database.dispose()
    texts = [await asyncio.to_thread(log.read_text) for log in logs]
    # No process crashed on start-up or later (the killed one aside), and nothing was posted twice.
    assert not any("Traceback" in said for said in texts)
    assert len({json.dumps(message, sort_keys=True) for message in received}) == len(received)
    assert len(received) == sum(len(ids) for _, _, ids in windows)
    # Every article that became ready inside a delivered window reached the webhook.
    shown = {embed.get("title") for message in received for embed in message["embeds"]}
    last_end = max(end for _, end, _ in windows)
    delivered = [title for title, ready_at in ready if ready_at is not None and ready_at <= last_end]
    assert delivered
    assert set(delivered) <= shown
    # Each section was summarized once, by one of the processes.
    summarized = sum(int(n) for said in texts for n in re.findall(r"Summarized (\d+) section", said))
    assert summarized == sections
