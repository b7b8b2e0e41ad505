"""Composite nodes (parallel, map, dag) of the pipeline builder: their branches as graphs.

A mixin of the builder in build.py, which walks the graphs: a branch is built by the
builder's ``_graph`` and a ``dag_definition`` file is loaded, hashed and inlined here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from magnus_render.errors import Diagnostic, PipelineError
from magnus_render.pipeline import spec
from magnus_render.pipeline.checks import name_problem, suggest
from magnus_render.pipeline.ir import (
    DAG_BRANCH_NAME,
    MAP_PLACEHOLDER,
    Graph,
    Node,
    NodeKind,
    join_name,
)
from magnus_render.pipeline.yaml_source import SourceMap, load_yaml_file

_TOP_LEVEL_KEYS = ("dag",)
DAG_KEYS = ("description", "start_at", "steps")


class StepAt(NamedTuple):
    """Where a composite step stands: its mapping, file, nesting depth and the fields every
    node has (``name``, ``internal_name``, ...), handed to each composite's builder."""

    raw: dict
    smap: SourceMap
    depth: int
    common: dict[str, Any]


class CompositeBuilder:
    """Builds composite nodes; collects problems in ``diagnostics`` like the builder."""

    diagnostics: list[Diagnostic]
    include_stack: list[Path]
    hasher: Any
    files: list[str]
    links: list[tuple[str, str]]
    #: the builder's (build.py): (raw, smap, internal_name, name, label, depth, allowed_keys)
    _graph: Callable[..., Graph | None]

    def error(self, message: str, smap: SourceMap, line: int | None) -> None:
        self.diagnostics.append(Diagnostic(message, smap.file, line))

    def _dag_mapping(self, data: Any, smap: SourceMap) -> dict | None:
        """The mapping under the top-level ``dag`` key, or None after reporting why not."""
        if not isinstance(data, dict):
            kind = "empty" if data is None else f"a {type(data).__name__}"
            self.error(f"a pipeline must be a mapping with a top-level 'dag', got {kind}", smap, 1)
            return None
        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                self.error(
                    f"unknown top-level key {key!r}{suggest(str(key), _TOP_LEVEL_KEYS)}"
                    " (a pipeline has only 'dag')",
                    smap,
                    smap.line_of(data, key),
                )
        if "dag" not in data:
            self.error("missing top-level 'dag'", smap, smap.line_of(data) or 1)
            return None
        dag = data["dag"]
        if not isinstance(dag, dict):
            self.error(
                "'dag' must be a mapping with start_at and steps", smap, smap.line_of(data, "dag")
            )
            return None
        return dag

    def _parallel(self, model: spec.ParallelModel, at: StepAt) -> Node | None:
        raw, smap, depth, common = at
        name, internal_name = common["name"], common["internal_name"]
        if not model.branches:
            self.error(
                f"parallel step {name!r} has no branches", smap, smap.line_of(raw, "branches")
            )
            return None
        branches: list[Graph] = []
        raw_branches = raw["branches"]
        for branch_name, raw_branch in model.branches.items():
            line = smap.line_of(raw_branches, branch_name)
            problem = name_problem(branch_name)
            if problem:
                self.error(f"branch {problem}", smap, line)
                continue
            graph = self._branch(
                raw_branches[branch_name],
                smap,
                join_name(internal_name, branch_name),
                branch_name,
                f"branch {branch_name!r} of {name!r}",
                depth,
                line,
            )
            if graph is not None:
                branches.append(graph)
            del raw_branch
        if len(branches) != len(model.branches):
            return None
        return Node(NodeKind.PARALLEL, branches=tuple(branches), **common)

    def _map(self, model: spec.MapModel, at: StepAt) -> Node | None:
        raw, smap, depth, common = at
        name, internal_name = common["name"], common["internal_name"]
        for key in ("iterate_on", "iterate_as"):
            value = getattr(model, key)
            if not value.isidentifier():
                self.error(
                    f"map step {name!r}: {key} must be a parameter name, got {value!r}",
                    smap,
                    smap.line_of(raw, key),
                )
        graph = self._branch(
            raw["branch"],
            smap,
            join_name(internal_name, MAP_PLACEHOLDER),
            MAP_PLACEHOLDER,
            f"the branch of map {name!r}",
            depth,
            smap.line_of(raw, "branch"),
        )
        if graph is None:
            return None
        return Node(
            NodeKind.MAP,
            branches=(graph,),
            iterate_on=model.iterate_on,
            iterate_as=model.iterate_as,
            **common,
        )

    def _dag(self, model: spec.DagModel, at: StepAt) -> Node | None:
        raw, smap, depth, common = at
        name, internal_name = common["name"], common["internal_name"]
        line = smap.line_of(raw, "dag_definition")
        if "\0" in model.dag_definition:  # the OS refuses it: a ValueError in resolve()
            self.error(f"dag step {name!r}: dag_definition contains a NUL byte", smap, line)
            return None
        path = (Path(smap.file).parent / model.dag_definition).resolve()
        if path in self.include_stack:
            chain = " -> ".join(p.name for p in [*self.include_stack, path])
            self.error(f"dag step {name!r}: include cycle {chain}", smap, line)
            return None
        if not path.is_file():
            self.error(
                f"dag step {name!r}: dag_definition {model.dag_definition!r} not found "
                f"(looked for {path})",
                smap,
                line,
            )
            return None
        try:
            data, inner_map = load_yaml_file(path)
        except PipelineError as exc:
            self.diagnostics.extend(exc.diagnostics)
            return None
        self.hasher.update(path.read_bytes())
        self.files.append(str(path))
        self.links.append((str(Path(smap.file).parent / model.dag_definition), str(path)))
        dag = self._dag_mapping(data, inner_map)
        if dag is None:
            return None
        self.include_stack.append(path)
        try:
            graph = self._graph(
                dag,
                inner_map,
                join_name(internal_name, DAG_BRANCH_NAME),
                DAG_BRANCH_NAME,
                f"the dag included by {name!r}",
                depth + 1,
                DAG_KEYS,
            )
        finally:
            self.include_stack.pop()
        if graph is None:
            return None
        return Node(NodeKind.DAG, branches=(graph,), **common)

    def _branch(
        self,
        raw: Any,
        smap: SourceMap,
        internal_name: str,
        name: str,
        label: str,
        depth: int,
        line: int | None,
    ) -> Graph | None:
        if not isinstance(raw, dict):
            self.error(f"{label} must be a mapping with start_at and steps", smap, line)
            return None
        return self._graph(raw, smap, internal_name, name, label, depth + 1, DAG_KEYS)
