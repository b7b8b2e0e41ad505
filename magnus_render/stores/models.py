"""The run log: the single source of truth that every executor and container writes.

Field names follow magnus 0.5's run log so existing tooling can read it. Additions over
DESIGN.md are marked; each has a reason given in its docstring.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Status(str, Enum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    TRIGGERED = "TRIGGERED"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class CodeIdentity(_Model):
    code_identifier: str | None = None
    code_identifier_type: str = "git"
    code_identifier_dependable: bool = False
    code_identifier_url: str | None = None
    code_identifier_message: str | None = None


class DataCatalog(_Model):
    name: str
    data_hash: str = ""
    catalog_relative_path: str = ""
    catalog_handler_location: str = ""
    stage: str = ""  # "get" or "put"


class StepAttempt(_Model):
    attempt_number: int = 1
    start_time: str = ""
    end_time: str = ""
    duration: str = ""
    status: Status = Status.FAIL
    message: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class BranchLog(_Model):
    internal_name: str
    status: Status = Status.PROCESSING
    steps: dict[str, StepLog] = Field(default_factory=dict)
    #: addition: parameters written inside this branch. Map iterations must not see each
    #: other's writes, so they cannot share the run's parameters while running.
    parameters: dict[str, Any] = Field(default_factory=dict)
    #: addition: the map variable of this branch (None for parallel and dag branches)
    map_variable: dict[str, Any] | None = None


class StepLog(_Model):
    name: str
    internal_name: str
    status: Status = Status.PROCESSING
    step_type: str = "task"
    message: str = ""
    mock: bool = False
    code_identities: list[CodeIdentity] = Field(default_factory=list)
    attempts: list[StepAttempt] = Field(default_factory=list)
    user_defined_metrics: dict[str, Any] = Field(default_factory=dict)
    branches: dict[str, BranchLog] = Field(default_factory=dict)
    data_catalog: list[DataCatalog] = Field(default_factory=list)
    #: addition: the parameters this step set. Written with the SUCCESS status, before the
    #: parameters themselves, so a re-run that reuses the step re-applies them and a crash
    #: between the two writes can neither lose them nor apply them twice.
    output_parameters: dict[str, Any] = Field(default_factory=dict)


BranchLog.model_rebuild()


class RunLog(_Model):
    run_id: str
    dag_hash: str = ""
    tag: str = ""
    use_cached: bool = False
    original_run_id: str = ""
    status: Status = Status.PROCESSING
    #: why the run ended without a terminal node, e.g. "interrupted (SIGINT)"
    message: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    steps: dict[str, StepLog] = Field(default_factory=dict)
    run_config: dict[str, Any] = Field(default_factory=dict)


def now_iso() -> str:
    return datetime.now().astimezone().isoformat()


#: a step log or a branch log: the two kinds a store keeps one object (file, key) each
LogT = TypeVar("LogT", "StepLog", "BranchLog")
