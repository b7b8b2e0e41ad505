"""The ``k8s-job`` executor: traverse here (the driver pod), run each node as a Kubernetes Job.

Each task node becomes one Job running ``magnus execute_single_node`` (stub, success and
fail nodes have no user code: the driver records them itself, through the same code); the
driver waits on a watch, copies the pod's log to its own output, then reads the node's
outcome from the run log (which the Job wrote) and routes on it. Branches of parallel
and map nodes are traversed concurrently; at most ``parallelism`` Jobs run at once.

Resuming: a driver restarted with the same run id (its Job name) skips nodes whose step
log is finished and adopts a node's Job that already exists (409 on create) instead of
starting it again. ``python -m magnus_render.runtime.executors.k8s_job`` is the driver's
entry point: ``magnus execute`` semantics, plus resuming an existing run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from magnus_render.contract import k8s_spec
from magnus_render.errors import ConfigError
from magnus_render.pipeline.ir import Node, NodeKind, resolve_name
from magnus_render.runtime import nodes
from magnus_render.runtime.executors.base import NodeTriggeringExecutor
from magnus_render.runtime.executors.remote import (
    make_thread_safe,
    record_launch_failure,
    run_concurrently,
)
from magnus_render.stores.models import BranchLog, Status

FINISHED = (Status.SUCCESS, Status.FAIL)
#: nodes the driver records itself (same code path as a container), not through a Job
BOOKKEEPING = (NodeKind.STUB, NodeKind.SUCCESS, NodeKind.FAIL)
#: annotations that tie a Job to its run and step (checked before adopting a Job)
RUN_ANNOTATION = "magnus-render/run-id"
STEP_ANNOTATION = "magnus-render/step"


def job_name(run_id: str, resolved_name: str) -> str:
    """A legal Job name, unique per run and (resolved) step: readable, hash when changed."""
    return k8s_spec.dns_name(f"{run_id}-{resolved_name}", 63)


class K8sJobExecutor(NodeTriggeringExecutor):
    name = "k8s-job"
    settings_model = k8s_spec.K8sJobSettings  # type: ignore[assignment]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        make_thread_safe(ctx)
        self._slots = threading.BoundedSemaphore(self.settings.parallelism)
        self._api_lock = threading.Lock()
        self._api: Any = None

    def validate(self) -> None:
        super().validate()
        for node in self.ctx.pipeline.graph.walk():
            try:
                self.settings.for_step(node.overrides)
            except (KeyError, ValueError) as exc:
                where = node.source
                raise ConfigError(
                    f"step {node.internal_name!r}: {exc}",
                    where.file if where else None,
                    where.line if where else None,
                ) from None

    @property
    def api(self) -> Any:
        with self._api_lock:
            if self._api is None:
                from magnus_render.runtime.executors.k8s_api import KubeJobs

                self._api = KubeJobs(
                    self.settings.namespace,
                    self.settings.api_retries,
                    pool_size=self.settings.parallelism * 3,
                )
            return self._api

    # -- traversal hooks ---------------------------------------------------------------
    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        resolved = resolve_name(node.internal_name, map_variable)
        done = self.ctx.store.get_step_log(self.ctx.run_id, resolved)
        if done is not None and done.status in FINISHED and done.attempts:
            return done.status  # finished before a driver restart: never run twice
        if node.kind in BOOKKEEPING:
            # no user code to run: a pod would only write the same run log entries
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
                    map_variable=branch.map_variable if node.kind.value == "map" else None,
                )
                self.ctx.store.put_branch_log(self.ctx.run_id, log)
        self.run_branches(branches)
        return nodes.fan_in(self.ctx, node, map_variable)

    def run_branches(self, branches: Sequence[nodes.Branch]) -> None:
        if len(branches) < 2:
            super().run_branches(branches)
            return
        workers = min(len(branches), self.settings.parallelism)
        run_concurrently(branches, self.execute_graph, workers)

    # -- one node, one Job -------------------------------------------------------------
    def node_body(
        self, node: Node, map_variable: Mapping[str, Any], argv: list[str]
    ) -> dict[str, Any]:
        """The Job for one node (validated strictly by the tests for 1.30 and 1.34)."""
        settings = self.settings.for_step(node.overrides)
        resolved = resolve_name(node.internal_name, map_variable)
        labels = {
            "app.kubernetes.io/managed-by": "magnus-render",
            "magnus-render/run": k8s_spec.dns_name(self.ctx.run_id),
            "magnus-render/role": "node",
        }
        annotations = {RUN_ANNOTATION: self.ctx.run_id, STEP_ANNOTATION: resolved}
        return k8s_spec.node_job_body(
            settings,
            name=job_name(self.ctx.run_id, resolved),
            command=argv,
            labels=labels,
            annotations=annotations,
        )

    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        body = self.node_body(node, map_variable, argv)
        name = body["metadata"]["name"]
        resolved = body["metadata"]["annotations"][STEP_ANNOTATION]
        owner = {RUN_ANNOTATION: self.ctx.run_id, STEP_ANNOTATION: resolved}
        with self._slots:
            api = self.api
            api.create(body, owner)
            started, finished = threading.Event(), threading.Event()
            logs = threading.Thread(
                target=api.stream_logs, args=(name, f"[{resolved}]", finished), daemon=True
            )
            logs.start()
            try:
                outcome = api.wait(name, started)
            finally:
                finished.set()
                logs.join(timeout=30)
        if outcome.code:
            record_launch_failure(self.ctx, node, resolved, f"Job {name}: {outcome.reason}")
        return outcome.code


if __name__ == "__main__":  # only as a script: the driver lives above the executors
    from magnus_render.runtime.driver import main

    sys.exit(main())
