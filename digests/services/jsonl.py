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


def read_records(lines: Iterable[str], report: StreamReport) -> Iterator[Record]:
    """Yield the good records of a JSONL stream; note each bad line in ``report``."""
    for number, line in enumerate(lines, start=1):
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
        title = data.get("title") if isinstance(data.get("title"), str) else ""
        yield Record(number, data.get("id", number), text, title or "")


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
    source: IO[str],
    sink: IO[str],
    handle: Callable[[list[Record]], list[dict[str, Any]]],
    *,
    batch_size: int = 32,
    on_bad: Callable[[str], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> StreamReport:
    """Read records from ``source``, transform them a batch at a time, and write one line each to ``sink``."""
    report = StreamReport()
    reported = 0
    for batch in _batches(read_records(source, report), batch_size):
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
