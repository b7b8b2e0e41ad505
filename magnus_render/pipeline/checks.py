"""Checks of one graph's wiring: start, next/on_failure targets, terminals, cycles, reach.

All walks are iterative and linear in the number of nodes, so a 100,000-step pipeline is
checked as easily as a small one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping

from magnus_render.errors import Diagnostic
from magnus_render.pipeline.ir import FORBIDDEN_NAME_CHARS, MAP_PLACEHOLDER, Node, NodeKind

LineOf = Callable[[str, str | None], int | None]

#: ``start_at`` of a graph that has no such key (reported by the builder already)
MISSING: object = object()


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]+")


def name_problem(name: object) -> str | None:
    """Why a step or branch name is not allowed, or None when it is fine."""
    if isinstance(name, str) and _PLAIN_NAME.fullmatch(name):
        return None
    if not isinstance(name, str):
        return f"name {name!r} must be a string"
    if not name:
        return "name must not be empty"
    bad = sorted(set(name) & FORBIDDEN_NAME_CHARS)
    if bad:
        chars = " or ".join(repr(c) for c in bad)
        return f"name {name!r} must not contain {chars} (they separate parts of internal names)"
    if MAP_PLACEHOLDER in name:
        return f"name {name!r} must not contain {MAP_PLACEHOLDER!r} (the map placeholder)"
    if name != name.strip() or any(ord(c) < 32 for c in name):
        return f"name {name!r} must not start or end with spaces or hold control characters"
    return None


def check_graph(
    label: str,
    start_at: object,
    nodes: Mapping[str, Node],
    file: str,
    line_of: LineOf,
    graph_line: int | None,
    placeholders: frozenset[str] = frozenset(),
    kinds_known: bool = True,
) -> list[Diagnostic]:
    """Diagnostics (errors and warnings) for one graph; ``label`` names it in messages.

    ``placeholders`` name nodes standing in for steps that failed to build: their edges are
    checked but not a missing ``next``, and when some step's kind is unknown
    (``kinds_known`` false) the success/fail count is skipped, so an error already reported
    for a step does not cascade into misleading ones.
    """
    found: list[Diagnostic] = []

    def error(message: str, line: int | None) -> None:
        found.append(Diagnostic(message, file, line))

    names = list(nodes)
    if start_at is not MISSING and not isinstance(start_at, str):
        error(
            f"start_at must name a step of {label}, got {start_at!r}",
            line_of("", "start_at") or graph_line,
        )
    elif isinstance(start_at, str) and start_at not in nodes:
        error(
            f"start_at names {start_at!r}, which is not a step of {label}"
            + suggest(start_at, names),
            line_of("", "start_at") or graph_line,
        )

    for kind in (NodeKind.SUCCESS, NodeKind.FAIL) if kinds_known else ():
        of_kind = [n.name for n in nodes.values() if n.kind is kind]
        if len(of_kind) != 1:
            what = "none" if not of_kind else f"{len(of_kind)} ({', '.join(of_kind)})"
            first = of_kind[1] if of_kind else ""
            line = line_of(first, None if of_kind else "steps") or graph_line
            error(f"{label} must have exactly one {kind.value} node, found {what}", line)

    edges: dict[str, list[str]] = {}
    for node in nodes.values():
        targets: list[str] = []
        if not node.kind.is_terminal and node.next_node is None and node.name not in placeholders:
            error(
                f"step {node.name!r} has no 'next' (every non-terminal step needs one)",
                line_of(node.name, None),
            )
        for field, target in (("next", node.next_node), ("on_failure", node.on_failure)):
            if target is None:
                continue
            if target not in nodes:
                error(
                    f"step {node.name!r}: {field} names {target!r}, which is not a step of "
                    f"{label}" + suggest(target, names),
                    line_of(node.name, field),
                )
            else:
                targets.append(target)
        edges[node.name] = targets

    found.extend(_cycles(label, edges, nodes, file, line_of))
    if isinstance(start_at, str) and start_at in nodes:
        reached = _reachable(start_at, edges)
        for node in nodes.values():
            if node.name not in reached and node.kind is not NodeKind.FAIL:
                found.append(
                    Diagnostic(
                        f"step {node.name!r} of {label} is unreachable from {start_at!r}",
                        file,
                        line_of(node.name, None),
                        severity="warning",
                    )
                )
    return found


def _cycles(
    label: str,
    edges: dict[str, list[str]],
    nodes: Mapping[str, Node],
    file: str,
    line_of: LineOf,
) -> list[Diagnostic]:
    """Report the first cycle found by an iterative depth-first search (white/grey/black),
    at the line of the edge (``next`` or ``on_failure``) that closes it."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in edges:
        if root in state:
            continue
        path = [root]
        iters = [iter(edges[root])]
        state[root] = 1
        while iters:
            target = next(iters[-1], None)
            if target is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            seen = state.get(target)
            if seen == 1:
                cycle = [*path[path.index(target) :], target]
                closing = "next" if nodes[path[-1]].next_node == target else "on_failure"
                return [
                    Diagnostic(
                        f"cycle in {label}: {' -> '.join(cycle)} (pipelines must be acyclic)",
                        file,
                        line_of(path[-1], closing),
                    )
                ]
            if seen is None:
                state[target] = 1
                path.append(target)
                iters.append(iter(edges.get(target, ())))
    return []


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    stack = [start]
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen
