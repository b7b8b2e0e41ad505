"""The run log: the single source of truth that every executor and container writes.

Field names follow magnus 0.5's run log so existing tooling can read it. Additions over
DESIGN.md are marked; each has a reason given in its docstring.

Why msgspec and not pydantic: every container imports these models once per step, and
defining pydantic models cost ~70 ms of start-up; msgspec imports in the time of ``import
yaml`` and defines the classes in C. The JSON is the same: fields in declared order, none
omitted, and logs written by the earlier pydantic models load unchanged. The few
pydantic-style methods on :class:`LogModel` keep plugin and test code working; the stores
use :mod:`magnus_render.stores.log_codec` (typed msgspec JSON) directly.
"""

from __future__ import annotations

import copy
from datetime import datetime
from enum import Enum
from pathlib import PurePath
from typing import Any, TypeVar

import msgspec


class Status(str, Enum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    TRIGGERED = "TRIGGERED"


def enc_hook(value: Any) -> Any:
    """Values msgspec does not know, as pydantic's JSON mode stored them: a pydantic model
    as its JSON dict, a path as a string; anything else is refused by name."""
    if isinstance(value, PurePath):
        return str(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored in the run log")


_M = TypeVar("_M", bound="LogModel")


class LogModel(msgspec.Struct, forbid_unknown_fields=True):
    """Base of the run log models: unknown keys are errors, as they were with pydantic's
    ``extra="forbid"``. Construction does not validate (msgspec does not): types are
    checked when a log is read back. The ``model_*`` methods are pydantic's, for code
    written against the earlier models; ``model_dump`` always gives JSON data."""

    def model_dump(self, *, mode: str = "json", exclude: set[str] | None = None) -> dict[str, Any]:
        """Plain JSON data (statuses as strings, whatever ``mode``), ``exclude`` left out."""
        data: dict[str, Any] = msgspec.to_builtins(self, enc_hook=enc_hook)
        for name in exclude or ():
            data.pop(name, None)
        return data

    def model_dump_json(self, *, indent: int | None = None, exclude: set[str] | None = None) -> str:
        data: Any = self.model_dump(exclude=exclude) if exclude else self
        raw = msgspec.json.encode(data, enc_hook=enc_hook)
        return (msgspec.json.format(raw, indent=indent) if indent else raw).decode()

    @classmethod
    def model_validate(cls: type[_M], data: Any) -> _M:
        """``data`` (a dict) as this model; msgspec.ValidationError when it is not one."""
        return msgspec.convert(data, cls)

    @classmethod
    def model_validate_json(cls: type[_M], data: str | bytes) -> _M:
        return msgspec.json.decode(data, type=cls)

    def model_copy(self: _M, *, update: dict[str, Any] | None = None, deep: bool = False) -> _M:
        """A copy with ``update`` applied; ``deep`` copies nested values (not the update's)."""
        base = copy.deepcopy(self) if deep else self
        return msgspec.structs.replace(base, **(update or {}))


class CodeIdentity(LogModel):
    code_identifier: str | None = None
    code_identifier_type: str = "git"
    code_identifier_dependable: bool = False
    code_identifier_url: str | None = None
    code_identifier_message: str | None = None


class DataCatalog(LogModel):
    name: str
    data_hash: str = ""
    catalog_relative_path: str = ""
    catalog_handler_location: str = ""
    stage: str = ""  # "get" or "put"


class StepAttempt(LogModel):
    attempt_number: int = 1
    start_time: str = ""
    end_time: str = ""
    duration: str = ""
    status: Status = Status.FAIL
    message: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class BranchLog(LogModel):
    internal_name: str
    status: Status = Status.PROCESSING
    steps: dict[str, StepLog] = msgspec.field(default_factory=dict)
    #: addition: parameters written inside this branch. Map iterations must not see each
    #: other's writes, so they cannot share the run's parameters while running.
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    #: addition: the map variable of this branch (None for parallel and dag branches)
    map_variable: dict[str, Any] | None = None


class StepLog(LogModel):
    name: str
    internal_name: str
    status: Status = Status.PROCESSING
    step_type: str = "task"
    message: str = ""
    mock: bool = False
    code_identities: list[CodeIdentity] = msgspec.field(default_factory=list)
    attempts: list[StepAttempt] = msgspec.field(default_factory=list)
    user_defined_metrics: dict[str, Any] = msgspec.field(default_factory=dict)
    branches: dict[str, BranchLog] = msgspec.field(default_factory=dict)
    data_catalog: list[DataCatalog] = msgspec.field(default_factory=list)
    #: addition: the parameters this step set. Written with the SUCCESS status, before the
    #: parameters themselves, so a re-run that reuses the step re-applies them and a crash
    #: between the two writes can neither lose them nor apply them twice.
    output_parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class RunLog(LogModel):
    run_id: str
    dag_hash: str = ""
    tag: str = ""
    use_cached: bool = False
    original_run_id: str = ""
    status: Status = Status.PROCESSING
    #: why the run ended without a terminal node, e.g. "interrupted (SIGINT)"
    message: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    steps: dict[str, StepLog] = msgspec.field(default_factory=dict)
    run_config: dict[str, Any] = msgspec.field(default_factory=dict)


def now_iso() -> str:
    return datetime.now().astimezone().isoformat()


#: a step log or a branch log: the two kinds a store keeps one object (file, key) each
LogT = TypeVar("LogT", "StepLog", "BranchLog")
