"""SDK objects -> the mapping a pipeline YAML would hold, plus a SourceMap of Python lines.

The front end reads line numbers through :class:`SourceMap`; filling one with the lines
where the user made each step lets the same checks report ``pipeline.py:12: ...``. A
SourceMap names one file, so :class:`Numbering` can instead hand out one number per
location: after a failed build those numbers map each error back to its own file and
line, even for steps made in another module.
"""

from __future__ import annotations

import copy
from typing import Any

from magnus_render.errors import Diagnostic, PipelineError
from magnus_render.pipeline.yaml_source import SourceMap
from magnus_render.sdk.source import Location
from magnus_render.sdk.steps import Fail, Graph, Step, Success


class Numbering:
    """Line numbers for the SourceMap: the real lines, or one number per location."""

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self.locations: list[Location] = []

    def __call__(self, location: Location) -> int:
        if not self.exact:
            return location.line
        self.locations.append(location)
        return len(self.locations)

    def relocate(self, diagnostics: list[Diagnostic], file: str) -> list[Diagnostic]:
        """Diagnostics with each numbered line replaced by its real file and line."""
        out = []
        for d in diagnostics:
            if self.exact and d.file == file and d.line and d.line <= len(self.locations):
                where = self.locations[d.line - 1]
                d = Diagnostic(d.message, where.file, where.line, d.severity)
            out.append(d)
        return out


def root_data(pipeline: Graph, smap: SourceMap, lines: Numbering) -> dict[str, Any]:
    """The whole document: ``{"dag": ...}``."""
    root = {"dag": graph_data(pipeline, smap, lines)}
    smap.record(root, lines(pipeline.location), {})
    return root


def graph_data(pipeline: Graph, smap: SourceMap, lines: Numbering) -> dict[str, Any]:
    """``{start_at, steps[, description]}`` of one pipeline, its lines recorded in ``smap``."""
    line = lines(pipeline.location)
    steps = _all_steps(pipeline)
    success = next((s.name for s in steps if isinstance(s, Success)), "success")
    fail = next((s.name for s in steps if isinstance(s, Fail)), "fail")

    raw_steps: dict[Any, Any] = {}
    step_lines: dict[Any, int] = {}
    first: dict[Any, Location] = {}
    for step in steps:
        if step.name in first:
            where = first[step.name]
            raise PipelineError(
                f"duplicate step name {step.name!r} (first defined on line {where.line}"
                f"{'' if where.file == step.location.file else ' of ' + where.file})",
                step.location.file,
                step.location.line,
            )
        first[step.name] = step.location
        raw_steps[step.name] = _step_data(step, success, fail, smap, lines)
        step_lines[step.name] = lines(step.location)
    smap.record(raw_steps, line, step_lines)

    data: dict[str, Any] = {}
    if pipeline.description:
        data["description"] = pipeline.description
    start_at = pipeline.start_at
    if start_at is None and steps:
        start_at = steps[0].name
    if start_at is not None:
        data["start_at"] = start_at.name if isinstance(start_at, Step) else start_at
    data["steps"] = raw_steps
    smap.record(data, line, {})
    return data


def _all_steps(pipeline: Graph) -> list[Step]:
    for index, step in enumerate(pipeline.steps):
        if not isinstance(step, Step):
            raise PipelineError(
                f"steps[{index}] is not a step (Task, Stub, AsIs, Parallel, Map, Dag, Success or "
                f"Fail): got {type(step).__name__}",
                pipeline.location.file,
                pipeline.location.line,
            )
    steps = list(pipeline.steps)
    if pipeline.add_terminal_nodes:
        if not any(isinstance(s, Success) for s in steps):
            steps.append(pipeline.terminal(Success))
        if not any(isinstance(s, Fail) for s in steps):
            steps.append(pipeline.terminal(Fail))
    return steps


def _step_data(
    step: Step, success: str, fail: str, smap: SourceMap, lines: Numbering
) -> dict[str, Any]:
    out = step.to_dict(success, fail)
    line = lines(step.location)
    for key, value in out.items():
        if key == "branches" and isinstance(value, dict):
            branches = {name: _branch(b, smap, lines) for name, b in value.items()}
            smap.record(branches, line, {k: _line(v, line, lines) for k, v in value.items()})
            out[key] = branches
        elif key == "branch":
            out[key] = _branch(value, smap, lines)
        elif isinstance(value, dict):
            out[key] = copy.deepcopy(value)
            smap.record(out[key], line, {})
        elif isinstance(value, list):
            out[key] = copy.deepcopy(value)
    later = {key: lines(where) for key, where in step.field_locations.items()}
    smap.record(out, line, dict.fromkeys(out, line) | later)
    return out


def _branch(value: Any, smap: SourceMap, lines: Numbering) -> Any:
    if isinstance(value, Graph):
        return graph_data(value, smap, lines)
    return copy.deepcopy(value)


def _line(value: Any, default: int, lines: Numbering) -> int:
    location = getattr(value, "location", None)
    return lines(location) if isinstance(location, Location) else default
