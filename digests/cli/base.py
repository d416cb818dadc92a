"""What every ``sitrep`` command shares: the Typer apps, the two consoles, the settings, one way to fail, and
the resources a command runs with."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from digests.errors import SitrepError
from digests.settings import Settings, get_settings
from digests.text import printable

if TYPE_CHECKING:
    from digests.app import Resources

T = TypeVar("T")

app = typer.Typer(
    help="Sitrep: news feeds in, briefing digests out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="Inspect the sources Sitrep collects from.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
stories_app = typer.Typer(
    help="Stories: one event's articles from every outlet. Without a command, list recent stories.",
    invoke_without_command=True,
)
app.add_typer(stories_app, name="stories")
webhook_app = typer.Typer(help="The Discord webhook digests are posted to.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")

console = Console()
errors = Console(stderr=True, soft_wrap=True)

USAGE = 2
"""The exit code of a command refused before it did anything (a bad option, settings that cannot be read)."""
FAILED = 1
"""The exit code of a command that could not finish its work."""


def fail(message: object, *, code: int = FAILED, label: str = "Error") -> typer.Exit:
    """Print why a command stops as one line on stderr, and return the exit to raise.

    The message is printed as it is: brackets in it (a TOML table, a URL) are not taken for console markup.
    """
    errors.print(f"[red]{label}:[/] {escape(printable(str(message)))}", highlight=False)
    return typer.Exit(code)


def usage_error(message: object) -> typer.Exit:
    """Print a usage error as one line and return the exit (code 2) to raise."""
    return fail(message, code=USAGE)


def write(text: str) -> None:
    """Write command output to stdout without control characters: nothing stored can drive the terminal."""
    sys.stdout.write(printable(text))


def settings_of(ctx: typer.Context) -> Settings:
    """Return the settings the root command read."""
    settings: Settings = ctx.find_root().obj["settings"]
    return settings


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", envvar="SITREP_DATABASE_URL", help="SQLAlchemy URL of the database."),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = None,
) -> None:
    """Sitrep: news feeds in, briefing digests out."""
    try:
        settings = get_settings(database_url=database_url, log_level=log_level)
    except Exception as error:
        raise fail(error, code=USAGE, label="Settings could not be read") from error
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=errors, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("trafilatura", "htmldate", "courlan", "charset_normalizer", "aiosqlite", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = {"settings": settings}


def run_with_resources(settings: Settings, work: Callable[[Resources], Awaitable[T]]) -> T:
    """Open the resources (applying migrations), run ``work`` with them, and close them; errors (and a database
    that refuses the work: read-only, locked, full) exit 1 with one line."""

    from digests.app import Resources  # the app's imports are heavy; `sitrep --help` does not need them
    from digests.store import DatabaseError, database_trouble

    async def runner() -> T:
        resources = await Resources.open(settings)
        try:
            return await work(resources)
        finally:
            await resources.close()

    try:
        return asyncio.run(runner())
    except SitrepError as error:
        raise fail(error) from error
    except DatabaseError as error:
        raise fail(database_trouble(error)) from error
