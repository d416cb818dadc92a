"""The scaling curve: each query's p95 and story placement's rate at 10k, 100k and 1M stored articles.

Written by `make bench` from the figures it measured (bench/results/scaling.png); on its own:
.venv/bin/python -m bench.plot
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
QUERIES = ("country", "topic", "search", "search_before_index", "digest")
TARGETS = {"country": 20, "topic": 20, "search": 50, "digest": 100}


def scaling_rows(figures: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Return (measure, backend, value per size) rows for the scaling table, sizes ascending."""
    sizes = sorted({entry["articles"] for entry in figures.get("queries", {}).get("results", [])})
    rows: list[tuple[str, str, list[str]]] = []
    for backend in ("sqlite", "postgresql"):
        entries = {e["articles"]: e for e in figures.get("queries", {}).get("results", []) if e["backend"] == backend}
        for kind in QUERIES:
            values = [str(entries[s][kind]["p95_ms"]) if s in entries and kind in entries[s] else "" for s in sizes]
            rows.append((f"{kind} p95 ms", backend, values))
        values = [str(entries[s].get("index", {}).get("refresh_seconds", "")) if s in entries else "" for s in sizes]
        rows.append(("vector index: reading what was loaded, s", backend, values))
    placed = {e["stored"]: e["articles_per_second"] for e in figures.get("story_scale", {}).get("sizes", [])}
    rows.append(("story placement articles/s", "sqlite", [str(placed.get(s, "")) for s in sizes]))
    return rows


def plot(figures: dict[str, Any], path: Path = RESULTS / "scaling.png") -> Path | None:
    """Draw p95 latency per query against stored articles (log-log), one panel per backend, plus placement."""
    results = figures.get("queries", {}).get("results", [])
    if not results:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for axis, backend in zip(axes[:2], ("sqlite", "postgresql"), strict=True):
        entries = sorted((e for e in results if e["backend"] == backend), key=lambda e: e["articles"])
        for kind in QUERIES:
            points = [(e["articles"], e[kind]["p95_ms"]) for e in entries if kind in e]
            if points:
                axis.plot(
                    *zip(*points, strict=True), marker="o", label=kind, linestyle="--" if "before" in kind else "-"
                )
        aims: dict[int, list[str]] = {}
        for kind, target in TARGETS.items():
            aims.setdefault(target, []).append(kind)
        for target, kinds in aims.items():  # one line and one label per value (country and topic share 20 ms)
            axis.axhline(target, color="grey", linewidth=0.5, linestyle=":")
            label = f"{' / '.join(kinds)} aim {target} ms"
            axis.annotate(label, (entries[0]["articles"], target), fontsize=7, color="grey")
        axis.set(xscale="log", yscale="log", xlabel="stored articles", ylabel="p95 ms", title=f"queries, {backend}")
        axis.legend(fontsize=8)
    placed = sorted((e["stored"], e["articles_per_second"]) for e in figures.get("story_scale", {}).get("sizes", []))
    if placed:
        axes[2].plot(*zip(*placed, strict=True), marker="o")
        axes[2].axhline(500, color="grey", linewidth=0.5, linestyle=":")
        axes[2].set(xscale="log", xlabel="stored articles", ylabel="articles/s", title="story placement (aim 500/s)")
        axes[2].set_ylim(bottom=0)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main() -> None:
    """Draw the plot from bench/results/latest.json."""
    figures = json.loads((RESULTS / "latest.json").read_text())["figures"]
    print(plot(figures))


if __name__ == "__main__":
    main()
