"""Shared fixtures: settings for tests, a real database on each backend, a local HTTP server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from digests.settings import Settings, reset_settings_cache
from digests.store.db import Database

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "config" / "samples"
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get("SITREP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SITREP_") and name not in ("SITREP_TEST_POSTGRES_URL", "SITREP_REQUIRE_POSTGRES"):
            monkeypatch.delenv(name)
    reset_settings_cache()
    yield
    reset_settings_cache()


def make_settings(database_url: str = "sqlite+aiosqlite:///:memory:", **overrides: Any) -> Settings:
    """Return settings for tests: the shipped defaults, local addresses allowed, no full-text fetches."""
    fetch = {
        "allow_private_addresses": True,
        "total_timeout": 5.0,
        "connect_timeout": 2.0,
        **overrides.pop("fetch", {}),
    }
    collect = {"fetch_full_text": False, **overrides.pop("collect", {})}
    return Settings(database_url=database_url, fetch=fetch, collect=collect, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh SQLite file."""
    return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'sitrep.db'}")


def _run_outside_loop(coroutine: Any) -> Any:
    """Run a coroutine to completion on a fresh loop in a worker thread (fixtures may be inside a loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _postgres_available() -> bool:
    import asyncpg

    async def probe() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        await connection.close()

    try:
        _run_outside_loop(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Create a throwaway PostgreSQL database for this test run and drop it afterwards."""
    if not _postgres_available():
        if os.environ.get("SITREP_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but does not answer at {POSTGRES_ADMIN_URL}")
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}")
    import asyncpg

    name = f"sitrep_test_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    _run_outside_loop(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        _run_outside_loop(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fresh(url: str) -> Database:
    database = Database(url)
    if database.backend == "postgresql":
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await database.migrate()
    return database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file, then the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'sitrep.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = await _fresh(url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[Database]:
    """A migrated, empty PostgreSQL database, for what only PostgreSQL does (several processes)."""
    database = await _fresh(postgres_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_database(settings: Settings) -> AsyncIterator[Database]:
    """A migrated, empty SQLite database (for tests where the backend does not matter)."""
    database = await _fresh(settings.database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def http_server() -> AsyncIterator[Any]:
    """A local HTTP server on 127.0.0.1 (see tests/httpserver.py)."""
    from tests.httpserver import start_server

    async for server in start_server():
        yield server


@pytest.fixture(scope="session")
def encoder() -> Any:
    """The bundled sentence encoder, loaded once for the whole run."""
    from digests.inference import SentenceEncoder

    return SentenceEncoder(int8=True)


# The longest tests (processes that wait for the clock's next minute) start at once, one per worker, and the rest of
# the suite runs beside them. pytest-xdist's worksteal mode first gives each worker a contiguous share of the list,
# so the longest test opens the first share and the other process tests open the next ones.
_LONGEST = "tests/test_process.py::test_three_processes_on_postgresql_survive_a_kill"
_LONG = "tests/test_process.py::"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    workers = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    long = sorted((i for i in items if i.nodeid.startswith(_LONG)), key=lambda i: not i.nodeid.startswith(_LONGEST))
    rest = [i for i in items if not i.nodeid.startswith(_LONG)]
    if workers == 1 or not long:
        items[:] = long + rest
        return
    share = len(items) // workers
    ordered: list[pytest.Item] = []
    heads = [long[:1], long[1:]] + [[] for _ in range(workers - 2)]
    for head in heads:
        ordered.extend(head)
        ordered.extend(rest[: max(share - len(head), 0)])
        rest = rest[max(share - len(head), 0) :]
    items[:] = ordered + rest
