"""The local executor: sequential by default; parallel branches and map iterations in
worker processes with ``enable_parallel: true`` (at most ``max_workers`` at a time).

Workers are forked so they inherit the loaded pipeline and services (nothing to re-import
or re-parse); only the outermost composite fans out to the pool, nested ones run
sequentially inside their worker, which bounds the process count by ``max_workers``.
Each branch runs in a private working directory (:mod:`.workdir`), so branches running
at once never see or put each other's files; a worker keeps its folder for its next
branch while it is still an exact mirror, and the parent removes them all at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from pydantic import Field

from magnus_render.runtime import interrupt, nodes, procs
from magnus_render.runtime.executors.base import ExecutorSettings, LocalNodeExecutor
from magnus_render.runtime.executors.workdir import PrivateWorkdir


class LocalSettings(ExecutorSettings):
    enable_parallel: bool = False
    max_workers: int | None = Field(default=None, ge=1)


_WORKER: dict[str, Any] = {}


def _run_branches(indices: range) -> list[str]:
    """Worker side: a few branches, one after another (one message for several)."""
    return [_run_branch(index) for index in indices]


def _run_branch(index: int) -> str:
    """Worker side: traverse one branch of the composite the parent is fanning out."""
    executor: LocalExecutor = _WORKER["executor"]
    executor.in_worker = True
    branch = _WORKER["branches"][index]
    with PrivateWorkdir(executor.ctx.catalog, keep_in=_WORKER["keep_in"]):
        return executor.execute_graph(branch.graph, branch.map_variable).value


class LocalExecutor(LocalNodeExecutor):
    name = "local"
    settings_model = LocalSettings

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.in_worker = False

    @property
    def needs_multi_process_store(self) -> bool:  # type: ignore[override]
        return bool(self.settings.enable_parallel)

    def run_branches(self, branches: Sequence[nodes.Branch]) -> None:
        if not self.settings.enable_parallel or self.in_worker or len(branches) < 2:
            super().run_branches(branches)
            return
        workers = min(len(branches), self.settings.max_workers or os.cpu_count() or 2)
        keep_in = Path(tempfile.mkdtemp(prefix="magnus-branches-"))
        _WORKER.update(executor=self, branches=list(branches), keep_in=keep_in)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=interrupt.reset
            ) as pool:
                # a few branches per message between processes: one each cost the parent
                # more than a small branch costs a worker (big maps); a few at most, so the
                # workers still finish together
                chunk = max(1, min(32, len(branches) // (workers * 16)))
                futures = [
                    pool.submit(_run_branches, range(i, min(i + chunk, len(branches))))
                    for i in range(0, len(branches), chunk)
                ]
                try:
                    with interrupt.interruptible():
                        for future in futures:
                            future.result()
                except interrupt.Interrupted as exc:
                    _stop_workers(futures, exc.signum)
                    raise
        finally:
            _WORKER.clear()
            shutil.rmtree(keep_in, ignore_errors=True)


def _stop_workers(futures: list[Future[list[str]]], signum: int) -> None:
    """Interrupted: start no more branches, pass the signal on to the workers (each stops
    its task and records it; under a terminal they got it already and ignore a second),
    and wait for them, bounded: a worker that outlives that is killed."""
    for future in futures:
        future.cancel()
    procs.signal_children(signum)
    _, running = wait(futures, timeout=procs.GRACE_SECONDS + 5)
    if running:
        procs.signal_children(signal.SIGKILL)
