"""Pydantic models of the pipeline format: one model per node type, fields as magnus 0.5.

These models validate one node's own fields; nested ``steps`` stay raw here and are walked
by the builder, so every nested node gets its own file:line. The same models produce the
JSON Schema (``magnus schema``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    field_validator,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogModel(_Strict):
    """Files to fetch from the catalog before a task runs and to put after it succeeds."""

    get: list[StrictStr] = Field(default_factory=list)
    put: list[StrictStr] = Field(default_factory=list)


class BranchModel(_Strict):
    """A sub-graph: the body of a parallel branch or of a map."""

    start_at: StrictStr
    steps: dict[str, dict[str, Any]]
    description: StrictStr = ""


class TaskModel(_Strict):
    type: Literal["task"]
    command: StrictStr = Field(min_length=1)
    command_type: Literal["python", "shell", "notebook"] = "python"
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    catalog: CatalogModel | None = None
    max_attempts: int = Field(1, ge=1, le=1000, strict=True)
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    notebook_output_path: StrictStr | None = None
    optional_ploomber_args: dict[StrictStr, Any] = Field(default_factory=dict)


class StubModel(BaseModel):
    """A step that always succeeds; any extra keys are accepted and ignored (as magnus)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["stub"]
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    catalog: CatalogModel | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)


#: the text an as-is node runs: one string for every target, or target name -> text (with
#: an optional ``default`` entry for the targets not named)
RenderString = Annotated[str, StringConstraints(strict=True, min_length=1)]
RenderStrings = RenderString | Annotated[dict[StrictStr, RenderString], Field(min_length=1)]


def _check_render_string(value: Any) -> Any:
    """One clear message for a bad render_string (instead of one per union member)."""
    if value is None or (isinstance(value, str) and value):
        return value
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(k, str) and k for k in value)
        and all(isinstance(v, str) and v for v in value.values())
    ):
        return value
    raise ValueError(
        "must be a non-empty string, or a mapping of target name (or 'default') to non-empty text"
    )


class CommandConfigModel(_Strict):
    """magnus's second spelling: ``command_config: {render_string: ...}``."""

    render_string: RenderStrings

    _check = field_validator("render_string", mode="before")(_check_render_string)


class AsIsModel(_Strict):
    """magnus's fourth mode: the rendered spec runs ``render_string`` in place of the node;
    interactive executors record it as a stub. ``command`` is accepted and never run."""

    type: Literal["as-is"]
    command: StrictStr | None = None
    render_string: RenderStrings | None = None
    command_config: CommandConfigModel | None = None
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)

    _check = field_validator("render_string", mode="before")(_check_render_string)

    def texts(self) -> dict[str, str]:
        """Target name -> text (a plain string is the ``default`` for every target)."""
        value = self.render_string
        if value is None and self.command_config is not None:
            value = self.command_config.render_string
        if value is None:
            return {}
        return {"default": value} if isinstance(value, str) else dict(value)


class SuccessModel(_Strict):
    type: Literal["success"]


class FailModel(_Strict):
    type: Literal["fail"]


class ParallelModel(_Strict):
    type: Literal["parallel"]
    branches: dict[str, dict[str, Any]]
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class MapModel(_Strict):
    type: Literal["map"]
    iterate_on: StrictStr
    iterate_as: StrictStr
    branch: dict[str, Any]
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class DagModel(_Strict):
    type: Literal["dag"]
    dag_definition: StrictStr
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)


NODE_MODELS: dict[str, type[BaseModel]] = {
    "task": TaskModel,
    "stub": StubModel,
    "as-is": AsIsModel,
    "success": SuccessModel,
    "fail": FailModel,
    "parallel": ParallelModel,
    "map": MapModel,
    "dag": DagModel,
}


def node_fields(node_type: str) -> list[str]:
    return list(NODE_MODELS[node_type].model_fields)
