"""The ``sitrep`` command line: another front door over the same services."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from digests.errors import SitrepError
from digests.settings import Settings, get_settings

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

console = Console()
errors = Console(stderr=True, soft_wrap=True)


def _settings(ctx: typer.Context) -> Settings:
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
        errors.print(f"[red]Settings could not be read:[/] {error}")
        raise typer.Exit(2) from error
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
    """Open the resources (applying migrations), run ``work`` with them, and close them; errors exit 1."""

    from digests.app import Resources  # the app's imports are heavy; `sitrep --help` does not need them

    async def runner() -> T:
        resources = await Resources.open(settings)
        try:
            return await work(resources)
        finally:
            await resources.close()

    try:
        return asyncio.run(runner())
    except SitrepError as error:
        errors.print(f"[red]Error:[/] {error}")
        raise typer.Exit(1) from error


def _print_report(report: Any, *, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
        return
    table = Table(title=title, title_justify="left")
    for column in ("source", "new", "updated", "unchanged", "from elsewhere", "errors"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source in report.sources:
        state = " (not modified)" if source.not_modified else ""
        table.add_row(
            f"{source.source}{state}",
            str(source.new),
            str(source.updated),
            str(source.unchanged),
            str(source.duplicates),
            str(len(source.errors)),
        )
    table.add_section()
    totals = (report.new, report.updated, report.unchanged, report.duplicates, len(report.errors))
    table.add_row("total", *map(str, totals))
    console.print(table)
    for source in report.sources:
        for warning in source.warnings:
            console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
        for error in source.errors:
            console.print(f"[red]error:[/] {error}", highlight=False)
    seen = report.new + report.updated + report.unchanged + report.duplicates
    rate = seen / report.seconds if report.seconds else 0.0
    console.print(f"{report.seconds:.2f} s, {rate:.1f} articles/s", style="dim")


@app.command()
def ingest(
    ctx: typer.Context,
    targets: Annotated[list[str], typer.Argument(help="Files, folders and http(s) URLs to ingest once.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    full_text: Annotated[
        bool | None,
        typer.Option("--full-text/--no-full-text", help="Fetch the linked page for feed entries that are teasers."),
    ] = None,
) -> None:
    """Ingest files, folders and URLs once, and report what was new, updated and unchanged."""
    from digests.services.collection import ingest as ingest_targets

    settings = _settings(ctx)
    if full_text is not None:
        settings = settings.model_copy(
            update={"collect": settings.collect.model_copy(update={"fetch_full_text": full_text})}
        )
    report = run_with_resources(settings, lambda r: ingest_targets(targets, database=r.database, settings=settings))
    _print_report(report, as_json=as_json, title="Ingested")


@app.command()
def collect(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Poll every source that is due once, after syncing the sources file into the database."""
    from digests.services.collection import collect_due_sources, sync_sources

    settings = _settings(ctx)

    async def work(resources: Resources) -> Any:
        await sync_sources(database=resources.database, settings=settings)
        return await collect_due_sources(database=resources.database, settings=settings)

    report = run_with_resources(settings, work)
    _print_report(report, as_json=as_json, title="Collected")


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sources as a JSON array.")] = False,
) -> None:
    """Show each source with its kind, last fetch, failures and state."""
    from digests.services.collection import list_sources

    settings = _settings(ctx)
    sources = run_with_resources(settings, lambda r: list_sources(database=r.database, settings=settings))
    if as_json:
        rows = [
            {
                "name": s.name,
                "kind": s.kind,
                "location": s.location,
                "interval_minutes": s.interval_minutes,
                "enabled": s.enabled,
                "last_fetched_at": s.last_fetched_at.isoformat() if s.last_fetched_at else None,
                "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
                "next_fetch_at": s.next_fetch_at.isoformat() if s.next_fetch_at else None,
                "failures": s.failures,
                "last_error": s.last_error,
                "disabled_reason": s.disabled_reason,
            }
            for s in sources
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table(title="Sources", title_justify="left")
    for column in ("name", "kind", "every", "last fetch", "failures", "state"):
        table.add_column(column)
    for s in sources:
        state = "enabled" if s.enabled else f"disabled: {s.disabled_reason or 'by configuration'}"
        if s.enabled and s.last_error:
            state = f"failing: {s.last_error}"
        fetched = s.last_fetched_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_fetched_at else "never"
        table.add_row(s.name, s.kind, f"{s.interval_minutes:g} min", fetched, str(s.failures), state)
    console.print(table)


@sources_app.command("enable")
def sources_enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The source's name, as `sources list` shows it.")]
) -> None:
    """Turn a source on again after it was disabled for failing; it is fetched at the next collection."""
    from digests.services.collection import enable_source

    source = run_with_resources(_settings(ctx), lambda r: enable_source(name, database=r.database))
    console.print(f"Source {source.name!r} is enabled again; it is fetched at the next collection.")


class StoryFormat(StrEnum):
    """Output formats of ``sitrep stories``."""

    text = "text"
    markdown = "markdown"
    json = "json"


@stories_app.callback()
def stories(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="Stories updated since: 24h, 90m, 7d, 2w or an ISO date.")
    ] = "24h",
    output: Annotated[StoryFormat, typer.Option("--format", help="How to print the stories.")] = StoryFormat.text,
    limit: Annotated[
        int,
        typer.Option("--max", min=1, max=1_000_000, help="At most this many stories (all of a window for an audit)."),
    ] = 50,
) -> None:
    """List the stories updated in a window, latest first, each with every outlet's article."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from digests.render.text import stories_text
    from digests.schedule import parse_since
    from digests.services import stories as service

    settings = _settings(ctx)
    try:
        start = parse_since(since, datetime.now(UTC))
    except SitrepError as error:
        raise usage_error(str(error)) from error
    found = run_with_resources(settings, lambda r: service.recent(r.database, since=start, guild_id=None, limit=limit))
    rows = [service.as_json(story) for story in found]
    if output is StoryFormat.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        sys.stdout.write(f"No story updated since {start.isoformat()}.\n")
        return
    sys.stdout.write(stories_text(rows, markdown=output is StoryFormat.markdown))


@stories_app.command("rebuild")
def stories_rebuild(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="Place the articles ready since then again: 7d, 24h, a date.")
    ] = "7d",
) -> None:
    """Group a window's articles into stories again (after the model or the story settings change)."""
    from datetime import UTC, datetime

    from digests.schedule import parse_since
    from digests.services import stories as service

    settings = _settings(ctx)
    try:
        start = parse_since(since, datetime.now(UTC))
    except SitrepError as error:
        raise usage_error(str(error)) from error

    async def work(resources: Any) -> Any:
        await service.forget_since(resources.database, start)
        return await service.place_pending(resources.database, resources.models.encoder, settings.stories)

    report = run_with_resources(settings, work)
    console.print(
        f"Placed {report.placed} article(s) in stories ({report.new_stories} new, {report.merged} merged into others)"
        f" since {start.isoformat()}."
    )


def usage_error(message: str) -> typer.Exit:
    """Print a usage error as one line and return the exit (code 2) to raise."""
    errors.print(f"[red]Error:[/] {message}", highlight=False)
    return typer.Exit(2)


def _check_paths(in_path: str, out_path: str) -> None:
    """Refuse, before any work, an input that is missing or an output that cannot be written or is the input."""
    if in_path != "-" and not Path(in_path).is_file():
        raise usage_error(f"{in_path}: no such file")
    if out_path == "-":
        return
    out = Path(out_path)
    if not out.parent.is_dir():
        raise usage_error(f"{out_path}: the folder {out.parent} does not exist")
    if out.is_dir():
        raise usage_error(f"{out_path}: is a folder; name a file")
    if in_path != "-" and out.exists() and os.path.samefile(in_path, out):
        raise usage_error(f"--out {out_path} is the input file; write the output somewhere else")


@contextlib.contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """Write to a temporary file beside ``path`` and put it in place only when everything went well."""
    if path == "-":
        yield sys.stdout
        return
    target = Path(path)
    handle, scratch = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as sink:
            yield sink
        os.replace(scratch, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)


def _stream_command(
    settings: Settings,
    in_path: str,
    out_path: str,
    handle: Callable[[Any, list[Any]], list[dict[str, Any]]],
    label: str,
) -> None:
    """Run a JSONL-to-JSONL command with a progress bar on a terminal and bad lines on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digests.services.enrichment import Enricher
    from digests.services.jsonl import stream

    _check_paths(in_path, out_path)
    total = None
    if in_path != "-":
        with open(in_path, "rb") as handle_in:
            total = sum(1 for _ in handle_in)
    enricher = Enricher(settings)
    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=errors, transient=True,
        disable=not errors.is_terminal,
    )  # fmt: skip
    task = progress.add_task(label, total=total)
    try:
        with (
            sys.stdin.buffer if in_path == "-" else open(in_path, "rb") as source,
            _output(out_path) as sink,
            progress,
        ):
            report = stream(
                source,
                sink,
                lambda batch: handle(enricher, batch),
                max_line_bytes=settings.collect.max_file_bytes,
                on_bad=lambda message: errors.print(f"[yellow]skipped[/] {message}", highlight=False),
                on_done=lambda line: progress.update(task, completed=line),
            )
    except SitrepError as error:
        errors.print(f"[red]Error:[/] {error}")
        raise typer.Exit(1) from error
    finally:
        enricher.close()
    errors.print(f"{report.written} written, {len(report.bad)} skipped", style="dim")


@app.command()
def summarize(
    ctx: typer.Context,
    in_path: Annotated[str, typer.Option("--in", help='JSONL input: {"id", "text", "title"?} per line; - for stdin.')],
    out_path: Annotated[str, typer.Option("--out", help="JSONL output, one line per good input line; - for stdout.")],
    sentences: Annotated[
        int, typer.Option("--sentences", min=1, max=10, help="Sentences in each article summary.")
    ] = 3,
) -> None:
    """Summarize articles from a JSONL file, section by section."""
    from digests.services.jsonl import summarize_records

    summarize_batch = lambda enricher, batch: summarize_records(enricher, batch, sentences)  # noqa: E731
    _stream_command(_settings(ctx), in_path, out_path, summarize_batch, "summarizing")


@app.command()
def tag(
    ctx: typer.Context,
    in_path: Annotated[str, typer.Option("--in", help='JSONL input: {"id", "text", "title"?} per line; - for stdin.')],
    out_path: Annotated[str, typer.Option("--out", help="JSONL output, one line per good input line; - for stdout.")],
) -> None:
    """Tag articles from a JSONL file with their countries and topics."""
    from digests.services.jsonl import tag_records

    _stream_command(_settings(ctx), in_path, out_path, tag_records, "tagging")


@app.command()
def prepare(ctx: typer.Context) -> None:
    """Make the models ready ahead of the first run: export the encoder and compute the taxonomy's vectors."""
    import time

    from digests.inference import ModelLoadError, build_encoder
    from digests.tagging.topics import TopicTagger, current_topics

    settings = _settings(ctx)
    started = time.perf_counter()
    encoder = build_encoder(settings.summarize)
    try:
        TopicTagger(current_topics(settings.config_path(settings.tagging.topics_file)), encoder).tag([("", "")])
    except ModelLoadError as error:
        raise usage_error(str(error)) from error
    where = encoder.export_folder() if encoder.runtime == "onnx" else "PyTorch"
    console.print(
        f"Encoder {encoder.model_id} ready on {encoder.runtime} ({where}) in {time.perf_counter() - started:.1f} s."
    )


@app.command("summarize-pending")
def summarize_pending_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sections or articles per batch.")] = 64,
) -> None:
    """Summarize and tag every stored section and article that needs it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digests.services.enrichment import summarize_pending

    settings = _settings(ctx)
    bar = Progress(
        TextColumn("summarizing and tagging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=errors, transient=True, disable=not errors.is_terminal,
    )  # fmt: skip
    task = bar.add_task("enrich", total=None)
    with bar:
        report = run_with_resources(
            settings,
            lambda r: summarize_pending(
                database=r.database,
                enricher=r.models,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            ),
        )
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    else:
        console.print(
            f"Summarized {report.sections_summarized} section(s) ({report.cache_hits} from cache, "
            f"{report.fallbacks} guarded fallbacks) and tagged {report.articles_tagged} article(s) "
            f"in {report.seconds:.1f} s."
        )


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as one JSON object.")] = False,
) -> None:
    """Show Sitrep's health: the live processes and their roles, the backlog, the model and the database."""
    from digests.services.admin import status as read_status

    report = run_with_resources(_settings(ctx), lambda r: read_status(r.database, r.models))
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(report), default=str, ensure_ascii=False) + "\n")
        return
    last = report.last_collection.strftime("%Y-%m-%d %H:%M UTC") if report.last_collection else "never"
    console.print(f"Database: {report.database}\nSummarizer: {report.summarizer}\nLast collection: {last}")
    console.print(
        f"Articles: {report.articles} stored, {report.pending_articles} waiting to be tagged, "
        f"{report.pending_sections} section(s) to summarize; sources: {report.sources} enabled, "
        f"{report.failing_sources} failing"
    )
    table = Table(title=f"Processes ({len(report.processes)} running)", title_justify="left")
    for column in ("host", "pid", "roles", "started", "last heartbeat"):
        table.add_column(column)
    for process in report.processes:
        table.add_row(
            process.host,
            str(process.pid),
            process.roles,
            process.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            process.heartbeat_at.strftime("%H:%M:%S UTC"),
        )
    console.print(table)


class DigestFormat(StrEnum):
    """Output formats of ``sitrep digest``."""

    rich = "rich"
    discord = "discord"
    markdown = "markdown"
    text = "text"
    json = "json"


@app.command()
def digest(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Window start: 24h, 90m, 7d, 2w or an ISO date.")] = "24h",
    topic: Annotated[list[str] | None, typer.Option("--topic", help="Only this topic (repeatable).")] = None,
    country: Annotated[
        list[str] | None, typer.Option("--country", help="Only this country: name, code or demonym (repeatable).")
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="Only this language: pt, de, ... (repeatable).")
    ] = None,
    output: Annotated[DigestFormat, typer.Option("--format", help="How to print the digest.")] = DigestFormat.rich,
    max_items: Annotated[
        int | None, typer.Option("--max", min=1, max=50, help="At most this many stories (default: digest.max_items).")
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA time zone for dates.")] = "UTC",
) -> None:
    """Build a digest now and print it, without recording a delivery."""
    from datetime import UTC, datetime

    from digests.render import discord_messages, markdown, plain_text
    from digests.render.discord import sendable
    from digests.render.terminal import print_messages
    from digests.schedule import check_timezone, parse_since
    from digests.services.digests import digest_filters, digest_now
    from digests.tagging.countries import resolve_country
    from digests.tagging.language import resolve_language
    from digests.tagging.topics import current_topics, resolve_topic

    settings = _settings(ctx)
    try:
        check_timezone(timezone)
        now = datetime.now(UTC)
        taxonomy = current_topics(settings.config_path(settings.tagging.topics_file)) if topic else []
        filters = digest_filters(
            settings,
            since=parse_since(since, now),
            until=now,
            topics=[resolve_topic(t, taxonomy) for t in topic or []],
            countries=[resolve_country(c) for c in country or []],
            languages=[resolve_language(code) for code in language or []],
            max_items=max_items,
        )
    except SitrepError as error:
        errors.print(f"[red]Error:[/] {error}")
        raise typer.Exit(2) from error
    built = run_with_resources(settings, lambda r: digest_now(r.database, filters, timezone=timezone))
    if built.waiting:
        errors.print(f"{built.waiting} article(s) await summarizing: run `sitrep summarize-pending` to include them.")
    if output is DigestFormat.discord:
        sys.stdout.write(
            json.dumps([sendable(m) for m in discord_messages(built)], ensure_ascii=False, indent=2) + "\n"
        )
    elif output is DigestFormat.markdown:
        sys.stdout.write(markdown(built))
    elif output is DigestFormat.text:
        sys.stdout.write(plain_text(built))
    elif output is DigestFormat.json:
        sys.stdout.write(json.dumps(dataclasses.asdict(built), default=str, ensure_ascii=False, indent=2) + "\n")
    else:
        print_messages(console, discord_messages(built))


@app.command()
def run(
    ctx: typer.Context,
    role: Annotated[
        str,
        typer.Option(
            "--role",
            envvar="SITREP_ROLE",
            help="What this process does: all, or a comma-separated list of collect, enrich, deliver, bot.",
        ),
    ] = "all",
) -> None:
    """Run the main job: apply migrations, load the sources, and collect on schedule until Ctrl-C."""
    from digests.app import parse_roles, run_forever

    settings = _settings(ctx)
    try:
        roles = parse_roles(role)
    except SitrepError as error:
        raise usage_error(str(error)) from error
    try:
        asyncio.run(run_forever(settings, console=console, status=errors, roles=roles))
    except KeyboardInterrupt:
        console.print("Stopped.")
    except SitrepError as error:
        errors.print(f"[red]Error:[/] {error}")
        raise typer.Exit(1) from error


def main() -> None:
    """Entry point of the ``sitrep`` script."""
    app()


if __name__ == "__main__":
    main()
