"""The resumable remote-driver executor: traverse here, submit each node elsewhere, wait,
and resume on restart. k8s-job, aws-batch and local-container are its subclasses; each
implements only :meth:`RemoteDriverExecutor.run_remote` (start one node's
``magnus execute_single_node`` where it runs nodes, wait, return its exit code) and, when
its remote work outlives the driver, :meth:`RemoteDriverExecutor.on_interrupt`.

What they share, here once:
- resuming: a driver started again with the run id of an existing run (a restarted driver
  pod, :mod:`magnus_render.runtime.driver`) skips nodes whose step log is finished and
  keeps the branch logs a composite opened before the restart;
- bookkeeping nodes (stub, success, fail) have no user code: the driver records them
  itself, through the same code a container would run;
- branches of parallel and map nodes are traversed in threads (a driver only waits on
  remote work), at most ``settings.parallelism`` nodes run at once, and every store call
  goes through one lock (:func:`remote.make_thread_safe`);
- Ctrl-C stops every wait at once (:meth:`pause` wakes), :meth:`on_interrupt` runs once
  (aws-batch terminates its jobs there) before the branch threads are joined.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from magnus_render.pipeline.ir import Graph, Node, NodeKind, resolve_name
from magnus_render.runtime import nodes
from magnus_render.runtime.executors.base import NodeTriggeringExecutor
from magnus_render.runtime.executors.remote import make_thread_safe
from magnus_render.stores.models import BranchLog, Status

FINISHED = (Status.SUCCESS, Status.FAIL)
#: nodes the driver records itself (same code path as a container), not remotely
BOOKKEEPING = (NodeKind.STUB, NodeKind.SUCCESS, NodeKind.FAIL)


class RemoteDriverExecutor(NodeTriggeringExecutor):
    """Base of executors whose nodes run elsewhere and whose driver may be restarted."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        make_thread_safe(ctx)
        self._slots = threading.BoundedSemaphore(self.parallelism)
        self._interrupted = threading.Event()
        self._entered = False

    @property
    def parallelism(self) -> int:
        """How many nodes of one parallel or map step run at once."""
        return int(getattr(self.settings, "parallelism", 1) or 1)

    # -- what a subclass provides ------------------------------------------------------
    @abstractmethod
    def run_remote(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        """Run ``argv`` (one node) where this executor runs nodes, wait, return its exit
        code; record in the run log why, when the remote side failed before the node."""

    def on_interrupt(self) -> None:
        """Ctrl-C: stop the remote work this driver started (default: leave it, a
        restarted driver adopts it)."""

    # -- traversal ---------------------------------------------------------------------
    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        with self._slots:
            if self._interrupted.is_set():
                raise KeyboardInterrupt
            return self.run_remote(node, map_variable, argv)

    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        resolved = resolve_name(node.internal_name, map_variable)
        done = self.ctx.store.get_step_log(self.ctx.run_id, resolved)
        if done is not None and done.status in FINISHED and done.attempts:
            return done.status  # finished before a driver restart: never run twice
        if node.kind in BOOKKEEPING:
            # no user code to run: a remote node would only write the same run log entries
            return nodes.execute_node(self.ctx, node, map_variable)
        return super().run_node(node, map_variable)

    def execute_composite(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        resolved = resolve_name(node.internal_name, map_variable)
        step = self.ctx.store.get_step_log(self.ctx.run_id, resolved)
        if step is None:
            return super().execute_composite(node, map_variable)
        if step.status in FINISHED:
            return step.status
        # opened before a driver restart: keep the branch logs that exist, open the rest
        try:
            branches = nodes.branches_of(self.ctx, node, map_variable)
        except nodes.FanOutError:
            return nodes.fan_in(self.ctx, node, map_variable)
        for branch in branches:
            if self.ctx.store.get_branch_log(self.ctx.run_id, branch.name) is None:
                log = BranchLog(
                    internal_name=branch.name,
                    status=Status.PROCESSING,
                    map_variable=branch.map_variable if node.kind is NodeKind.MAP else None,
                )
                self.ctx.store.put_branch_log(self.ctx.run_id, log)
        self.run_branches(branches)
        return nodes.fan_in(self.ctx, node, map_variable)

    def execute_graph(self, graph: Graph, map_variable: Mapping[str, Any] | None = None) -> Status:
        if self._entered or threading.current_thread() is not threading.main_thread():
            return super().execute_graph(graph, map_variable)
        self._entered = True
        try:
            return super().execute_graph(graph, map_variable)
        except KeyboardInterrupt:
            self.interrupt()
            raise
        finally:
            self._entered = False

    def run_branches(self, branches: Sequence[nodes.Branch]) -> None:
        """Branches in threads, at most ``parallelism`` at once; on Ctrl-C the remote work
        is stopped *before* waiting for the branch threads (which then stop waiting)."""
        if len(branches) < 2 or self.parallelism < 2:
            super().run_branches(branches)
            return
        workers = min(len(branches), self.parallelism)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="branch")
        try:
            futures = [pool.submit(self.execute_graph, b.graph, b.map_variable) for b in branches]
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            self.interrupt()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)

    # -- interruption ------------------------------------------------------------------
    def interrupt(self) -> None:
        """Stop waiting everywhere, then :meth:`on_interrupt` (once)."""
        if self._interrupted.is_set():
            return
        self._interrupted.set()
        self.on_interrupt()

    def pause(self, seconds: float) -> None:
        """Sleep, but wake (and stop) at once when the driver is interrupted."""
        if self._interrupted.wait(seconds):
            raise KeyboardInterrupt
