"""Helpers for executors whose nodes run elsewhere (k8s-job, local-container).

Such a driver only waits on remote work, so threads are enough to run branches side by
side. Stores are written for concurrent *processes*; their in-process read caches are not
meant for several threads, so every store call from the driver goes through one lock.
When the remote side fails before the node could write its step log (an image that does
not exist, a missing secret), the driver records that failure so the run log says why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from magnus_render.pipeline.ir import Node
from magnus_render.runtime import nodes
from magnus_render.stores.models import Status, StepAttempt, now_iso


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


def record_launch_failure(ctx: Any, node: Node, resolved: str, why: str) -> None:
    """Mark the step failed with ``why`` unless the node itself already finished it."""
    step = ctx.store.get_step_log(ctx.run_id, resolved)
    if step is not None and step.status in (Status.SUCCESS, Status.FAIL):
        return
    if step is None:
        step = nodes._new_step_log(node, resolved)
    now = now_iso()
    step.status = Status.FAIL
    step.message = why
    attempt = StepAttempt(
        attempt_number=len(step.attempts) + 1,
        start_time=now,
        end_time=now,
        status=Status.FAIL,
        message=why,
    )
    step.attempts.append(attempt)
    ctx.store.put_step_log(ctx.run_id, step)
