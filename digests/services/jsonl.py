"""Stream JSON Lines through a batch function in constant memory, reporting bad lines without stopping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from digests.services.enrichment import Enricher
from digests.summarize import SectionInput, article_summary


@dataclass(slots=True)
class Record:
    """One good input line: its id, optional title, and text."""

    line: int
    id: Any
    text: str
    title: str = ""


@dataclass(slots=True)
class StreamReport:
    """How many lines were written and which were refused."""

    written: int = 0
    bad: list[str] = field(default_factory=list)


def binary_lines(source: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Yield each line of ``source``; a line longer than ``limit`` bytes is read past and yielded as None."""
    while line := source.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := source.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def read_records(lines: Iterable[bytes | None], report: StreamReport, *, limit: int) -> Iterator[Record]:
    """Yield the good records of a JSONL stream; note each bad line in ``report``.

    A line without an id gets ``line-N``; a line whose id was already used is refused, so that every
    output line can be matched to its input.
    """
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if raw is None:
            report.bad.append(f"line {number}: longer than {limit:,} bytes")
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            report.bad.append(f"line {number}: not UTF-8 (byte {error.start + 1})")
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            report.bad.append(f"line {number}: not JSON ({error.msg})")
            continue
        if not isinstance(data, dict):
            report.bad.append(f"line {number}: not a JSON object")
            continue
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            report.bad.append(f"line {number}: no text")
            continue
        identity = data.get("id", f"line-{number}")
        key = json.dumps(identity, sort_keys=True)
        if key in seen:
            report.bad.append(f"line {number}: the id {identity!r} was used on line {seen[key]} already")
            continue
        seen[key] = number
        title = data.get("title") if isinstance(data.get("title"), str) else ""
        yield Record(number, identity, text, title or "")


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def stream(
    source: IO[bytes],
    sink: IO[str],
    handle: Callable[[list[Record]], list[dict[str, Any]]],
    *,
    max_line_bytes: int,
    batch_size: int = 32,
    on_bad: Callable[[str], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> StreamReport:
    """Read records from ``source``, transform them a batch at a time, and write one line each to ``sink``."""
    report = StreamReport()
    reported = 0
    records = read_records(binary_lines(source, max_line_bytes), report, limit=max_line_bytes)
    for batch in _batches(records, batch_size):
        for result in handle(batch):
            sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        report.written += len(batch)
        if on_bad:
            for message in report.bad[reported:]:
                on_bad(message)
        reported = len(report.bad)
        if on_done:
            on_done(batch[-1].line)
    if on_bad:
        for message in report.bad[reported:]:
            on_bad(message)
    return report


def summarize_records(enricher: Enricher, records: list[Record], sentences: int) -> list[dict[str, Any]]:
    """Sectionize and summarize each record: ``{"id", "sections": [{"heading", "summary"}], "summary"}``."""
    inputs: list[SectionInput] = []
    owners: list[int] = []
    for number, record in enumerate(records):
        sections = enricher.sectionizer.split(record.text, title=record.title or None)
        for position, raw in enumerate(sections):
            inputs.append(SectionInput(raw.text, raw.heading, record.title, position))
            owners.append(number)
    summaries = enricher.summarize(inputs)
    results: list[dict[str, Any]] = [{"id": r.id, "sections": [], "summary": ""} for r in records]
    for owner, section, summary in zip(owners, inputs, summaries, strict=True):
        results[owner]["sections"].append({"heading": section.heading, "summary": summary.summary})
    for result in results:
        result["summary"] = article_summary([s["summary"] for s in result["sections"]], sentences)
    return results


def tag_records(enricher: Enricher, records: list[Record]) -> list[dict[str, Any]]:
    """Tag each record: ``{"id", "countries": [codes, most salient first], "topics": [names, best first]}``."""
    tags = enricher.tag([(r.title, r.text) for r in records])
    return [
        {"id": r.id, "countries": [c.code for c in t.countries], "topics": [s.name for s in t.topics]}
        for r, t in zip(records, tags, strict=True)
    ]
