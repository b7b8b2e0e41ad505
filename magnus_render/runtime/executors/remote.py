"""Concurrent branch traversal for executors whose nodes run elsewhere (k8s-job, containers).

Such a driver only waits on remote work, so threads are enough to run branches side by
side. Stores are written for concurrent *processes*; their in-process read caches are not
meant for several threads, so every store call from the driver goes through one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from magnus_render.runtime import nodes


class LockedStore:
    """A run log store whose methods are called one at a time (attributes pass through)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked


def make_thread_safe(ctx: Any) -> None:
    """Wrap the run context's store once, so branch threads can share it."""
    if not isinstance(ctx.store, LockedStore):
        ctx.store = LockedStore(ctx.store)


def run_concurrently(
    branches: Sequence[nodes.Branch], traverse: Callable[..., Any], workers: int
) -> None:
    """``traverse(graph, map_variable)`` for each branch, at most ``workers`` at a time;
    the first exception (after all branches ended) is raised."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="branch") as pool:
        futures = [pool.submit(traverse, b.graph, b.map_variable) for b in branches]
        for future in futures:
            future.result()
