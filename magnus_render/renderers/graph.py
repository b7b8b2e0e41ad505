"""Pictures of the IR: Mermaid flowcharts and Graphviz dot, branches as nested subgraphs."""

from __future__ import annotations

import json
from typing import ClassVar

from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.base import Renderer, RenderResult

_MERMAID_SHAPES = {
    NodeKind.TASK: ('["', '"]'),
    NodeKind.STUB: ('["', '"]'),
    NodeKind.AS_IS: ('["', '"]'),
    NodeKind.SUCCESS: ('(["', '"])'),
    NodeKind.FAIL: ('(["', '"])'),
    NodeKind.PARALLEL: ('{{"', '"}}'),
    NodeKind.MAP: ('{{"', '"}}'),
    NodeKind.DAG: ('[["', '"]]'),
}
_DOT_SHAPES = {
    NodeKind.TASK: "box",
    NodeKind.STUB: "box",
    NodeKind.AS_IS: "box",
    NodeKind.SUCCESS: "doublecircle",
    NodeKind.FAIL: "doubleoctagon",
    NodeKind.PARALLEL: "hexagon",
    NodeKind.MAP: "hexagon",
    NodeKind.DAG: "box3d",
}


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: '#', quotes and angle brackets as entities."""
    for char, entity in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, entity)
    return text


def _label(node: Node) -> str:
    if node.kind is NodeKind.TASK and node.task is not None:
        return f"{node.name} ({node.task.command_type.value})"
    if node.kind is NodeKind.MAP:
        return f"{node.name} (map over {node.iterate_on} as {node.iterate_as})"
    return f"{node.name} ({node.kind.value})"


class _GraphPicture(Renderer):
    """Shared walk: assign stable ids in definition order, then emit nodes and edges."""

    def ids(self) -> dict[str, str]:
        return {node.internal_name: f"n{i}" for i, node in enumerate(self.graph.walk())}

    def edges(self, graph: Graph, ids: dict[str, str]) -> list[tuple[str, str, str]]:
        """(from id, to id, kind) with kind one of next, on_failure, branch."""
        found: list[tuple[str, str, str]] = []
        for node in graph:
            prefix = node.internal_name.rpartition(".")[0]
            for kind, target in (("next", node.next_node), ("on_failure", node.on_failure)):
                if target is not None:
                    target_name = f"{prefix}.{target}" if prefix else target
                    found.append((ids[node.internal_name], ids[target_name], kind))
            for branch in node.branches:
                start = f"{branch.internal_name}.{branch.start_at}"
                found.append((ids[node.internal_name], ids[start], "branch"))
        return found


class MermaidRenderer(_GraphPicture):
    name: ClassVar[str] = "mermaid"
    description: ClassVar[str] = "Mermaid flowchart of the pipeline"

    def render(self) -> RenderResult:
        ids = self.ids()
        lines = ["flowchart TD"]
        self._graph(self.graph, ids, lines, 1)
        return RenderResult("\n".join(lines) + "\n")

    def _graph(self, graph: Graph, ids: dict[str, str], lines: list[str], depth: int) -> None:
        pad = "    " * depth
        for node in graph:
            left, right = _MERMAID_SHAPES[node.kind]
            text = _mermaid_text(_label(node))
            lines.append(f"{pad}{ids[node.internal_name]}{left}{text}{right}")
            for index, branch in enumerate(node.branches):
                title = _mermaid_text(f"{node.name}: {branch.name}")
                lines.append(f'{pad}subgraph {ids[node.internal_name]}_b{index}["{title}"]')
                self._graph(branch, ids, lines, depth + 1)
                lines.append(f"{pad}end")
        for source, target, kind in self.edges(graph, ids):
            arrow = {"next": "-->", "on_failure": "-. on_failure .->", "branch": "==>"}[kind]
            lines.append(f"{pad}{source} {arrow} {target}")


class DotRenderer(_GraphPicture):
    name: ClassVar[str] = "dot"
    description: ClassVar[str] = "Graphviz dot of the pipeline"

    def render(self) -> RenderResult:
        ids = self.ids()
        lines = ["digraph pipeline {", "    rankdir=TB;", '    node [fontname="Helvetica"];']
        self._graph(self.graph, ids, lines, 1)
        lines.append("}")
        return RenderResult("\n".join(lines) + "\n")

    def _graph(self, graph: Graph, ids: dict[str, str], lines: list[str], depth: int) -> None:
        pad = "    " * depth
        for node in graph:
            label = json.dumps(_label(node), ensure_ascii=False)
            lines.append(
                f"{pad}{ids[node.internal_name]} [label={label}, shape={_DOT_SHAPES[node.kind]}];"
            )
            for index, branch in enumerate(node.branches):
                title = json.dumps(f"{node.name}: {branch.name}", ensure_ascii=False)
                lines.append(f"{pad}subgraph cluster_{ids[node.internal_name]}_b{index} {{")
                lines.append(f"{pad}    label={title};")
                self._graph(branch, ids, lines, depth + 1)
                lines.append(f"{pad}}}")
        for source, target, kind in self.edges(graph, ids):
            style = {
                "next": "",
                "on_failure": ' [style=dashed, label="on_failure"]',
                "branch": " [style=bold]",
            }[kind]
            lines.append(f"{pad}{source} -> {target}{style};")
