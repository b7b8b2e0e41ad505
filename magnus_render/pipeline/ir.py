"""The intermediate representation: immutable graphs of nodes with stable internal names.

Everything after the front end (runtime, renderers, run log) speaks only this module's
types. An internal name is the dotted path from the root graph:

- a step of the root graph: ``train``
- a step of a parallel branch: ``par.branch_a.step``
- a step inside a map branch: ``each.{map}.train`` (``{map}`` is replaced, in order, by
  the encoded iteration values when the step runs; see :func:`resolve_name`)
- a step of an included dag: ``inc.dag.step``

Step names may not contain ``.`` or ``%``, so a name splits on ``.`` unambiguously and map
values are percent-encoded into one segment: the resolved name is reversible.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote

MAP_PLACEHOLDER = "{map}"
DAG_BRANCH_NAME = "dag"
FORBIDDEN_NAME_CHARS = frozenset(".%")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class NodeKind(str, Enum):
    TASK = "task"
    STUB = "stub"
    AS_IS = "as-is"
    SUCCESS = "success"
    FAIL = "fail"
    PARALLEL = "parallel"
    MAP = "map"
    DAG = "dag"

    @property
    def is_terminal(self) -> bool:
        return self in (NodeKind.SUCCESS, NodeKind.FAIL)

    @property
    def is_composite(self) -> bool:
        return self in (NodeKind.PARALLEL, NodeKind.MAP, NodeKind.DAG)


class CommandType(str, Enum):
    PYTHON = "python"
    SHELL = "shell"
    NOTEBOOK = "notebook"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a node was defined, for error messages."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    get: tuple[str, ...] = ()
    put: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskSpec:
    command: str
    command_type: CommandType = CommandType.PYTHON
    notebook_output_path: str | None = None
    optional_ploomber_args: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


#: the key of an as-is node's text for every target its mapping does not name
AS_IS_DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class AsIsSpec:
    """An as-is node's ``render_string`` per target (``default``: any other target) and its
    ``command``, which magnus accepts and never runs."""

    texts: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    command: str | None = None

    def text_for(self, target: str) -> str | None:
        """The text a rendered ``target`` runs, or None: that target renders a stub."""
        return self.texts.get(target, self.texts.get(AS_IS_DEFAULT))


@dataclass(frozen=True, slots=True)
class Node:
    """One step. Composite nodes (parallel, map, dag) own their branch graphs."""

    kind: NodeKind
    name: str
    internal_name: str
    next_node: str | None = None
    on_failure: str | None = None
    task: TaskSpec | None = None
    as_is: AsIsSpec | None = None
    catalog: CatalogSpec | None = None
    max_attempts: int = 1
    overrides: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    branches: tuple[Graph, ...] = ()
    iterate_on: str | None = None
    iterate_as: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    source: Source | None = field(default=None, compare=False)

    @property
    def branch(self) -> Graph:
        """The single branch of a map or dag node."""
        if self.kind not in (NodeKind.MAP, NodeKind.DAG):
            raise TypeError(f"{self.kind.value} node {self.name!r} has no single branch")
        return self.branches[0]

    @property
    def in_map_depth(self) -> int:
        """How many maps enclose this node (number of placeholders in its name)."""
        return self.internal_name.count(MAP_PLACEHOLDER)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a run goes after one node: magnus's routing, decided here once for the local
    executor and every target (each only spells it in its own language).

    - task, stub, as-is: exit 0 goes to ``next``; exit 1 to ``on_failure``, which is the
      node's own ``on_failure`` or else its graph's fail node (``to_fail_node`` says the
      failure lands on the fail node, either way).
    - parallel, map, dag (``fans_out``): ``fan --mode out`` opens the step, every branch
      runs to its own terminal node, and the composite's own ``fan --mode in`` decides
      its outcome, routed like a task's; a failed fan-out routes to ``on_failure`` too.
    - success, fail (``ends`` is the graph's status): the graph ends; in a branch the
      composite named ``returns_to`` rolls it up with its fan-in, in the root the run ends.
    """

    node: Node
    next: str | None
    on_failure: str | None
    to_fail_node: bool
    ends: NodeKind | None
    returns_to: str | None

    @property
    def fans_out(self) -> bool:
        return self.node.kind.is_composite

    @property
    def targets(self) -> tuple[str, ...]:
        """The nodes this one may lead to, ``next`` first, each once."""
        if self.next is None or self.next == self.on_failure:
            return () if self.on_failure is None else (self.on_failure,)
        return (self.next,) if self.on_failure is None else (self.next, self.on_failure)


@dataclass(frozen=True, slots=True)
class Graph:
    """A graph or branch: nodes in definition order, entered at ``start_at``."""

    start_at: str
    nodes: Mapping[str, Node]
    name: str = ""
    internal_name: str = ""
    description: str = ""
    source: Source | None = field(default=None, compare=False)
    #: routes computed so far, by node name (a cache: the graph itself never changes)
    _routes: dict[str, Route] = field(default_factory=dict, init=False, repr=False, compare=False)

    def route(self, node: Node) -> Route:
        """Where the run goes after ``node`` of this graph (see :class:`Route`)."""
        routes = self._routes
        if not routes:
            routes.update(self._all_routes())  # one update: threads see none or all
        found = routes.get(node.name)
        if found is None or found.node is not node:
            raise KeyError(f"{node.internal_name!r} is not a node of this graph")
        return found

    def _all_routes(self) -> dict[str, Route]:
        """Every node's route; the fail node is found by one scan, not one per node."""
        fail = next((n.name for n in self.nodes.values() if n.kind is NodeKind.FAIL), None)
        parent = parent_graph_name(self.internal_name) or None
        routes = {}
        for node in self.nodes.values():
            if node.kind.is_terminal:
                routes[node.name] = Route(node, None, None, False, node.kind, parent)
            else:
                failure = node.on_failure or fail
                to_fail = failure is not None and failure == fail
                routes[node.name] = Route(node, node.next_node, failure, to_fail, None, None)
        return routes

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        return self.nodes[name]

    @property
    def success_node(self) -> Node:
        return next(n for n in self.nodes.values() if n.kind is NodeKind.SUCCESS)

    @property
    def fail_node(self) -> Node:
        return next(n for n in self.nodes.values() if n.kind is NodeKind.FAIL)

    def walk(self) -> Iterator[Node]:
        """Every node of this graph and of all nested branches, depth first, in order."""
        stack: list[Iterator[Node]] = [iter(self.nodes.values())]
        while stack:
            node = next(stack[-1], None)
            if node is None:
                stack.pop()
                continue
            yield node
            for branch in reversed(node.branches):
                stack.append(iter(branch.nodes.values()))

    def walk_graphs(self) -> Iterator[Graph]:
        """This graph and every nested branch graph, depth first."""
        stack: list[Graph] = [self]
        while stack:
            graph = stack.pop()
            yield graph
            for node in reversed(list(graph.nodes.values())):
                stack.extend(reversed(node.branches))

    def find(self, internal_name: str) -> Node:
        """The node with this (unresolved) internal name; KeyError if there is none."""
        graph = self
        parts = internal_name.split(".")
        i = 0
        while True:
            node = graph.nodes[parts[i]]
            i += 1
            if i == len(parts):
                return node
            branch_name = parts[i]
            i += 1
            graph = _branch_by_name(node, branch_name)
            if i == len(parts):
                raise KeyError(internal_name)

    def find_graph(self, internal_branch_name: str) -> Graph:
        """The branch graph with this internal name ('' is the root graph)."""
        if not internal_branch_name:
            return self
        parts = internal_branch_name.split(".")
        if len(parts) % 2:
            raise KeyError(internal_branch_name)
        graph = self
        for i in range(0, len(parts), 2):
            graph = _branch_by_name(graph.nodes[parts[i]], parts[i + 1])
        return graph


def _branch_by_name(node: Node, branch_name: str) -> Graph:
    for branch in node.branches:
        if branch.name == branch_name:
            return branch
    raise KeyError(f"{node.internal_name}.{branch_name}")


def join_name(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def parent_graph_name(internal_name: str) -> str:
    """The internal name of the graph that holds this node ('' for the root graph)."""
    return internal_name.rpartition(".")[0]


#: printable ASCII kept as is in a map value's segment (letters, digits and '_.-~' are
#: always kept by quote; '.' is encoded afterwards); everything else is percent-encoded
_SEGMENT_SAFE = " !\"#$&'()*+,:;<=>?@[\\]^_`|~-"


def encode_map_value(value: Any) -> str:
    """One name segment for a map value: strings as they are, other JSON as JSON text.

    '.' (the separator), '%' (the escape), '/', braces (so no value can spell the
    ``{map}`` placeholder), control characters and non-ASCII are percent-encoded, so the
    segment splits cleanly and :func:`decode_map_value` gives the text back exactly.
    """
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return quote(text, safe=_SEGMENT_SAFE, errors="surrogatepass").replace(".", "%2E")


def decode_map_value(segment: str) -> str:
    """The text a segment encodes (JSON text for a non-string value)."""
    return unquote(segment, errors="surrogatepass")


def resolve_name(internal_name: str, map_variable: Mapping[str, Any] | None) -> str:
    """Replace each ``{map}`` placeholder, outermost first, with its iteration's value.

    Placeholders without a value (fewer values than maps) stay as they are.
    """
    if not map_variable or MAP_PLACEHOLDER not in internal_name:
        return internal_name
    parts = internal_name.split(MAP_PLACEHOLDER)
    values = [encode_map_value(v) for v in list(map_variable.values())[: len(parts) - 1]]
    values += [MAP_PLACEHOLDER] * (len(parts) - 1 - len(values))
    out = [parts[0]]
    for value, part in zip(values, parts[1:], strict=True):
        out += (value, part)
    return "".join(out)


def freeze(value: Any) -> Any:
    """Read-only view of nested mappings/lists so the IR cannot be mutated by accident."""
    if isinstance(value, Mapping):
        if not value:
            return _EMPTY
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value
