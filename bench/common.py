"""Shared helpers for benchmarks: machine facts, peak memory, percentiles, running a step in a child."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from typing import Any


def peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], share: float) -> float:
    """Return the ``share`` (0-1) percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    index = min(round(share * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def machine() -> dict[str, Any]:
    """Describe the machine and the versions that matter."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for package in ("torch", "transformers", "sqlalchemy", "aiosqlite", "asyncpg", "discord.py", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def in_child(module: str, *args: str, timeout: float = 5400) -> dict[str, Any]:
    """Run ``python -m module args`` and return the JSON it prints last (so peak memory is its own)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"no JSON in the output of {module}"}
