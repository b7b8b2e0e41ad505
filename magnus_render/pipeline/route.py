"""Orders of a graph's nodes that follow its routes (:meth:`Graph.route`).

Targets that cannot jump backwards (a bash state machine whose step index only grows) need
the nodes in an order where every route points forward; targets that must not emit what
never runs (an Argo DAG task without ``depends`` would start at once) need only the nodes
the start reaches. Both are decided from the one routing answer, here.
"""

from __future__ import annotations

import heapq

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Graph, Node


def reachable(graph: Graph) -> list[Node]:
    """Nodes reachable from ``start_at`` (the fail node through failure routes), in
    definition order."""
    seen = {graph.start_at}
    stack = [graph.start_at]
    while stack:
        for target in graph.route(graph.nodes[stack.pop()]).targets:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return [node for node in graph if node.name in seen]


def topological(graph: Graph) -> list[Node]:
    """The graph's nodes ordered so every route points forward; ties keep definition
    order, so the order is deterministic. Graphs are acyclic (the front end checks,
    on_failure edges included)."""
    nodes = list(graph)
    position = {node.name: i for i, node in enumerate(nodes)}
    targets = [[position[t] for t in graph.route(node).targets] for node in nodes]
    incoming = [0] * len(nodes)
    for out in targets:
        for t in out:
            incoming[t] += 1
    ready = [i for i, n in enumerate(incoming) if n == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for t in targets[i]:
            incoming[t] -= 1
            if incoming[t] == 0:
                heapq.heappush(ready, t)
    if len(order) != len(nodes):  # only a cyclic graph gets here; the front end refuses those
        raise MagnusError(f"graph {graph.internal_name or '(root)'!r} has a cycle")
    return order
