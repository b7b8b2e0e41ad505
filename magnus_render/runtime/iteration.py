"""``magnus execute_single_node --iteration``: one map iteration's branch in one process.

An orchestrator that maps one task over a map's items (Airflow's dynamic task mapping)
runs each iteration this way: ``magnus fan --mode out`` opened the branches, each task
traverses the branch its ``--map-variable`` names, here, one node after another, and
``magnus fan --mode in`` decides the map step afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Node, NodeKind
from magnus_render.runtime.context import RunContext
from magnus_render.stores.models import Status


def run_iteration(
    ctx: RunContext,
    node: Node,
    variables: dict[str, Any],
    guarded: Callable[[RunContext, Callable[[], Status]], Status],
) -> int:
    """Exit code 0 when the iteration's branch succeeded, 1 when it failed."""
    from magnus_render.runtime.traverse import InProcessWalker

    if node.kind is not NodeKind.MAP or node.iterate_as not in variables:
        raise MagnusError(
            "--iteration needs a map step and a --map-variable holding its "
            f"{node.iterate_as or 'iterate_as'!r} value"
        )
    # traversed in this process whatever executor the config names (a render target's,
    # whose settings are not an executor's): no executor, no executor settings
    walker = InProcessWalker(ctx)
    status = guarded(ctx, lambda: walker.execute_graph(node.branch, variables))
    return 0 if status is Status.SUCCESS else 1
