"""SDK objects -> the mapping a pipeline YAML would hold, plus a SourceMap of Python lines.

The front end reads line numbers through :class:`SourceMap`; filling one with the lines
where the user made each step lets the same checks report ``pipeline.py:12: ...``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from magnus_render.errors import PipelineError
from magnus_render.pipeline.yaml_source import SourceMap
from magnus_render.sdk.steps import Fail, Step, Success

if TYPE_CHECKING:
    from magnus_render.sdk.pipeline import Pipeline


def graph_data(pipeline: Pipeline, smap: SourceMap) -> dict[str, Any]:
    """``{start_at, steps[, description]}`` of one pipeline, its lines recorded in ``smap``."""
    line = pipeline.location.line
    steps = _all_steps(pipeline)
    success = next((s.name for s in steps if isinstance(s, Success)), "success")
    fail = next((s.name for s in steps if isinstance(s, Fail)), "fail")

    raw_steps: dict[Any, Any] = {}
    step_lines: dict[Any, int] = {}
    for step in steps:
        if step.name in raw_steps:
            raise PipelineError(
                f"duplicate step name {step.name!r} (first defined on line "
                f"{step_lines[step.name]})",
                smap.file,
                step.location.line,
            )
        raw_steps[step.name] = _step_data(step, success, fail, smap)
        step_lines[step.name] = step.location.line
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


def root_data(pipeline: Pipeline, smap: SourceMap) -> dict[str, Any]:
    """The whole document: ``{"dag": ...}``."""
    root = {"dag": graph_data(pipeline, smap)}
    smap.record(root, pipeline.location.line, {})
    return root


def _all_steps(pipeline: Pipeline) -> list[Step]:
    for index, step in enumerate(pipeline.steps):
        if not isinstance(step, Step):
            raise PipelineError(
                f"steps[{index}] is not a step (Task, Stub, Parallel, Map, Dag, Success or "
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


def _step_data(step: Step, success: str, fail: str, smap: SourceMap) -> dict[str, Any]:
    out = step.to_dict(success, fail)
    line = step.location.line
    for key, value in out.items():
        if key == "branches" and isinstance(value, dict):
            branches = {name: _branch(b, smap) for name, b in value.items()}
            smap.record(branches, line, {k: _line(v, line) for k, v in value.items()})
            out[key] = branches
        elif key == "branch":
            out[key] = _branch(value, smap)
        elif isinstance(value, dict):
            out[key] = copy.deepcopy(value)
            smap.record(out[key], line, {})
        elif isinstance(value, list):
            out[key] = copy.deepcopy(value)
    smap.record(out, line, dict.fromkeys(out, line) | step.field_lines)
    return out


def _branch(value: Any, smap: SourceMap) -> Any:
    from magnus_render.sdk.pipeline import Pipeline

    return graph_data(value, smap) if isinstance(value, Pipeline) else copy.deepcopy(value)


def _line(value: Any, default: int) -> int:
    location = getattr(value, "location", None)
    return location.line if location is not None else default
