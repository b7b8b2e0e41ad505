"""The run log store interface every backend implements.

The unit of storage is one log: the run header (run-level fields: status, parameters, tag,
...), one StepLog, or one BranchLog, each addressed by its *resolved* internal name. This
shape fits a single JSON file per run, one object per log on a file system, and S3 with
conditional PUTs alike, and keeps every write O(1) in the size of the run: a step never
rewrites the whole run log. The full RunLog is only assembled for `show` and comparisons.

Stored step logs carry no branches and stored headers carry no steps; :meth:`get_run_log`
nests them again by name (a step ``a.b.c`` lives in branch ``a.b``, which lives in step
``a``).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import msgspec

from magnus_render.errors import ConfigError, RunError
from magnus_render.stores.models import BranchLog, LogT, RunLog, Status, StepLog


class RunLogNotFound(RunError):
    """The run id has no run log in this store."""


class RunLogWriteError(RunError):
    """The store could not record a log (disk full, permission denied): the run fails."""

    exit_code = 1


class StoreSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings shared by all stores; backends extend it (unknown keys are errors). A
    msgspec Struct, not a pydantic model: every container validates one per backend."""


def build_settings(model: type, raw: dict[str, Any], config: Any, section: str) -> Any:
    """Validate a backend's ``config`` block, pointing errors at the config file line. A
    msgspec Struct is converted; a plugin's pydantic model is still validated by pydantic."""
    from magnus_render import settings

    where = config if hasattr(config, "line_at") else None
    if issubclass(model, msgspec.Struct):
        leftovers = pydantic_leftovers(model)
        if leftovers:
            raise ConfigError(
                f"{section}: the settings model {model.__module__}.{model.__qualname__} is a "
                f"msgspec Struct (StoreSettings is one now), but {leftovers} would be "
                "ignored: make it a pydantic BaseModel, or declare it for msgspec "
                "(docs/extending.md, 'Writing a run log store')",
                where.source_file if where else None,
                where.line_at(section, ()) if where else None,
            )
        return settings.convert_settings(model, raw or {}, where, section)
    from pydantic import ValidationError

    try:
        return model.model_validate(raw or {})  # type: ignore[attr-defined]  # pydantic
    except ValidationError as exc:
        raise settings.settings_error(exc, where, section) from None


@functools.cache
def pydantic_leftovers(model: type) -> str:
    """What of pydantic a Struct settings model still holds, as text ('' for nothing): a
    plugin written when StoreSettings was a pydantic model subclasses a Struct now, where
    a ``Field(...)`` default would be the value itself and a validator would never run."""
    # the raw tuples, not msgspec.structs.fields: that resolves every annotation, which
    # costs a container a few milliseconds per store for nothing
    defaults = getattr(model, "__struct_defaults__", ())
    names = model.__struct_fields__[len(model.__struct_fields__) - len(defaults) :]  # type: ignore[attr-defined]
    found = [
        f"the pydantic default of {name!r}"
        for name, default in zip(names, defaults, strict=True)
        if _from_pydantic(default)
    ]
    for klass in model.__mro__:
        found += [f"the validator {k!r}" for k, v in vars(klass).items() if _from_pydantic(v)]
    return ", ".join(found)


def _from_pydantic(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pydantic"


class Configured:
    """What every backend (run log store, catalog, secrets) shares: its ``config`` block,
    validated by ``settings_model`` once; a backend sets up its own state in :meth:`setup`."""

    name: ClassVar[str] = ""
    settings_model: ClassVar[type] = StoreSettings
    #: the config section that settings errors name
    section: ClassVar[str] = ""

    def __init__(self, settings: dict[str, Any] | None = None, config: Any = None) -> None:
        self.settings = build_settings(self.settings_model, settings or {}, config, self.section)
        self.setup()

    def setup(self) -> None:
        """The backend's own state (folders, clients, caches) once its settings are known."""


def parent_of(resolved_name: str) -> str:
    """The step or branch that contains this log ('' for the root)."""
    return resolved_name.rpartition(".")[0]


class RunLogStore(Configured, ABC):
    """Abstract run log store. Subclasses implement the eight storage primitives."""

    section = "run_log_store"
    #: whether several processes may write one run at once (parallel executors need it)
    multi_process_safe: ClassVar[bool] = True
    #: whether iter_logs yields logs in the order they were first written (else the root
    #: steps are put in start-time order when assembling)
    logs_in_write_order: ClassVar[bool] = False

    # -- primitives -----------------------------------------------------------------
    @abstractmethod
    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        """Create the run if absent. Race-safe: the first creator wins and every other
        caller gets the stored header back. Returns (header, created_by_this_call)."""

    @abstractmethod
    def get_run_header(self, run_id: str) -> RunLog:
        """Run-level fields (no steps). RunLogNotFound when the run does not exist."""

    @abstractmethod
    def put_run_header(self, header: RunLog) -> None:
        """Overwrite the run-level fields (steps are ignored)."""

    @abstractmethod
    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        """One step log by resolved internal name (without branches), or None."""

    @abstractmethod
    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        """Write one step log (its branches are stored separately and ignored here)."""

    @abstractmethod
    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        """One branch log by resolved internal name (without steps), or None."""

    @abstractmethod
    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        """Write one branch log (its steps are stored separately and ignored here)."""

    @abstractmethod
    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        """Every step and branch log of the run, in any order (for assembly)."""

    @abstractmethod
    def list_run_ids(self) -> list[str]:
        """Run ids in this store, most recent first when the backend knows the order."""

    # -- built on the primitives -----------------------------------------------------
    def exists(self, run_id: str) -> bool:
        try:
            self.get_run_header(run_id)
        except RunLogNotFound:
            return False
        return True

    def update_run(
        self,
        run_id: str,
        status: Status | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> RunLog:
        """Set the run status and/or merge parameters into the run-level parameters."""
        header = self.get_run_header(run_id)
        if status is not None:
            header.status = status
        if parameters:
            header.parameters.update(parameters)
        self.put_run_header(header)
        return header

    def iter_branch_logs(self, run_id: str) -> Iterable[BranchLog]:
        """Every branch log of the run (backends that store them apart read only those)."""
        return (log for log in self.iter_logs(run_id) if isinstance(log, BranchLog))

    def iter_step_logs(
        self, run_id: str, skip: Callable[[str], bool] | None = None
    ) -> Iterable[StepLog]:
        """Every step log whose resolved name ``skip`` does not refuse (backends that can
        tell the name without reading the log skip the read)."""
        for log in self.iter_logs(run_id):
            if isinstance(log, StepLog) and not (skip and skip(log.internal_name)):
                yield log

    def get_run_log(self, run_id: str) -> RunLog:
        """The complete nested RunLog (reads every log of the run)."""
        return self.assemble(self.get_run_header(run_id), self.iter_logs(run_id))

    def assemble(self, header: RunLog, logs: Iterable[StepLog | BranchLog]) -> RunLog:
        """Nest step and branch logs into ``header`` by name (logs without their parent
        are left out)."""
        steps: dict[str, StepLog] = {}
        branches: dict[str, BranchLog] = {}
        for log in logs:
            if isinstance(log, StepLog):
                steps[log.internal_name] = log.model_copy(update={"branches": {}})
            else:
                branches[log.internal_name] = log.model_copy(update={"steps": {}})
        for name in sorted(steps, key=_depth):
            step = steps[name]
            parent = parent_of(name)
            if not parent:
                header.steps[name] = step
            elif parent in branches:
                branches[parent].steps[name] = step
        for name in sorted(branches, key=_depth):
            parent_step = steps.get(parent_of(name))
            if parent_step is not None:
                parent_step.branches[name] = branches[name]
        if not self.logs_in_write_order:
            header.steps = _ordered(header.steps)
        return header


def _depth(name: str) -> int:
    return name.count(".")  # a stable sort keeps the store's order within one depth


def _ordered(steps: dict[str, StepLog]) -> dict[str, StepLog]:
    """Steps in the order they started (by the first attempt's start time), stable."""
    return dict(
        sorted(steps.items(), key=lambda kv: kv[1].attempts[0].start_time if kv[1].attempts else "")
    )


class LogPerObject(RunLogStore):
    """A store that keeps each step log and each branch log as one object of its own (a
    file of chunked-fs, a key of s3), without the logs nested in it: it only says how to
    load and store one object of a kind ("steps" or "branches")."""

    #: each kind of object (its folder or key prefix) and the model it holds
    KINDS: ClassVar[tuple[tuple[str, type[StepLog] | type[BranchLog]], ...]] = (
        ("steps", StepLog),
        ("branches", BranchLog),
    )

    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        return self._load(run_id, "steps", name, StepLog)

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._store(run_id, "steps", step_log, "branches")

    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        return self._load(run_id, "branches", name, BranchLog)

    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        self._store(run_id, "branches", branch_log, "steps")

    @abstractmethod
    def _load(self, run_id: str, kind: str, name: str, model: type[LogT]) -> LogT | None:
        """The log ``name`` of ``kind``, or None when there is none."""

    @abstractmethod
    def _store(self, run_id: str, kind: str, log: StepLog | BranchLog, nested: str) -> None:
        """Write ``log`` of ``kind`` without its field ``nested`` (its own objects)."""
