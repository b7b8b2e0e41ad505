"""The branches of a composite node for one iteration: what ``fan_out`` opens and
``fan_in`` rolls up (a parallel's graphs, or one branch per item of a map)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Graph, Node, NodeKind, encode_map_value, resolve_name
from magnus_render.runtime import parameters
from magnus_render.runtime.context import RunContext


class FanOutError(MagnusError):
    """A composite cannot open its branches (e.g. iterate_on is not a list)."""

    exit_code = 1


@dataclass(frozen=True)
class Branch:
    """One branch to run: its graph, resolved name and map variable."""

    graph: Graph
    name: str
    map_variable: dict[str, Any]


def branches_of(
    ctx: RunContext, node: Node, map_variable: Mapping[str, Any] | None
) -> list[Branch]:
    """The branches of a composite for this iteration. A map's items are read from the
    parameters in scope; FanOutError when they are not a list."""
    map_variable = dict(map_variable or {})
    resolved = resolve_name(node.internal_name, map_variable)
    if node.kind is not NodeKind.MAP:
        return [Branch(g, f"{resolved}.{g.name}", map_variable) for g in node.branches]
    params = parameters.scope(ctx.store, ctx.run_id, resolved, map_variable)
    where = f" ({node.source})" if node.source else ""
    if node.iterate_on not in params:
        raise FanOutError(
            f"map {resolved!r}: iterate_on parameter {node.iterate_on!r} is not set{where}"
        )
    items = params[node.iterate_on]
    if not isinstance(items, list):
        raise FanOutError(
            f"map {resolved!r}: iterate_on parameter {node.iterate_on!r} must be a list, "
            f"got {type(items).__name__}{where}"
        )
    branches = []
    seen: set[str] = set()
    for value in items:
        name = f"{resolved}.{encode_map_value(value)}"
        if name in seen:
            raise FanOutError(f"map {resolved!r}: item {value!r} appears twice{where}")
        seen.add(name)
        assert node.iterate_as is not None
        branches.append(Branch(node.branch, name, {**map_variable, node.iterate_as: value}))
    return branches
