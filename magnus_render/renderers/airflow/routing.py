"""Routes of one graph as Airflow sees them: which outcome of which step leads where,
read from the IR's shared routing (:meth:`Graph.route`, the one the local executor and
every target follow). A non-terminal step has two routes: ``succeeded`` to its ``next``
step and ``failed`` to its ``on_failure`` step, else to its graph's fail node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from magnus_render.pipeline.ir import Graph

Outcome = Literal["succeeded", "failed"]


def routes(graph: Graph) -> Iterator[tuple[str, Outcome, str]]:
    """(step, outcome, target step) for every route of ``graph``, in definition order."""
    for node in graph:
        route = graph.route(node)
        if route.next is not None:
            yield node.name, "succeeded", route.next
        if route.on_failure is not None:
            yield node.name, "failed", route.on_failure
