"""One worker thread for all model work, so inference never blocks the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ModelWorker:
    """Runs blocking model calls one at a time on a dedicated thread."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sitrep-model")

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(*args)`` on the model thread and await its result."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def close(self) -> None:
        """Stop the thread, dropping work not yet started."""
        self._executor.shutdown(wait=False, cancel_futures=True)
