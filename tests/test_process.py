"""A real `sitrep run` process, stopped with Ctrl-C at the worst moment and started again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from aiohttp import web

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
