"""Walking a graph: the traversal and failure routing every executor shares.

Executors (:mod:`magnus_render.runtime.executors.base`) add where a node runs, their
settings (pydantic models) and their checks. ``magnus execute_single_node --iteration``
walks one map iteration's branch in its container with :class:`InProcessWalker` alone,
so a container never defines the executors' models (issue 18: start-up).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from magnus_render.pipeline.ir import Graph, Node, resolve_name
from magnus_render.runtime import interrupt, nodes
from magnus_render.runtime.context import RunContext
from magnus_render.stores.models import Status


class GraphWalker:
    """Traverses graphs; :meth:`run_node` says where one node runs."""

    ctx: RunContext

    def execute_graph(self, graph: Graph, map_variable: Mapping[str, Any] | None = None) -> Status:
        """Walk a graph from start_at along its routes (``Graph.route``: next on success,
        on_failure or the graph's fail node on failure) until a terminal node ran.
        Returns the graph's status."""
        map_variable = dict(map_variable or {})
        current = graph.start_at
        while True:
            interrupt.checkpoint()  # a signal that came during bookkeeping stops here
            node = graph.node(current)
            if node.kind.is_composite:
                status = self.execute_composite(node, map_variable)
            else:
                status = self.run_node(node, map_variable)
            route = graph.route(node)
            following = route.next if status is Status.SUCCESS else route.on_failure
            if following is None:  # a terminal node ended the graph
                break
            current = following
        name = resolve_name(graph.internal_name, map_variable)
        return nodes.graph_status(self.ctx, name)

    def execute_composite(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        try:
            branches = nodes.fan_out(self.ctx, node, map_variable)
        except nodes.FanOutError:
            return Status.FAIL
        self.run_branches(branches)
        return nodes.fan_in(self.ctx, node, map_variable)

    def run_branches(self, branches: Sequence[nodes.Branch]) -> None:
        """Traverse each branch (sequentially here; executors may run them in parallel)."""
        for branch in branches:
            self.execute_graph(branch.graph, branch.map_variable)

    @abstractmethod
    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        """Execute one non-composite node somewhere and return its status."""


class InProcessWalker(GraphWalker):
    """Runs every node in this process through the shared node-execution path."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        return nodes.execute_node(self.ctx, node, map_variable)
