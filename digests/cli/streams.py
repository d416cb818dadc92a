"""JSON Lines in, JSON Lines out: the shared path of ``sitrep summarize`` and ``sitrep tag``.

Inputs and outputs are checked before any work, bad lines are skipped and reported, and the output file is
put in place only when every line went well.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from digests.cli.base import errors, fail, usage_error
from digests.errors import SitrepError
from digests.settings import Settings
from digests.text import cut


def check_paths(in_path: str, out_path: str) -> None:
    """Refuse, before any work, an input that is missing or an output that cannot be written or is the input."""
    try:
        _check_paths(in_path, out_path)
    except OSError as error:  # a name too long for the file system, a folder we may not look into
        raise usage_error(f"{cut(error.filename or in_path, 120)}: {error.strerror or error}") from error


def _check_paths(in_path: str, out_path: str) -> None:
    if in_path != "-" and not Path(in_path).is_file():
        raise usage_error(f"{cut(in_path, 200)}: no such file")
    if out_path == "-":
        return
    out = Path(out_path)
    if not out.parent.is_dir():
        raise usage_error(f"{cut(out_path, 200)}: the folder {cut(str(out.parent), 200)} does not exist")
    if out.is_dir():
        raise usage_error(f"{cut(out_path, 200)}: is a folder; name a file")
    if len(out.name) > 200:  # its temporary sibling's name would be too long for the file system
        raise usage_error(f"{cut(out_path, 200)}: name a file of at most 200 characters")
    if in_path != "-" and out.exists() and os.path.samefile(in_path, out):
        raise usage_error(f"--out {cut(out_path, 200)} is the input file; write the output somewhere else")


@contextlib.contextmanager
def output_file(path: str) -> Iterator[IO[str]]:
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


def stream_command(
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

    check_paths(in_path, out_path)
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
            output_file(out_path) as sink,
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
        raise fail(error) from error
    finally:
        enricher.close()
    errors.print(f"{report.written} written, {len(report.bad)} skipped", style="dim")
