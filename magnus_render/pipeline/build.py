"""Pipeline YAML -> validated IR graph, with every problem reported as file:line.

The builder collects all errors it can find in one pass (so a user fixes them together),
inlines ``dag_definition`` files relative to the including file, and reports include
cycles. Recursion happens only across nesting levels, which are capped; long chains of
steps are handled by loops.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from magnus_render.errors import Diagnostic, PipelineError
from magnus_render.pipeline import spec
from magnus_render.pipeline.checks import MISSING, check_graph, name_problem, suggest
from magnus_render.pipeline.ir import (
    DAG_BRANCH_NAME,
    MAP_PLACEHOLDER,
    AsIsSpec,
    CatalogSpec,
    CommandType,
    Graph,
    Node,
    NodeKind,
    Source,
    TaskSpec,
    freeze,
    join_name,
)
from magnus_render.pipeline.loaded import Pipeline
from magnus_render.pipeline.yaml_source import SourceMap, load_yaml_file, load_yaml_text

#: deeper nesting of branches than this is refused with a clear message
MAX_NESTING = 50

_TOP_LEVEL_KEYS = ("dag",)
_DAG_KEYS = ("description", "start_at", "steps")


def load_pipeline(path: str | Path) -> Pipeline:
    """Load, validate and build a pipeline file; raise PipelineError listing every error."""
    with _no_gc():
        return _Builder().build_file(Path(path))


def load_pipeline_text(text: str, file: str = "<pipeline>") -> Pipeline:
    """Same as :func:`load_pipeline` for text already in memory (includes resolve from cwd)."""
    with _no_gc():
        return _Builder().build_text(text, file)


def build_pipeline(data: Any, source_map: SourceMap, text: str) -> Pipeline:
    """Build data that was not parsed from YAML (the Python SDK makes it) through the very
    same checks; ``source_map`` gives each mapping's file and line, ``text`` is hashed."""
    with _no_gc():
        return _Builder().build_data(data, source_map, text)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Building makes a few objects per step and no cycles: GC passes only cost time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Builder:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.include_stack: list[Path] = []
        self.hasher = hashlib.sha256()
        self.files: list[str] = []

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
        return Pipeline(graph, file, self.hasher.hexdigest(), warnings, tuple(self.files))

    # -- helpers ----------------------------------------------------------------------
    def error(self, message: str, smap: SourceMap, line: int | None) -> None:
        self.diagnostics.append(Diagnostic(message, smap.file, line))

    def _warn_stub_typos(
        self, model: spec.StubModel, step_name: str, raw: dict, smap: SourceMap
    ) -> None:
        """A stub accepts any extra key (as magnus does), so a misspelt ``next`` would pass
        silently; an extra key close to a real field gets a warning with the suggestion."""
        fields = [f for f in spec.node_fields("stub") if f != "type"]
        for key in model.model_extra or {}:
            hint = suggest(str(key), fields)
            if hint:
                self.diagnostics.append(
                    Diagnostic(
                        f"stub step {step_name!r} ignores field {key!r}{hint}",
                        smap.file,
                        smap.line_of(raw, key),
                        severity="warning",
                    )
                )

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

    def _root_graph(self, data: Any, smap: SourceMap) -> Graph | None:
        self.files.append(smap.file)
        dag = self._dag_mapping(data, smap)
        if dag is None:
            return None
        return self._graph(dag, smap, "", "", "the pipeline", 0, _DAG_KEYS)

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
                placeholders[step_name] = _placeholder(step_name, raw_node)
                kinds_known = kinds_known and _kind_of(raw_node) is not None

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
            self._report_validation(exc, step_name, str(node_type), raw, smap, line)
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

        if isinstance(model, spec.TaskModel):
            if model.command_type != "notebook" and (
                model.notebook_output_path or model.optional_ploomber_args
            ):
                key = (
                    "notebook_output_path"
                    if model.notebook_output_path
                    else ("optional_ploomber_args")
                )
                self.error(
                    f"step {step_name!r}: {key} applies only to notebook tasks",
                    smap,
                    smap.line_of(raw, key),
                )
            if model.command_type == "python" and not _is_dotted_path(model.command):
                self.error(
                    f"step {step_name!r}: a python command must be 'module.function', "
                    f"got {model.command!r}",
                    smap,
                    smap.line_of(raw, "command"),
                )
            task = TaskSpec(
                command=model.command,
                command_type=_COMMAND_TYPES[model.command_type],
                notebook_output_path=model.notebook_output_path,
                optional_ploomber_args=freeze(model.optional_ploomber_args),
            )
            return Node(NodeKind.TASK, task=task, max_attempts=model.max_attempts, **common)
        if isinstance(model, spec.AsIsModel):
            if model.render_string is not None and model.command_config is not None:
                self.error(
                    f"as-is step {step_name!r}: give render_string either on the step or "
                    "under command_config, not both",
                    smap,
                    smap.line_of(raw, "command_config"),
                )
            as_is = AsIsSpec(freeze(model.texts()), model.command)
            return Node(NodeKind.AS_IS, as_is=as_is, **common)
        if isinstance(model, spec.StubModel):
            self._warn_stub_typos(model, step_name, raw, smap)
            return Node(NodeKind.STUB, extras=freeze(model.model_extra or {}), **common)
        if isinstance(model, spec.SuccessModel):
            return Node(NodeKind.SUCCESS, **common)
        if isinstance(model, spec.FailModel):
            return Node(NodeKind.FAIL, **common)
        if isinstance(model, spec.ParallelModel):
            return self._parallel(model, raw, smap, internal_name, depth, common)
        if isinstance(model, spec.MapModel):
            return self._map(model, raw, smap, internal_name, depth, common)
        if isinstance(model, spec.DagModel):
            return self._dag(model, raw, smap, internal_name, depth, common)
        raise AssertionError(f"unhandled node model {model_cls.__name__}")

    def _parallel(
        self,
        model: spec.ParallelModel,
        raw: dict,
        smap: SourceMap,
        internal_name: str,
        depth: int,
        common: dict[str, Any],
    ) -> Node | None:
        name = common["name"]
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

    def _map(
        self,
        model: spec.MapModel,
        raw: dict,
        smap: SourceMap,
        internal_name: str,
        depth: int,
        common: dict[str, Any],
    ) -> Node | None:
        name = common["name"]
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

    def _dag(
        self,
        model: spec.DagModel,
        raw: dict,
        smap: SourceMap,
        internal_name: str,
        depth: int,
        common: dict[str, Any],
    ) -> Node | None:
        name = common["name"]
        line = smap.line_of(raw, "dag_definition")
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
                _DAG_KEYS,
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
        return self._graph(raw, smap, internal_name, name, label, depth + 1, _DAG_KEYS)

    def _report_validation(
        self,
        exc: ValidationError,
        step_name: str,
        node_type: str,
        raw: dict,
        smap: SourceMap,
        step_line: int | None,
    ) -> None:
        fields = spec.node_fields(node_type)
        for err in exc.errors():
            loc = err["loc"]
            mapping, key = _locate(raw, loc)
            line = smap.line_of(mapping, key) if key is not None else smap.line_of(mapping)
            if err["type"] == "missing" and mapping is raw:
                line = step_line or line  # a missing field is missing from the step itself
            field_path = ".".join(str(p) for p in loc)
            if err["type"] == "extra_forbidden":
                hint = suggest(str(loc[-1]), fields) if len(loc) == 1 else ""
                message = f"unknown field {field_path!r} on {node_type} step {step_name!r}{hint}"
            elif err["type"] == "missing":
                message = f"{node_type} step {step_name!r} is missing required field {field_path!r}"
            elif loc and loc[-1] == "[key]":
                where = ".".join(str(p) for p in loc[:-2])
                message = (
                    f"{node_type} step {step_name!r}: {loc[-2]!r} under {where!r} must be a "
                    "string name"
                )
            else:
                shown = _shorten(err.get("input"))
                message = (
                    f"{node_type} step {step_name!r}: field {field_path!r}: "
                    f"{err['msg'].removeprefix('Value error, ').lower()} (got {shown})"
                )
            self.diagnostics.append(Diagnostic(message, smap.file, line))


_COMMAND_TYPES = {c.value: c for c in CommandType}
_KINDS = {t: NodeKind(t) for t in spec.NODE_MODELS}


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


def _kind_of(raw: Any) -> NodeKind | None:
    node_type = raw.get("type") if isinstance(raw, dict) else None
    return _KINDS.get(node_type) if isinstance(node_type, str) else None


def _placeholder(name: str, raw: Any) -> Node:
    """A stand-in for a step that failed to build, carrying whatever wiring it declares."""
    fields = raw if isinstance(raw, dict) else {}
    next_node = fields.get("next")
    on_failure = fields.get("on_failure")
    return Node(
        _kind_of(raw) or NodeKind.STUB,
        name=name,
        internal_name=name,
        next_node=next_node if isinstance(next_node, str) else None,
        on_failure=on_failure if isinstance(on_failure, str) else None,
    )


def _shorten(value: Any) -> str:
    """A repr short enough for one message line (a huge int cannot even be repr'd)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    try:
        shown = repr(value)
    except ValueError:
        return f"a {type(value).__name__}"
    return shown if len(shown) < 60 else shown[:57] + "..."


def _locate(raw: dict, loc: tuple) -> tuple[Any, Any]:
    """The innermost mapping on ``loc`` and the key within it, for a line number."""
    mapping: Any = raw
    key: Any = None
    parent: Any = None
    parent_key: Any = None
    for part in loc:
        if part == "[key]" and parent is not None:  # the key itself is wrong: its own line
            return parent, parent_key
        if isinstance(mapping, dict) and part in mapping:
            parent, parent_key = mapping, part
            key = part
            value = mapping[part]
            if not isinstance(value, dict):
                break
            mapping, key = value, None
        else:
            key = part if isinstance(mapping, dict) else key
            break
    return mapping, key


_DOTTED_PATH = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)+")


def _is_dotted_path(command: str) -> bool:
    return _DOTTED_PATH.fullmatch(command) is not None
