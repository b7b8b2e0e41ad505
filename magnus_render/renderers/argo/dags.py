"""One Argo DAG template per graph or branch, with magnus routing as ``depends``.

Every node becomes one task (a composite node three: ``<n>-fan-out``, the branches, and
the fan-in named after the node, which carries the node's outcome). For a node ``X``:

- ``X`` succeeded  = ``X.Succeeded`` (its fan-in's for a composite);
- ``X`` failed     = ``X.Failed || X.Errored`` (plus its fan-out's for a composite).

Each node's route (``Graph.route``) becomes ``depends`` clauses of its targets: success
adds ``X succeeded`` to ``next``'s (ORed with the other ways in), failure adds ``X
failed`` to ``on_failure``'s (the node's own, else the graph's fail node). Only nodes
reachable from ``start_at`` are emitted, so nothing runs as a stray root task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from magnus_render.contract.k8s_spec import literal
from magnus_render.contract.naming import UniqueNames
from magnus_render.pipeline.ir import Graph, Node, NodeKind, Route
from magnus_render.pipeline.route import reachable
from magnus_render.renderers.argo.templates import (
    ITEMS_OUTPUT,
    MAP_INPUT,
    Profile,
    TemplateFactory,
)
from magnus_render.renderers.base import Scope

#: the order of a task's keys in the output (fixed, for stable diffs)
_TASK_KEYS = ("name", "template", "depends", "withParam", "arguments")


@dataclass
class _Task:
    first: str  # the task that starts the node (receives its depends)
    last: str  # the task whose phase is the node's outcome
    fan_out: str | None = None

    def succeeded(self) -> str:
        return f"{self.last}.Succeeded"

    def failed(self) -> str:
        text = f"{self.last}.Failed || {self.last}.Errored"
        if self.fan_out is not None:
            text += f" || {self.fan_out}.Failed || {self.fan_out}.Errored"
        return text


@dataclass(eq=False)
class DagBuilder:
    """Builds the DAG templates of a graph and all its branches."""

    factory: TemplateFactory
    template_names: UniqueNames
    profile_of: Callable[[Node], Profile]
    map_parallelism: Callable[[Node], int | None]
    #: the walk of one graph (``Renderer.visit``: the renderer's emitters table)
    visit: Callable[[Scope, list[Node]], list[_Task]]
    dags: list[dict[str, Any]] = field(default_factory=list, init=False)
    #: the graph being built (innermost last): its task names and its tasks
    _frames: list[tuple[UniqueNames, list[dict[str, Any]]]] = field(
        default_factory=list, init=False
    )

    def dag_name(self, graph: Graph, root: bool) -> str:
        if root:
            return self.template_names.name(("dag", ""), "main")
        return self.template_names.name(("dag", graph.internal_name), f"dag-{graph.internal_name}")

    def build(self, scope: Scope) -> str:
        """Append the DAG template of the scope's graph (branches first) and return its
        name. Only nodes reachable from ``start_at`` are emitted, so nothing runs as a
        stray root task; each route becomes a ``depends`` clause of its target."""
        graph = scope.graph
        name = self.dag_name(graph, scope.root)
        slot = len(self.dags)  # parents before their branches in the output
        self.dags.append({})
        nodes = reachable(graph)
        tasks: list[dict[str, Any]] = []
        self._frames.append((UniqueNames(letter_first=True), tasks))
        try:
            handles = dict(zip((n.name for n in nodes), self.visit(scope, nodes), strict=True))
        finally:
            self._frames.pop()
        incoming: dict[str, list[str]] = {node.name: [] for node in nodes}
        for node in nodes:
            route = graph.route(node)
            if route.next is not None:
                incoming[route.next].append(handles[node.name].succeeded())
            if route.on_failure is not None:
                incoming[route.on_failure].append(handles[node.name].failed())
        fail_name = graph.fail_node.name
        fail_task = handles[fail_name].first if fail_name in handles else None
        by_name = {task["name"]: task for task in tasks}
        for node in nodes:
            clauses = incoming[node.name]
            if not clauses:
                continue
            depends = " || ".join(clauses)  # each clause is itself an OR of atoms
            if node.kind is NodeKind.SUCCESS and fail_task is not None:
                # the fail task is never a leaf, so the DAG's phase is the success task's
                # (or, when success is omitted, inherited from the failed fail task)
                depends = f"({depends}) && {fail_task}.Omitted"
            by_name[handles[node.name].first]["depends"] = depends
        tasks = [{k: task[k] for k in _TASK_KEYS if k in task} for task in tasks]
        template: dict[str, Any] = {"name": name}
        if scope.in_map:
            template["inputs"] = {"parameters": [{"name": "map-variable"}]}
        template["dag"] = {"tasks": tasks}
        self.dags[slot] = template
        return name

    # -- one node ----------------------------------------------------------------------
    def _args(
        self, internal_name: str | None, map_value: str | None, as_is: str | None = None
    ) -> dict[str, Any]:
        params = []
        if internal_name is not None:
            # the value lands in a container command (templates.py): $ doubled, see literal
            params.append({"name": "name", "value": literal(internal_name)})
        if map_value is not None:
            params.append({"name": "map-variable", "value": map_value})
        if as_is is not None:
            params.append({"name": "as-is", "value": as_is})
        return {"parameters": params}

    def leaf(self, node: Node, route: Route, scope: Scope, as_is: str | None = None) -> _Task:
        """A task, stub, success or fail node: one task on a shared container template;
        an as-is node with text (``as_is``, escaped) on the profile's as-is template."""
        names, tasks = self._frames[-1]
        own = names.name(("node", node.name), node.name)
        kind = "fail" if route.ends is NodeKind.FAIL else "node"
        if as_is is not None:
            kind = "as-is"
        mapped = scope.in_map
        tasks.append(
            {
                "name": own,
                "template": self.factory.get(self.profile_of(node), kind, mapped),
                "arguments": self._args(node.internal_name, MAP_INPUT if mapped else None, as_is),
            }
        )
        return _Task(own, own)

    def composite(self, node: Node, route: Route, scope: Scope) -> _Task:
        """A parallel, map or dag node: fan-out, its branches' DAGs, then the fan-in that
        carries the composite's outcome (its route)."""
        names, tasks = self._frames[-1]
        profile = self.profile_of(node)
        mapped = scope.in_map
        map_value = MAP_INPUT if mapped else None
        own = names.name(("node", node.name), node.name)
        out = names.name(("fan-out", node.name), f"{node.name}-fan-out")
        out_kind = "fan-out-items" if node.kind is NodeKind.MAP else "fan-out"
        tasks.append(
            {
                "name": out,
                "template": self.factory.get(profile, out_kind, mapped),
                "arguments": self._args(node.internal_name, map_value),
            }
        )
        branch_tasks = []
        for branch in node.branches:
            label = "iterations" if node.kind is NodeKind.MAP else branch.name
            task_name = names.name(("branch", node.name, branch.name), f"{node.name}-{label}")
            inner = scope.branch(node, branch)
            dag = self.build(inner)
            task: dict[str, Any] = {"name": task_name, "depends": f"{out}.Succeeded"}
            if node.kind is NodeKind.MAP:
                items = f"{{{{tasks.{out}.outputs.parameters.{ITEMS_OUTPUT}}}}}"
                limit = self.map_parallelism(node)
                if limit is None:
                    task["template"] = dag
                    task["withParam"] = items
                    task["arguments"] = self._args(None, "{{item}}")
                else:
                    task["template"] = self._limited(node, dag, limit)
                    task["arguments"] = {"parameters": [{"name": ITEMS_OUTPUT, "value": items}]}
            else:
                task["template"] = dag
                if inner.in_map:
                    task["arguments"] = self._args(None, map_value)
            tasks.append(task)
            branch_tasks.append(task_name)
        tasks.append(
            {
                "name": own,
                "template": self.factory.get(profile, "fan-in", mapped),
                "arguments": self._args(node.internal_name, map_value),
                "depends": " && ".join(
                    f"({b}.Succeeded || {b}.Failed || {b}.Errored || {b}.Skipped)"
                    for b in branch_tasks
                ),
            }
        )
        return _Task(out, own, fan_out=out)

    def _limited(self, node: Node, branch_dag: str, limit: int) -> str:
        """A DAG that runs a map's iterations at most ``limit`` at a time."""
        name = self.template_names.name(
            ("limit", node.internal_name), f"iterate-{node.internal_name}"
        )
        self.dags.append(
            {
                "name": name,
                "inputs": {"parameters": [{"name": ITEMS_OUTPUT}]},
                "parallelism": limit,
                "dag": {
                    "tasks": [
                        {
                            "name": "iteration",
                            "template": branch_dag,
                            "withParam": f"{{{{inputs.parameters.{ITEMS_OUTPUT}}}}}",
                            "arguments": self._args(None, "{{item}}"),
                        }
                    ]
                },
            }
        )
        return name
