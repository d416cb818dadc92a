"""The ``sitrep`` commands: another front door over the same services."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from digests.cli.base import (
    FAILED,
    app,
    console,
    errors,
    fail,
    run_with_resources,
    settings_of,
    sources_app,
    stories_app,
    usage_error,
    webhook_app,
    write,
)
from digests.cli.output import print_report, print_sources, print_status
from digests.cli.streams import stream_command
from digests.errors import SitrepError

if TYPE_CHECKING:
    from digests.app import Resources


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

    settings = settings_of(ctx)
    if full_text is not None:
        settings = settings.model_copy(
            update={"collect": settings.collect.model_copy(update={"fetch_full_text": full_text})}
        )
    report = run_with_resources(settings, lambda r: ingest_targets(targets, database=r.database, settings=settings))
    print_report(report, as_json=as_json, title="Ingested")
    if report.nothing_read:
        raise typer.Exit(FAILED)  # every target failed: the errors are printed above


@app.command()
def collect(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Poll every source that is due once, after syncing the sources file into the database."""
    from digests.services.collection import collect_due_sources
    from digests.services.sources import sync_sources

    settings = settings_of(ctx)

    async def work(resources: Resources) -> Any:
        await sync_sources(database=resources.database, settings=settings)
        return await collect_due_sources(database=resources.database, settings=settings)

    report = run_with_resources(settings, work)
    print_report(report, as_json=as_json, title="Collected")


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sources as a JSON array.")] = False,
) -> None:
    """Show each source with its kind, last fetch, failures and state."""
    from digests.services.sources import sync_and_list_sources

    settings = settings_of(ctx)
    sources = run_with_resources(settings, lambda r: sync_and_list_sources(database=r.database, settings=settings))
    print_sources(sources, as_json=as_json)


@sources_app.command("enable")
def sources_enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The source's name, as `sources list` shows it.")]
) -> None:
    """Turn a source on again after it was disabled for failing; it is fetched at the next collection."""
    from digests.services.sources import enable_global_source

    source = run_with_resources(settings_of(ctx), lambda r: enable_global_source(name, database=r.database))
    console.print(f"Source {source.name!r} is enabled again; it is fetched at the next collection.")


@webhook_app.command("test")
def webhook_test(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option("--url", help="The webhook to test (default: SITREP_DISCORD_WEBHOOK_URL).")
    ] = None,
) -> None:
    """Post a short test message to the webhook, to check that digests can reach it."""
    from digests.services.digests import post_test_message

    settings = settings_of(ctx)
    try:
        where = asyncio.run(post_test_message(settings, url))
    except SitrepError as error:
        raise fail(error) from error
    console.print(f"Posted a test message to {where}.", markup=False, highlight=False)


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

    settings = settings_of(ctx)
    try:
        start = parse_since(since, datetime.now(UTC))
    except SitrepError as error:
        raise usage_error(str(error)) from error
    found = run_with_resources(settings, lambda r: service.recent(r.database, since=start, guild_id=None, limit=limit))
    rows = [service.as_json(story) for story in found]
    if output is StoryFormat.json:
        write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        write(f"No story updated since {start.isoformat()}.\n")
        return
    write(stories_text(rows, markdown=output is StoryFormat.markdown))


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

    settings = settings_of(ctx)
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
    stream_command(settings_of(ctx), in_path, out_path, summarize_batch, "summarizing")


@app.command()
def tag(
    ctx: typer.Context,
    in_path: Annotated[str, typer.Option("--in", help='JSONL input: {"id", "text", "title"?} per line; - for stdin.')],
    out_path: Annotated[str, typer.Option("--out", help="JSONL output, one line per good input line; - for stdout.")],
) -> None:
    """Tag articles from a JSONL file with their countries and topics."""
    from digests.services.jsonl import tag_records

    stream_command(settings_of(ctx), in_path, out_path, tag_records, "tagging")


@app.command()
def prepare(ctx: typer.Context) -> None:
    """Make the models ready ahead of the first run: export the encoder and compute the taxonomy's vectors."""
    import time

    from digests.inference import ModelLoadError, build_encoder
    from digests.tagging.topics import TopicTagger, current_topics

    settings = settings_of(ctx)
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
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Sections or articles per batch.")
    ] = 64,
) -> None:
    """Summarize and tag every stored section and article that needs it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digests.services.enrichment import enrich_pending

    settings = settings_of(ctx)
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=errors, transient=True, disable=not errors.is_terminal,
    )  # fmt: skip
    task = bar.add_task("summarizing and tagging", total=None)
    with bar:
        report = run_with_resources(
            settings,
            lambda r: enrich_pending(
                database=r.database,
                enricher=r.models,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                placed=lambda done: bar.update(task, description="placing in stories", completed=done, total=None),
            ),
        )
    if as_json:
        write(json.dumps(report.as_dict()) + "\n")
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
    from digests.services.workers import status as read_status

    report = run_with_resources(settings_of(ctx), lambda r: read_status(r.database, r.models))
    print_status(report, as_json=as_json)


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

    settings = settings_of(ctx)
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
        raise usage_error(error) from error
    built = run_with_resources(settings, lambda r: digest_now(r.database, filters, timezone=timezone))
    if built.waiting:
        errors.print(f"{built.waiting} article(s) await summarizing: run `sitrep summarize-pending` to include them.")
    if output is DigestFormat.discord:
        write(json.dumps([sendable(m) for m in discord_messages(built)], ensure_ascii=False, indent=2) + "\n")
    elif output is DigestFormat.markdown:
        write(markdown(built))
    elif output is DigestFormat.text:
        write(plain_text(built))
    elif output is DigestFormat.json:
        write(json.dumps(dataclasses.asdict(built), default=str, ensure_ascii=False, indent=2) + "\n")
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

    settings = settings_of(ctx)
    try:
        roles = parse_roles(role)
    except SitrepError as error:
        raise usage_error(str(error)) from error
    from digests.store import DatabaseError, database_trouble

    try:
        asyncio.run(run_forever(settings, console=console, status=errors, roles=roles))
    except KeyboardInterrupt:
        console.print("Stopped.")
    except SitrepError as error:
        raise fail(error) from error
    except DatabaseError as error:
        raise fail(database_trouble(error)) from error


def main() -> None:
    """Entry point of the ``sitrep`` script."""
    app()
