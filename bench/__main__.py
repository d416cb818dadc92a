"""`make bench`: run every benchmark, print a table, and write bench/results/latest.json and BENCHMARKS.md.

Each benchmark runs in its own process, so peak memory is its own. Inputs come from ../shared/data when
it is present (quality benchmarks need it and are skipped without it) and from generated articles otherwise.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import in_child, machine
from bench.corpus import BBC, SHARED_DATA
from bench.plot import plot, scaling_rows

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
REPORT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
COMMAND = "make bench"


def steps() -> list[tuple[str, str, tuple[str, ...]]]:
    """Return (name, module, arguments) of every benchmark that can run here."""
    found: list[tuple[str, str, tuple[str, ...]]] = [
        ("summarizer_default", "bench.summarizer_speed", ("--mode", "default", "--sections", "400")),
        ("summarizer_int8", "bench.summarizer_speed", ("--mode", "int8", "--sections", "400")),
        ("summarizer_naive", "bench.summarizer_speed", ("--mode", "naive", "--sections", "400")),
        ("pipeline", "bench.pipeline", ("--count", "1000")),
        ("pipeline_torch", "bench.pipeline", ("--count", "1000", "--runtime", "torch", "--no-yardstick")),
        ("ingest", "bench.ingest", ("--count", "1000")),
        ("queries", "bench.queries", ("--sizes", "10000,100000,1000000", "--repeat", "30")),
        ("collection", "bench.collection", ("--feeds", "500")),
        ("startup", "bench.startup", ()),
        ("scaleout", "bench.scaleout", ("--articles", "240", "--processes", "1,2,4")),
        ("story_scale", "bench.story_scale", ("--sizes", "10000,100000,1000000")),
    ]
    found.append(("memory", "bench.memory", ()))
    if BBC.exists():
        found += [
            ("encoders", "bench.encoders", ("--articles", "300")),
            ("rouge", "bench.summaries", ()),
            ("topics", "bench.topics", ()),
        ]
    if BBC.exists() and (SHARED_DATA / "reuters-modapte-train.jsonl").exists():
        found.append(("sentences", "bench.sentences", ()))
    if (SHARED_DATA / "reuters-modapte-train.jsonl").exists():
        found.append(("countries", "bench.countries", ()))
        found.append(("stories", "bench.stories", ()))
    if (SHARED_DATA / "stories-dev" / "labels.json").exists():
        found.append(("stories_held_out", "bench.train_stories", ("--evaluate",)))
        found.append(("live_day", "bench.live_day", ()))
    return found


def collect(console: Console, only: set[str] | None = None) -> dict[str, Any]:
    """Run every benchmark (or those named in ``only``) and return their figures."""
    figures: dict[str, Any] = {}
    for name, module, args in steps():
        if only and name not in only:
            continue
        started = time.perf_counter()
        with console.status(f"Running {name}…"):
            figures[name] = in_child(module, *args)
        figures[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
        figures[name]["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        console.print(f"{name}: {figures[name]['wall_seconds']} s", style="dim")
    return figures


def rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Flatten the figures into (measure, value, baseline or note) rows."""
    out: list[tuple[str, str, str]] = []
    d, n, q = f.get("summarizer_default", {}), f.get("summarizer_naive", {}), f.get("summarizer_int8", {})
    if "sections_per_second" in d and "sections_per_second" in n:
        out.append(
            (
                "summarizer sections/s (default: int8 encoder)",
                f"{q.get('sections_per_second')}",
                f"plain encoder {d['sections_per_second']}, naive {n['sections_per_second']}",
            )
        )
        out.append(
            (
                "  speed-up over naive use of the same model",
                f"{q.get('sections_per_second', 0) / n['sections_per_second']:.1f}x",
                f"plain batched {d['sections_per_second'] / n['sections_per_second']:.1f}x",
            )
        )
        out.append(
            (
                "  peak memory MiB (int8 / plain / naive)",
                f"{q.get('peak_rss_mb')} / {d.get('peak_rss_mb')} / {n.get('peak_rss_mb')}",
                d.get("input", ""),
            )
        )
    i = f.get("ingest", {}).get("folder", {})
    if i:
        out.append(
            (
                "sitrep ingest, folder of 1,000 files: articles/s",
                str(i["articles_per_second_wall"]),
                f"{i['articles_per_second_service']} inside the service; {i['input']}",
            )
        )
    sf = f.get("ingest", {}).get("shared_feeds", {})
    if sf:
        out.append(
            (
                "sitrep ingest, shared feed files: files/s",
                str(round(sf["files"] / sf["seconds_wall"], 1)),
                f"{sf['files']} files, {sf['articles']} articles, {sf['errors']} refused with a message",
            )
        )
    p = f.get("pipeline", {})
    if "articles_per_second" in p:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in p["stage_share"].items())
        out.append(
            (
                f"pipeline, {p['articles']} articles: articles/s",
                str(p["articles_per_second"]),
                f"{p['seconds']} s; {shares}; peak {p['peak_rss_mb']} MiB ({p.get('runtime', 'torch')} encoder)",
            )
        )
        before = f.get("pipeline_torch", {})
        if "articles_per_second" in before:
            out.append(
                (
                    "  the same pipeline with the PyTorch int8 encoder (before)",
                    str(before["articles_per_second"]),
                    f"{before['seconds']} s; enrich {before['enrich_seconds']} s; peak {before['peak_rss_mb']} MiB",
                )
            )
        if p.get("fp32_pass_seconds"):
            out.append(
                (
                    "  summarize + tag + place, over one plain fp32 encoder pass on the same sentences",
                    f"{p['enrich_over_pass']}x",
                    f"{p['enrich_seconds']} s against {p['fp32_pass_seconds']} s for {p['sentences']} sentences "
                    f"({p['texts_encoded']} texts encoded in all)",
                )
            )
    for e in f.get("encoders", {}).get("results", []):
        if "variant" in e:
            out.append(
                (
                    f"encoder {e['variant']}: sentences/s",
                    str(e["sentences_per_second"]),
                    f"ROUGE-1 {e['rouge1']} (Lead-3 {e['lead3_rouge1']}); cosine to fp32 mean "
                    f"{e['cosine_to_fp32_mean']}, min {e['cosine_to_fp32_min']}; {e['sentences']} sentences",
                )
            )
    m = f.get("memory", {})
    if "resident_mb" in m:
        steps = list(m["resident_mb"].items())
        parts = ", ".join(f"{name} +{value - previous:.0f}" for (_, previous), (name, value) in pairwise(steps))
        out.append(
            (
                "memory MiB, summarize-pending (peak)",
                str(m["peak_rss_mb"]),
                f"resident after each step: python {steps[0][1]:.0f}, {parts} ({m['runtime']} encoder)",
            )
        )
    for entry in f.get("queries", {}).get("results", []):
        label = f"queries {entry['backend']} {entry['articles']:,}"
        for kind in ("country", "topic", "search", "search_before_index", "search_before_fts", "digest"):
            if kind in entry:
                out.append(
                    (
                        f"{label}: {kind} p50 / p95 ms",
                        f"{entry[kind]['p50_ms']} / {entry[kind]['p95_ms']}",
                        f"loaded in {entry['load_seconds']} s",
                    )
                )
    c = f.get("collection", {})
    if "full" in c:
        out.append(
            (
                "collection, 500 feeds: full cycle s",
                str(c["full"]["seconds"]),
                f"{c['full']['new_articles']} articles, {c['full']['errors']} errors",
            )
        )
        out.append(
            (
                "collection, 500 feeds: 304 cycle s",
                str(c["conditional"]["seconds"]),
                f"{c['conditional']['not_modified']} not modified",
            )
        )
    s = f.get("startup", {}).get("seconds", {})
    if s:
        out.append(
            (
                "start-up: first digest shown s",
                str(s.get("first_digest_shown")),
                f"scheduler running {s.get('scheduler_running')} s; peak {f['startup'].get('peak_rss_mb')} MiB",
            )
        )
    r = f.get("rouge", {})
    cases = [("BBC held-out", r.get("bbc_held_out"))]
    cases += [(f"BBC {name}", value) for name, value in r.get("bbc_across_categories", {}).items()]
    cases.append(("Reuters headlines (F)", r.get("reuters_headlines")))
    for label, case in cases:
        if case:
            picked = case["picked_from"]
            out.append(
                (
                    f"summary ROUGE-1, {label} ({case['articles']})",
                    f"{case['rouge1']} ({case['ratio']}x Lead-3)",
                    f"Lead-3 {case['lead3_rouge1']}; recall {case['rouge1_recall']} vs {case['lead3_rouge1_recall']}; "
                    f"{case['words']} vs {case['lead3_words']} words; sentences from first / 2nd-3rd / later "
                    f"{picked['first']} / {picked['second_third']} / {picked['later']}",
                )
            )
    sb = f.get("sentences", {})
    if "sitrep" in sb:
        out.append(
            (
                f"sentence splitting, {sb['paragraphs']} labelled paragraphs: exact",
                f"{sb['sitrep']['exact']}",
                f"pysbd {sb['pysbd']['exact']}, syntok {sb['syntok']['exact']} (syntok changes the text in "
                f"{1 - sb['syntok']['text_unchanged']:.0%})",
            )
        )
    k = f.get("countries", {})
    if "f1" in k:
        b, g = k["baseline_pycountry_names"], k["baseline_gazetteer_rule"]
        out.append(
            (
                f"country micro P/R/F1, Reuters held-out ({k['stories']})",
                f"{k['precision']} / {k['recall']} / {k['f1']}",
                f"gazetteer rule {g['precision']} / {g['recall']} / {g['f1']}, "
                f"pycountry names {b['precision']} / {b['recall']} / {b['f1']}",
            )
        )
    for entry in f.get("story_scale", {}).get("sizes", []):
        out.append(
            (
                f"story placement articles/s, {entry['stored']:,} stored",
                f"{entry['articles_per_second']}",
                f"{entry['open_stories_in_window']:,} open stories in the window"
                + (f" ({entry['stored_per_day']:,} articles stored a day)" if "stored_per_day" in entry else "")
                + "; encoder time excluded",
            )
        )
    held = f.get("stories_held_out", {})
    for split, label in (("by_event", "5 folds by event, 3 shuffles"), ("by_day", "trained on the first day")):
        if split in held:
            r = held[split]
            out.append(
                (
                    f"story pairs P/R, stories-dev held out ({label})",
                    f"{r['precision']} / {r['recall']}",
                    f"{r['true_pairs']} pairs found, {r['false_pairs']} wrong, {r['missed_pairs']} missed",
                )
            )
    live = f.get("live_day", {})
    if "top_events_shown" in live:
        out.append(
            (
                "live day (stories-dev, 24 h digest of 10): top-5 events shown",
                f"{live['top_events_shown']} of 5",
                f"events shown twice: {len(live['events_shown_twice'])}; items crediting under 60% of their "
                f'event\'s outlets: {live["items_below_60pct_credit"]}; header "{live["header"]}"',
            )
        )
    st = f.get("stories", {})
    for name, label in (("reuters", "partly trained on"), ("bbc_business", "not tuned on")):
        if name in st:
            r, e, c = st[name]["stories"], st[name]["exact_title"], st[name]["single_cosine"]
            out.append(
                (
                    f"story pairs P/R, {name} ({label})",
                    f"{r['precision']} / {r['recall']}",
                    f"exact title {e['precision']} / {e['recall']}, one cosine {c['precision']} / {c['recall']}",
                )
            )
    t = f.get("topics", {})
    for corpus in ("bbc", "reuters"):
        for form in ("full", "short"):
            case = t.get(corpus, {}).get(form)
            if case:
                out.append(
                    (
                        f"topics, {corpus} {form} ({case['articles']}): fitting first topic / precision",
                        f"{case['coverage']} / {case['precision']}",
                        f"by family {case['family_coverage']} / {case['family_precision']}; "
                        f"any topic {case['any_topic']}",
                    )
                )
    s = f.get("scaleout", {})
    for entry in s.get("enrich", []):
        out.append(
            (
                f"enrich processes on PostgreSQL: {entry['processes']}",
                f"{entry['sections_per_second']} sections/s ({entry['speed_up']}x)",
                f"{entry['sections']} sections, {entry['seconds']} s with start-up; {s.get('cpus')} CPUs",
            )
        )
    c = s.get("claims", {})
    if c:
        out.append(
            (
                "SQL statements per delivery (record, claim, send)",
                f"{c['statements_per_delivery']}",
                f"{c['messages_per_delivery']} messages, p50 {c['delivery_ms_p50']} ms",
            )
        )
    return out


def _measured_lines(figures: dict[str, Any]) -> list[str]:
    """Say when each benchmark ran, where they did not all run at once."""
    runs: dict[str, list[str]] = {}
    for name, figure in figures.items():
        if isinstance(figure, dict) and "measured_at" in figure:
            runs.setdefault(figure["measured_at"][:16].replace("T", " "), []).append(name)
    if len(runs) < 2:
        return []
    return ["Measured " + "; ".join(f"{when} UTC: {', '.join(names)}" for when, names in sorted(runs.items())) + "."]


def _scaling_lines(figures: dict[str, Any]) -> list[str]:
    """The scaling table and its plot, from the query and placement figures at every size measured."""
    rows = scaling_rows(figures)
    sizes = sorted({entry["articles"] for entry in figures.get("queries", {}).get("results", [])})
    if not sizes:
        return []
    drawn = plot(figures)
    return [
        "## Scaling",
        "",
        "p95 latency of each query (ms) and story placement's rate as the store grows (generated articles;"
        " `search_before_index` is the previous search, over the newest 5,000 vectors, in the same run). Each"
        " query's first call, which opens connections and reads cold pages, is left out of the percentiles and"
        " kept as `first_ms` in the JSON. Placement stores 2,740 articles a day at every size, so each size has"
        " about the same stories open:",
        "",
        "| measure | backend | " + " | ".join(f"{s:,}" for s in sizes) + " |",
        "| --- | --- | " + " | ".join("---" for _ in sizes) + " |",
        *(f"| {measure} | {backend} | " + " | ".join(values) + " |" for measure, backend, values in rows),
        "",
        *(
            f"- {e['backend']} {e['articles']:,}: {e['note']}."
            for e in figures.get("queries", {}).get("results", [])
            if e.get("note")
        ),
        "",
        *([f"![scaling](bench/results/{drawn.name})", ""] if drawn else []),
    ]


def write(figures: dict[str, Any], console: Console) -> None:
    """Print the table and write the JSON and the Markdown report."""
    table = Table(title="Sitrep benchmarks", title_justify="left")
    for column in ("measure", "value", "baseline / notes"):
        table.add_column(column)
    flat = rows(figures)
    for row in flat:
        table.add_row(*row)
    console.print(table)
    info = machine()
    payload = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": info, "figures": figures}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{COMMAND}` on {payload['when']}: {info['cpus']} CPUs, {info['memory_gib']} GiB, "
        f"Python {info['python']}, torch {info['packages']['torch']}, transformers {info['packages']['transformers']}.",
        *_measured_lines(figures),
        "Raw figures: `bench/results/latest.json`, each benchmark with the time it was measured (`make bench` runs"
        " them all; `python -m bench --only rouge,topics` runs some again and keeps the rest). Benchmarks print"
        " figures; they never fail CI.",
        "",
        "| measure | value | baseline / notes |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in flat),
        "",
        *_scaling_lines(figures),
        "## Reproduce",
        "",
        "Each benchmark on its own (after `make install`; quality benchmarks read `../shared/data`):",
        "",
        *(f"- {name}: `{' '.join(['.venv/bin/python -m', module, *args])}`" for name, module, args in steps()),
        "",
        "The learned parts are trained with `.venv/bin/python -m bench.train_summarizer "
        "../shared/data/bbc-news-summary.jsonl` (BBC even lines) and `.venv/bin/python -m "
        "bench.train_countries ../shared/data/reuters-modapte-train.jsonl` (Reuters id-hash buckets 0-6); the story "
        "pair scorer with `.venv/bin/python -m bench.train_stories --write`.",
        "",
    ]
    REPORT.write_text("\n".join(lines))


def main() -> None:
    """Run, print and write everything; ``--only a,b`` runs those benchmarks and keeps the other figures."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="Comma-separated benchmark names to run again (e.g. rouge,topics).")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",")} if args.only else None
    console = Console()
    started = time.perf_counter()
    figures = collect(console, only)
    if only and RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        for figure in previous["figures"].values():
            if isinstance(figure, dict):
                figure.setdefault("measured_at", previous["when"])
        figures = previous["figures"] | figures
    figures["total_wall_seconds"] = round(time.perf_counter() - started, 1)
    write(figures, console)
    console.print(f"Done in {figures['total_wall_seconds']} s; wrote {RESULTS} and {REPORT}.")


if __name__ == "__main__":
    main()
