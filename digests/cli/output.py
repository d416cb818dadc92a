"""How commands print what they did: collection reports, sources and status, as tables or JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from digests.cli.base import console, write
from digests.text import printable

if TYPE_CHECKING:
    from digests.services.workers import Status
    from digests.store.records import SourceRecord


def print_report(report: Any, *, as_json: bool, title: str) -> None:
    if as_json:
        write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
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
            console.print(f"[yellow]warning:[/] {escape(printable(warning))}", highlight=False)
        for error in source.errors:
            console.print(f"[red]error:[/] {escape(printable(error))}", highlight=False)
    seen = report.new + report.updated + report.unchanged + report.duplicates
    rate = seen / report.seconds if report.seconds else 0.0
    console.print(f"{report.seconds:.2f} s, {rate:.1f} articles/s", style="dim")


def print_sources(sources: list[SourceRecord], *, as_json: bool) -> None:
    """Print each source with its kind, last fetch, failures and state."""
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
        write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table(title="Sources", title_justify="left")
    for column in ("name", "kind", "every", "last fetch", "failures", "state"):
        table.add_column(column)
    for s in sources:
        state = "enabled" if s.enabled else f"disabled: {s.disabled_reason or 'by configuration'}"
        if s.enabled and s.last_error:
            state = f"failing: {s.last_error}"
        fetched = s.last_fetched_at.strftime("%Y-%m-%d %H:%M UTC") if s.last_fetched_at else "never"
        every = f"{s.interval_minutes:g} min"
        table.add_row(printable(s.name), s.kind, every, fetched, str(s.failures), printable(state))
    console.print(table)


def print_status(report: Status, *, as_json: bool) -> None:
    """Print Sitrep's health: database, model, backlog and the live processes."""
    if as_json:
        write(json.dumps(dataclasses.asdict(report), default=str, ensure_ascii=False) + "\n")
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
