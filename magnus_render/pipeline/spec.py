"""Pydantic models of the pipeline format: one model per node type, fields as magnus 0.5.

These models validate one node's own fields; nested ``steps`` stay raw here and are walked
by the builder, so every nested node gets its own file:line. The same models produce the
JSON Schema (``magnus schema``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr


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
    type: Literal["stub", "as-is"]
    next: StrictStr | None = None
    on_failure: StrictStr | None = None
    catalog: CatalogModel | None = None
    overrides: dict[StrictStr, StrictStr] = Field(default_factory=dict)


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
    "as-is": StubModel,
    "success": SuccessModel,
    "fail": FailModel,
    "parallel": ParallelModel,
    "map": MapModel,
    "dag": DagModel,
}


def node_fields(node_type: str) -> list[str]:
    return list(NODE_MODELS[node_type].model_fields)
