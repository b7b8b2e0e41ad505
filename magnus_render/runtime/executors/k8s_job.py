"""The ``k8s-job`` executor: traverse here (the driver pod), run each node as a Kubernetes Job.

Each task node becomes one Job running ``magnus execute_single_node``; the driver waits on
a watch, copies the pod's log to its own output, then reads the node's outcome from the
run log (which the Job wrote) and routes on it. Traversal, resuming, bookkeeping nodes and
bounded branch threads are the remote driver's (:mod:`.remote_driver`); what is Kubernetes' is
here: a node's Job body, and adopting a node's Job that already exists (409 on create)
instead of starting it again. The driver's command line is :mod:`magnus_render.runtime.driver`
(``magnus-k8s-driver``).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from magnus_render.contract import k8s_spec
from magnus_render.contract.k8s_pod import owner_reference
from magnus_render.pipeline.ir import Node, resolve_name
from magnus_render.runtime.executors.remote import record_launch_failure
from magnus_render.runtime.executors.remote_driver import RemoteDriverExecutor

#: annotations that tie a Job to its run and step (checked before adopting a Job)
RUN_ANNOTATION = "magnus-render/run-id"
STEP_ANNOTATION = "magnus-render/step"


def job_name(run_id: str, resolved_name: str) -> str:
    """A legal Job name, unique per run and (resolved) step: readable, hash when changed."""
    return k8s_spec.dns_name(f"{run_id}-{resolved_name}", 63)


def driver_owner() -> dict[str, Any] | None:
    """The driver Job as the owner of node Jobs, when the driver runs in a Job's pod (the
    rendered driver gets its Job's name and uid from the downward API); None elsewhere."""
    name = os.environ.get(k8s_spec.DRIVER_NAME_ENV, "")
    uid = os.environ.get(k8s_spec.DRIVER_UID_ENV, "")
    return owner_reference(name, uid) if name and uid else None


class K8sJobExecutor(RemoteDriverExecutor):
    name = "k8s-job"
    settings_model = k8s_spec.K8sJobSettings  # type: ignore[assignment]
    #: an override may change what a node's pod is, not where or how the run is driven
    step_fields = tuple(k8s_spec.PodSettings.model_fields)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._api_lock = threading.Lock()
        self._api: Any = None

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

    # -- one node, one Job -------------------------------------------------------------
    def node_body(
        self, node: Node, map_variable: Mapping[str, Any], argv: list[str]
    ) -> dict[str, Any]:
        """The Job for one node (validated strictly by the tests for 1.30 and 1.34)."""
        settings = self.step_settings(node)
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
            owner=driver_owner(),
        )

    def run_remote(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        body = self.node_body(node, map_variable, argv)
        name = body["metadata"]["name"]
        resolved = body["metadata"]["annotations"][STEP_ANNOTATION]
        owner = {RUN_ANNOTATION: self.ctx.run_id, STEP_ANNOTATION: resolved}
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
        return int(outcome.code)


if __name__ == "__main__":  # only as a script: the driver lives above the executors
    from magnus_render.runtime.driver import main

    sys.exit(main())
