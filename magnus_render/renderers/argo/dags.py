"""One Argo DAG template per graph or branch, with magnus routing as ``depends``.

Every node becomes one task (a composite node three: ``<n>-fan-out``, the branches, and
the fan-in named after the node, which carries the node's outcome). For a node ``X``:

- ``X`` succeeded  = ``X.Succeeded`` (its fan-in's for a composite);
- ``X`` failed     = ``X.Failed || X.Errored`` (plus its fan-out's for a composite).

A ``next`` edge adds ``X succeeded`` to the target's ``depends`` (ORed with the other
ways in); an ``on_failure`` edge adds ``X failed``; a node without ``on_failure`` routes
``X failed`` to the graph's fail node, like the local executor. Only nodes reachable
from ``start_at`` are emitted, so nothing runs as a stray root task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from magnus_render.contract.k8s_spec import literal
from magnus_render.contract.naming import UniqueNames
from magnus_render.pipeline.ir import MAP_PLACEHOLDER, Graph, Node, NodeKind
from magnus_render.renderers.argo.templates import (
    ITEMS_OUTPUT,
    MAP_INPUT,
    Profile,
    TemplateFactory,
)

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


def reachable(graph: Graph) -> list[Node]:
    """Nodes reachable from ``start_at`` (the fail node through implicit failure edges)."""
    seen = {graph.start_at}
    stack = [graph.start_at]
    fail_name = graph.fail_node.name
    while stack:
        node = graph.nodes[stack.pop()]
        if node.kind.is_terminal:
            continue
        targets = [node.next_node, node.on_failure or fail_name]
        for target in targets:
            if target is not None and target not in seen:
                seen.add(target)
                stack.append(target)
    return [node for node in graph if node.name in seen]


class DagBuilder:
    """Builds the DAG templates of a graph and all its branches."""

    def __init__(
        self,
        factory: TemplateFactory,
        template_names: UniqueNames,
        profile_of: Callable[[Node], Profile],
        map_parallelism: Callable[[Node], int | None],
        emit: Callable[..., _Task] | None = None,
    ) -> None:
        self.factory = factory
        self.template_names = template_names
        self.profile_of = profile_of
        self.map_parallelism = map_parallelism
        #: node -> its tasks; the renderer's dispatch table (leaf or composite) by default
        self.emit = emit or (
            lambda node, *a: (self.composite if node.kind.is_composite else self.leaf)(node, *a)
        )
        self.dags: list[dict[str, Any]] = []

    def dag_name(self, graph: Graph, root: bool) -> str:
        if root:
            return self.template_names.name(("dag", ""), "main")
        return self.template_names.name(("dag", graph.internal_name), f"dag-{graph.internal_name}")

    def build(self, graph: Graph, root: bool = False) -> str:
        """Append the DAG template of ``graph`` (branches first) and return its name."""
        name = self.dag_name(graph, root)
        slot = len(self.dags)  # parents before their branches in the output
        self.dags.append({})
        mapped = MAP_PLACEHOLDER in graph.internal_name
        names = UniqueNames(letter_first=True)
        nodes = reachable(graph)
        tasks: list[dict[str, Any]] = []
        handles: dict[str, _Task] = {}
        for node in nodes:
            handles[node.name] = self.emit(node, names, mapped, tasks)
        incoming: dict[str, list[str]] = {node.name: [] for node in nodes}
        fail_name = graph.fail_node.name
        for node in nodes:
            if node.kind.is_terminal:
                continue
            if node.next_node is not None:
                incoming[node.next_node].append(handles[node.name].succeeded())
            incoming[node.on_failure or fail_name].append(handles[node.name].failed())
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
        if mapped:
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

    def leaf(
        self,
        node: Node,
        names: UniqueNames,
        mapped: bool,
        tasks: list[dict[str, Any]],
        as_is: str | None = None,
    ) -> _Task:
        """A task, stub, success or fail node: one task on a shared container template;
        an as-is node with text (``as_is``, escaped) on the profile's as-is template."""
        own = names.name(("node", node.name), node.name)
        kind = "fail" if node.kind is NodeKind.FAIL else "node"
        if as_is is not None:
            kind = "as-is"
        tasks.append(
            {
                "name": own,
                "template": self.factory.get(self.profile_of(node), kind, mapped),
                "arguments": self._args(node.internal_name, MAP_INPUT if mapped else None, as_is),
            }
        )
        return _Task(own, own)

    def composite(
        self, node: Node, names: UniqueNames, mapped: bool, tasks: list[dict[str, Any]]
    ) -> _Task:
        """A parallel, map or dag node: fan-out, its branches' DAGs, then the fan-in."""
        profile = self.profile_of(node)
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
            dag = self.build(branch)
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
                if branch.internal_name.count(MAP_PLACEHOLDER):
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
