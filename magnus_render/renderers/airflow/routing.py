"""Routes of one graph as Airflow sees them: which outcome of which step leads where.

Kept in one small function so the shared IR walk (``Graph.route``), once it exists, can
replace it. A non-terminal step has two routes: ``succeeded`` to its ``next`` step and
``failed`` to its ``on_failure`` step, else to its graph's fail node.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from magnus_render.pipeline.ir import Graph

Outcome = Literal["succeeded", "failed"]


def routes(graph: Graph) -> Iterator[tuple[str, Outcome, str]]:
    """(step, outcome, target step) for every route of ``graph``, in definition order."""
    fail = graph.fail_node.name
    for node in graph:
        if node.kind.is_terminal:
            continue
        if node.next_node is not None:
            yield node.name, "succeeded", node.next_node
        yield node.name, "failed", node.on_failure or fail
