"""Start-up: time from `sitrep run` to its first digest on the terminal and to the scheduler running.

Run: .venv/bin/python -m bench.startup
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(timeout: float = 180.0) -> dict:
    """Start `sitrep run` on a fresh database with the bundled samples and watch its output."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "SITREP_DATABASE_URL": f"sqlite:///{Path(scratch) / 's.db'}", "COLUMNS": "120"}
        env.pop("SITREP_DISCORD_TOKEN", None)
        env.pop("SITREP_DISCORD_WEBHOOK_URL", None)
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "digests.cli", "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        marks: dict[str, float] = {}
        peak = None
        selector = selectors.DefaultSelector()
        assert process.stdout is not None
        selector.register(process.stdout, selectors.EVENT_READ)
        buffer = b""
        try:
            while time.perf_counter() - started < timeout and len(marks) < 3:
                for _key, _ in selector.select(timeout=1):
                    chunk = os.read(process.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    buffer += chunk
                    now = time.perf_counter() - started
                    if b"Sitrep is running" in buffer:
                        marks.setdefault("database_and_sources_ready", now)
                    if b"Sitrep briefing" in buffer:
                        marks.setdefault("first_digest_shown", now)
                    if b"Scheduler running" in buffer:
                        marks.setdefault("scheduler_running", now)
                        peak = _peak_mb(process.pid)
                if process.poll() is not None:
                    break
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return {
        "input": "config/samples via `sitrep run`, fresh SQLite database",
        "seconds": {k: round(v, 2) for k, v in marks.items()},
        "exit_code": process.returncode,
        "peak_rss_mb": peak,
    }


def _peak_mb(pid: int) -> float | None:
    """Return a running process's peak resident memory (VmHWM) in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    """Print the start-up figures as JSON."""
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
