"""Pipeline YAML -> validated IR graph, with every problem reported as file:line.

The builder collects all errors it can find in one pass (so a user fixes them together),
inlines ``dag_definition`` files relative to the including file, and reports include
cycles. Recursion happens only across nesting levels, which are capped; long chains of
steps are handled by loops.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from magnus_render.errors import Diagnostic, PipelineError
from magnus_render.pipeline import spec
from magnus_render.pipeline.checks import MISSING, check_graph, name_problem, suggest
from magnus_render.pipeline.composites import DAG_KEYS, CompositeBuilder, StepAt
from magnus_render.pipeline.ir import (
    CatalogSpec,
    Graph,
    Node,
    Source,
    freeze,
    join_name,
)
from magnus_render.pipeline.leaves import LEAF_MODELS, kind_of, leaf_node, placeholder
from magnus_render.pipeline.loaded import Pipeline
from magnus_render.pipeline.no_gc import no_gc
from magnus_render.pipeline.report import validation_diagnostics
from magnus_render.pipeline.yaml_source import SourceMap, load_yaml_file, load_yaml_text

#: deeper nesting of branches than this is refused with a clear message
MAX_NESTING = 50


def load_pipeline(path: str | Path) -> Pipeline:
    """Load, validate and build a pipeline file; raise PipelineError listing every error."""
    with no_gc():
        return _Builder().build_file(Path(path))


def load_pipeline_text(text: str, file: str = "<pipeline>") -> Pipeline:
    """Same as :func:`load_pipeline` for text already in memory (includes resolve from cwd)."""
    with no_gc():
        return _Builder().build_text(text, file)


def build_pipeline(data: Any, source_map: SourceMap, text: str) -> Pipeline:
    """Build data that was not parsed from YAML (the Python SDK makes it) through the very
    same checks; ``source_map`` gives each mapping's file and line, ``text`` is hashed."""
    with no_gc():
        return _Builder().build_data(data, source_map, text)


class _Builder(CompositeBuilder):
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.include_stack: list[Path] = []
        self.hasher = hashlib.sha256()
        self.files: list[str] = []
        self.links: list[tuple[str, str]] = []

    # -- entry points -----------------------------------------------------------------
    def build_file(self, path: Path) -> Pipeline:
        data, smap = load_yaml_file(path)
        self.hasher.update(path.read_bytes())
        self.include_stack.append(path.resolve())
        return self._finish(self._root_graph(data, smap), str(path))

    def build_text(self, text: str, file: str) -> Pipeline:
        data, smap = load_yaml_text(text, file)
        self.hasher.update(text.encode())
        return self._finish(self._root_graph(data, smap), file)

    def build_data(self, data: Any, smap: SourceMap, text: str) -> Pipeline:
        self.hasher.update(text.encode())
        return self._finish(self._root_graph(data, smap), smap.file)

    def _finish(self, graph: Graph | None, file: str) -> Pipeline:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if errors or graph is None:
            raise PipelineError.from_diagnostics(errors or [Diagnostic("invalid pipeline", file)])
        warnings = tuple(d for d in self.diagnostics if d.severity == "warning")
        files, links = tuple(self.files), tuple(self.links)
        return Pipeline(graph, file, self.hasher.hexdigest(), warnings, files, links)

    # -- helpers ----------------------------------------------------------------------
    def _root_graph(self, data: Any, smap: SourceMap) -> Graph | None:
        self.files.append(smap.file)
        dag = self._dag_mapping(data, smap)
        if dag is None:
            return None
        return self._graph(dag, smap, "", "", "the pipeline", 0, DAG_KEYS)

    # -- graphs -----------------------------------------------------------------------
    def _graph(
        self,
        raw: dict,
        smap: SourceMap,
        internal_name: str,
        name: str,
        label: str,
        depth: int,
        allowed_keys: tuple[str, ...],
    ) -> Graph | None:
        graph_line = smap.line_of(raw)
        if depth > MAX_NESTING:
            self.error(f"branches nested more than {MAX_NESTING} levels deep", smap, graph_line)
            return None
        for key in raw:
            if key not in allowed_keys:
                self.error(
                    f"unknown field {key!r} in {label}{suggest(str(key), allowed_keys)}",
                    smap,
                    smap.line_of(raw, key),
                )
        for key in ("start_at", "steps"):
            if key not in raw:
                self.error(f"{label} is missing {key!r}", smap, graph_line)
        steps = raw.get("steps")
        if steps is None:
            return None
        if not isinstance(steps, dict) or not steps:
            self.error(
                f"'steps' of {label} must be a non-empty mapping of step names to steps",
                smap,
                smap.line_of(raw, "steps"),
            )
            return None
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.error("description must be a string", smap, smap.line_of(raw, "description"))
            description = ""

        nodes: dict[str, Node] = {}
        # Steps that failed to build are stood in for by placeholders, so the wiring of
        # the rest of the graph is still checked and reported in the same run.
        placeholders: dict[str, Node] = {}
        kinds_known = True
        for step_name, raw_node in steps.items():
            line = smap.line_of(steps, step_name)
            problem = name_problem(step_name)
            node = None
            if problem:
                self.error(f"step {problem}", smap, line)
            else:
                node = self._node(step_name, raw_node, smap, internal_name, line, depth)
            if node is not None:
                nodes[step_name] = node
            elif isinstance(step_name, str):
                placeholders[step_name] = placeholder(step_name, raw_node)
                kinds_known = kinds_known and kind_of(raw_node) is not None

        def line_of(step: str, key: str | None) -> int | None:
            if not step:
                return smap.line_of(raw, key)
            raw_step = steps.get(step)
            if key is None or not isinstance(raw_step, dict):
                return smap.line_of(steps, step)
            return smap.line_of(raw_step, key)

        self.diagnostics.extend(
            check_graph(
                label,
                raw.get("start_at", MISSING),
                _in_order(steps, nodes, placeholders),
                smap.file,
                line_of,
                graph_line,
                frozenset(placeholders),
                kinds_known,
            )
        )
        return Graph(
            start_at=raw.get("start_at", ""),
            nodes=MappingProxyType(nodes),
            name=name,
            internal_name=internal_name,
            description=description,
            source=Source(smap.file, graph_line),
        )

    # -- nodes ------------------------------------------------------------------------
    def _node(
        self,
        step_name: str,
        raw: Any,
        smap: SourceMap,
        parent_internal: str,
        line: int | None,
        depth: int,
    ) -> Node | None:
        if not isinstance(raw, dict):
            self.error(f"step {step_name!r} must be a mapping with a 'type'", smap, line)
            return None
        node_type = raw.get("type")
        if node_type is None:
            self.error(
                f"step {step_name!r} has no 'type' (one of {', '.join(spec.NODE_MODELS)})",
                smap,
                line,
            )
            return None
        model_cls = spec.NODE_MODELS.get(node_type) if isinstance(node_type, str) else None
        if model_cls is None:
            self.error(
                f"step {step_name!r}: unknown node type {node_type!r}"
                f"{suggest(str(node_type), list(spec.NODE_MODELS))}",
                smap,
                smap.line_of(raw, "type"),
            )
            return None
        try:
            model = model_cls.model_validate(raw)
        except ValidationError as exc:
            self.diagnostics += validation_diagnostics(
                exc, step_name, str(node_type), raw, smap, line
            )
            return None

        internal_name = join_name(parent_internal, step_name)
        source = Source(smap.file, line)
        common: dict[str, Any] = {
            "name": step_name,
            "internal_name": internal_name,
            "next_node": getattr(model, "next", None),
            "on_failure": getattr(model, "on_failure", None),
            "overrides": freeze(getattr(model, "overrides", None) or {}),
            "source": source,
        }
        catalog = getattr(model, "catalog", None)
        if catalog is not None:
            common["catalog"] = CatalogSpec(tuple(catalog.get), tuple(catalog.put))

        if isinstance(model, LEAF_MODELS):
            return leaf_node(model, step_name, raw, smap, common, self.diagnostics)
        at = StepAt(raw, smap, depth, common)
        if isinstance(model, spec.ParallelModel):
            return self._parallel(model, at)
        if isinstance(model, spec.MapModel):
            return self._map(model, at)
        if isinstance(model, spec.DagModel):
            return self._dag(model, at)
        raise AssertionError(f"unhandled node model {model_cls.__name__}")


def _in_order(
    steps: dict, nodes: dict[str, Node], placeholders: dict[str, Node]
) -> dict[str, Node]:
    """Built nodes and placeholders together, in definition order (so is the report)."""
    if not placeholders:
        return nodes
    return {
        name: nodes[name] if name in nodes else placeholders[name]
        for name in steps
        if name in nodes or name in placeholders
    }
