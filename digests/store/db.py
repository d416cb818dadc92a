"""Engine, sessions and migrations: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from digests.errors import ConfigError
from digests.settings import cache_home
from digests.store.vectors import VectorIndex, index_path
from digests.store.workers import MIGRATION_LOCK

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _normalize_url(url: str) -> str:
    """Accept the plain driver names people type and pick the async drivers."""
    try:
        parsed = make_url(url)
    except Exception as error:
        raise ConfigError(f"database URL {url!r} is not a valid SQLAlchemy URL") from error
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ConfigError(
            f"database {driver!r} is not supported: use sqlite+aiosqlite:///path.db "
            "or postgresql+asyncpg://user@host/dbname"
        )
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine and its session factory, made once at start-up."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = _normalize_url(url)
        parsed = make_url(self.url)
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine_options.setdefault("connect_args", {"timeout": 30})
        else:
            engine_options.setdefault("pool_pre_ping", True)
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_options)
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(self.engine, expire_on_commit=False)
        # Search by meaning over every article; read from the table when first searched.
        self.vectors = VectorIndex(index_path(self.url, parsed.database, cache_home() / "search"))

    def describe(self) -> str:
        """Name the backend and database without the password."""
        return make_url(self.url).render_as_string(hide_password=True)

    async def migrate(self) -> None:
        """Bring the schema up to the newest migration; on PostgreSQL, one process at a time."""
        async with self.engine.begin() as connection:
            if self.backend == "postgresql":
                # Processes starting together on an empty database wait here and find the work done.
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            await connection.run_sync(_upgrade)

    async def dispose(self) -> None:
        """Keep the search index for the next start, and close every pooled connection."""
        await self.vectors.stop()
        if self.vectors.changed:
            try:
                async with self.sessions() as session:
                    await self.vectors.save(session)
            except (OSError, DBAPIError) as error:
                log.warning("The search index was not kept (%s); it is read again at the next start", error)
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic configuration that runs our migrations, on ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def database_trouble(error: DBAPIError) -> str:
    """Say in one line what the database refused (read-only, locked, full, gone), for a person to act on."""
    reason = str(error.orig if error.orig is not None else error).strip().splitlines()
    return f"the database refused the work: {reason[0] if reason else type(error).__name__}"


async def open_database(url: str) -> Database:
    """Open the database at ``url`` and apply pending migrations; a database that cannot be reached is a ConfigError."""
    database = Database(url)
    try:
        async with database.engine.connect():
            pass
    except (OSError, DBAPIError) as error:
        await database.dispose()
        reason = error.orig if isinstance(error, DBAPIError) else error
        raise ConfigError(f"cannot open the database {database.describe()}: {reason}") from error
    await database.migrate()
    return database


@contextlib.contextmanager
def single_runner(url: str) -> Iterator[None]:
    """Hold the SQLite database for one `sitrep run` at a time; a second one gets a clear error.

    SQLite is the zero-setup, single-process default: two processes on one file would both poll the
    sources and both send the digests. PostgreSQL coordinates any number of processes, so it needs no
    such lock.
    """
    parsed = make_url(_normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    import fcntl

    path = Path(parsed.database).expanduser()
    lock_path = path.with_name(path.name + ".run-lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the whole run, closed below
    except OSError as error:
        raise ConfigError(f"cannot use the database file {path}: {error.strerror or error}") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"another `sitrep run` ({holder}) is already using {path}; SQLite serves one process at a time: "
                "stop that one, or point both at PostgreSQL to share the work"
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def locked(statement: Any, session: Any) -> Any:
    """Lock the selected rows until the transaction ends (PostgreSQL), so one process at a time works on them;
    SQLite has one writer and needs nothing."""
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update()
    return statement


def skip_locked(statement: Any, session: Any, *, of: Any = None) -> Any:
    """Make a claim skip rows another worker holds (PostgreSQL); SQLite has one writer and needs nothing."""
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True, of=of)
    return statement


def rowcount(result: Any) -> int:
    """Return how many rows an UPDATE or DELETE touched (the async session types its result loosely)."""
    return int(getattr(result, "rowcount", 0) or 0)
