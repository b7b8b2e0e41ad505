"""The Apache Airflow target: one Python DAG file, importable by Airflow 2.10+ and 3.x.

Every step is a task running ``magnus execute_single_node`` (BashOperator with
``operator: bash``, KubernetesPodOperator with ``operator: kubernetes``, the default);
parallel and dag steps are TaskGroups between ``magnus fan --mode out/in`` tasks; a map
is a fan-out task whose XCom is the item list, a mapped TaskGroup ``.expand()``-ed over
it and a fan-in after every iteration.

Routing with trigger rules only; no task but the root fail node's ends FAILED unless its
step failed, and a step that is not reached ends SKIPPED. After a step's task comes
``<step>__succeeded`` (an empty task, never sent to a worker: ``all_success``, so SUCCESS
when the step succeeded, else SKIPPED or UPSTREAM_FAILED). A step reached only through
failures runs on ``one_failed`` over the failing tasks themselves (the usual fail node);
any other step runs on ``one_done`` over the route tasks into it, ``__succeeded`` and,
for a failure route, ``<step>__failed`` (``all_failed``): ``one_done`` fires on the one
route task that ended SUCCESS and ignores UPSTREAM_FAILED, and the tasks it waits on never
end FAILED. A map's iterations are one mapped task (not a mapped TaskGroup, whose trigger
rules Airflow 2.10 and 3.1 evaluate before the group's tasks are expanded). The root fail
node's task records the failure and exits 1; the root success and fail tasks are the only
leaves, so the DAG run is failed exactly when ``magnus execute`` fails.

One attempt model: ``max_attempts`` retries happen inside ``execute_single_node`` (every
attempt in the run log), so tasks have ``retries=0``. Clearing a failed task and its
downstream in the same DAG run runs those steps again under the same magnus run id.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar

from magnus_render.contract.naming import UniqueNames
from magnus_render.errors import ConfigError, MagnusError
from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.airflow import emit, source
from magnus_render.renderers.airflow.settings import (
    AirflowSettings,
    KubernetesPod,
    check_airflow_schedule,
)
from magnus_render.renderers.base import Renderer, RenderResult, fan_argv, node_argv
from magnus_render.renderers.shared_stores import check_shared_stores

#: what Jinja would read in a templated field (Airflow has no escape for it)
_JINJA = re.compile(r"\{\{|\{%|\{#")
_ENDRAW = re.compile(r"endraw")
_SHARED_STORES = ("s3",)


class _Names:
    """Task ids per graph and TaskGroup ids per composite (DNS labels, stable)."""

    def __init__(self) -> None:
        self._graphs: dict[str, dict[str, str]] = {}
        self._branches: dict[str, dict[str, str]] = {}

    def __call__(self, graph: Graph) -> dict[str, str]:
        found = self._graphs.get(graph.internal_name)
        if found is None:
            names = UniqueNames(max_length=63, letter_first=True)
            found = {node.name: names.name(node.name) for node in graph}
            self._graphs[graph.internal_name] = found
        return found

    def branches(self, node: Node) -> dict[str, str]:
        found = self._branches.get(node.internal_name)
        if found is None:
            names = UniqueNames(max_length=63, letter_first=True)
            found = {b.name: names.name(b.name) for b in node.branches}
            self._branches[node.internal_name] = found
        return found


class AirflowRenderer(Renderer):
    name: ClassVar[str] = "airflow"
    description: ClassVar[str] = "Apache Airflow DAG file (BashOperator or KubernetesPodOperator)"
    settings_model = AirflowSettings

    def render(self) -> RenderResult:
        settings = self.settings()
        assert isinstance(settings, AirflowSettings)
        self.s = settings
        self.kpo = settings.operator == "kubernetes"
        self._check_text()
        self._check_stores()
        if self.options.extra.get("schedule"):
            check_airflow_schedule(self.options.extra["schedule"], "--schedule")
        self._pods: dict[str | None, str] = {}
        self._pod_bodies: list[tuple[str, KubernetesPod]] = []
        if self.kpo:
            self.image = self.resolve_image(settings.image)
            self._pod_constant_for(None)
        elif self.options.image:
            self.warn("--image is ignored with operator: bash (tasks run on the Airflow worker)")
        working_dir = settings.working_dir or os.getcwd()
        if not self.kpo and settings.working_dir is None:
            self.warn(f"operator: bash: tasks run in {working_dir} (set working_dir to change it)")
        self._check_maps()
        writer = emit.DagWriter(self, _Names(), self.kpo)
        ctx = emit.Context("    ", "", first=True)
        writer.graph(self.graph, ctx, None)
        text = source.dag_file(self, settings, writer.lines, working_dir, self._scripts())
        return RenderResult(text, self.warnings)

    def validate(self, text: str) -> None:
        """``--validate``: Airflow's own DagBag imports the file (needs ``[airflow]``)."""
        from magnus_render.renderers.airflow.dagbag import import_errors

        errors = import_errors(text, Path(self.pipeline.file).stem)
        if errors:
            raise MagnusError("Airflow cannot import the rendered DAG:\n" + errors)

    # -- parts used by the writer ---------------------------------------------------------
    def pod_constant(self, node: Node) -> str | None:
        """The name of the pod settings constant of a step (KubernetesPodOperator only)."""
        if not self.kpo:
            return None
        chosen = node.overrides.get(self.name)
        if chosen is None:
            return None
        if chosen not in self.s.overrides:
            known = ", ".join(sorted(self.s.overrides)) or "none are defined"
            self.unsupported(
                node,
                f"overrides names {chosen!r}, which executor.config.overrides does not "
                f"define ({known})",
            )
        return self._pod_constant_for(chosen)

    def _pod_constant_for(self, override: str | None) -> str:
        found = self._pods.get(override)
        if found is None:
            found = "POD" if override is None else f"POD_{len(self._pods)}"
            self._pods[override] = found
            pod = self.s.pod_for(override)
            if pod.image is None:
                pod = pod.model_copy(update={"image": self.image})
            self._pod_bodies.append((found, pod))
        return found

    def pods(self) -> list[tuple[str, KubernetesPod]]:
        return self._pod_bodies

    def _scripts(self) -> dict[str, str]:
        words = node_argv(self.options, "RUN", "NAME")[:-3]
        fans = {mode: fan_argv(self.options, "RUN", "NAME", mode)[:-3] for mode in ("out", "in")}
        magnus = ["magnus"] if self.kpo else list(self.s.magnus_command)
        return emit.scripts(magnus, words, fans, self.kpo)

    # -- checks ---------------------------------------------------------------------------
    def _check_text(self) -> None:
        """Airflow renders every templated field with Jinja. A step's name and an as-is
        text reach tasks inside ``{% raw %}`` (see emit.literal), which cannot hold
        ``{% endraw %}``; a map's name also travels through XCom into its iterations'
        environment, rendered again: refuse what would change on the way."""
        for node in self.graph.walk():
            texts = [node.internal_name]
            if node.as_is is not None:
                texts.extend(node.as_is.texts.values())
            for text in texts:
                if _ENDRAW.search(text):
                    self.unsupported(node, "Airflow's Jinja cannot pass on 'endraw' in a raw block")
            if node.kind is NodeKind.MAP and _JINJA.search(node.internal_name):
                self.unsupported(
                    node, "a map's name may not hold '{{', '{%' or '{#' (Airflow's Jinja)"
                )
        for path in (
            self.options.pipeline_file,
            self.options.config_file,
            self.options.parameters_file,
            *self.s.magnus_command,
        ):
            if path and _JINJA.search(path):
                raise MagnusError(f"{path!r}: Airflow would read '{{{{' or '{{%' as Jinja")

    def _check_stores(self) -> None:
        """Tasks run in separate processes, pods or machines: the run log store and the
        catalog must be shared. With the KubernetesPodOperator this is the rule of the other
        cluster targets (``renderers/shared_stores.py``); with ``bash`` the tasks may all
        run on this machine, so a local folder is only a warning."""
        if self.kpo:
            pods = [self.s.pod_for(None), *(self.s.pod_for(n) for n in self.s.overrides)]
            check_shared_stores(
                self.config,
                "an Airflow DAG (KubernetesPodOperator)",
                [[m.mount_path for m in pod.pvc_mounts if not m.read_only] for pod in pods],
                "mount a PersistentVolumeClaim in every task's pod with "
                "executor.config.pvc_mounts: [{claim_name: CLAIM, mount_path: /mnt/magnus}]",
            )
            return
        for section in ("run_log_store", "catalog"):
            kind = getattr(self.config, section).type
            if kind == "buffered":
                raise self.config.error(
                    section,
                    f"{section} 'buffered' lives in one process's memory; every "
                    "Airflow task is its own process: use file-system, chunked-fs or s3",
                )
            if kind not in _SHARED_STORES:
                self.warn(
                    f"{section} {kind!r}: operator: bash shares it only when every task runs "
                    "on one machine (or the folder is on a shared filesystem)"
                )

    def _check_maps(self) -> None:
        """Airflow expands a mapped task over at most ``core.max_map_length`` items: say
        so for a map whose items are known now (initial parameters) and exceed it."""
        from magnus_render.renderers.airflow.source import initial_parameters

        params = initial_parameters(self)
        for node in emit.walk_maps(self.graph):
            items = params.get(node.iterate_on or "")
            if isinstance(items, list) and len(items) > self.s.max_map_length:
                self.warn(
                    f"map {node.internal_name!r} iterates over {len(items)} items; Airflow "
                    f"expands at most max_map_length ({self.s.max_map_length}): raise "
                    "core.max_map_length in Airflow and this setting together"
                )
            nested = sorted(
                n.internal_name
                for n in node.branch.walk()
                if n.kind in (NodeKind.MAP, NodeKind.PARALLEL, NodeKind.DAG)
            )
            if nested:
                self.warn(
                    f"map {node.internal_name!r}: Airflow cannot expand a mapped group inside "
                    f"a mapped task, so {', '.join(repr(n) for n in nested)} run inside each "
                    "iteration's one task (magnus traverses that branch there)"
                )


__all__ = ["AirflowRenderer", "ConfigError"]
