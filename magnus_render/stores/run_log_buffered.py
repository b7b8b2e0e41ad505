"""In-memory run log store: for tests and throw-away runs (nothing survives the process).

Every log goes in and out as a deep copy, so a caller that changes a log it holds changes
the store only by putting it, as with every other store."""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from typing import Any, ClassVar

from msgspec.structs import replace

from magnus_render.stores.models import BranchLog, RunLog, StepLog
from magnus_render.stores.run_log_base import RunLogNotFound, RunLogStore

_RUNS: dict[str, dict[str, Any]] = {}


class BufferedRunLogStore(RunLogStore):
    """Keeps runs in a module-level dict shared by every instance in the process."""

    name = "buffered"
    multi_process_safe: ClassVar[bool] = False
    logs_in_write_order: ClassVar[bool] = True

    def _run(self, run_id: str) -> dict[str, Any]:
        try:
            return _RUNS[run_id]
        except KeyError:
            raise RunLogNotFound(f"no run log for run {run_id!r} (buffered store)") from None

    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        if header.run_id in _RUNS:
            return self.get_run_header(header.run_id), False
        _RUNS[header.run_id] = {"header": deepcopy(replace(header, steps={})), "logs": {}}
        return self.get_run_header(header.run_id), True

    def get_run_header(self, run_id: str) -> RunLog:
        return deepcopy(self._run(run_id)["header"])

    def put_run_header(self, header: RunLog) -> None:
        self._run(header.run_id)["header"] = deepcopy(replace(header, steps={}))

    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        return self._copy(run_id, ("s", name))

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._keep(run_id, ("s", step_log.internal_name), step_log, "branches")

    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        return self._copy(run_id, ("b", name))

    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        self._keep(run_id, ("b", branch_log.internal_name), branch_log, "steps")

    def _copy(self, run_id: str, key: tuple[str, str]) -> Any:
        """A copy of the step or branch log kept under ``key`` (None if there is none)."""
        log = self._run(run_id)["logs"].get(key)
        return deepcopy(log)

    def _keep(
        self, run_id: str, key: tuple[str, str], log: StepLog | BranchLog, nested: str
    ) -> None:
        """A copy of one step or branch log, without its nested logs (kept on their own)."""
        self._run(run_id)["logs"][key] = deepcopy(replace(log, **{nested: {}}))

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        return [deepcopy(log) for log in self._run(run_id)["logs"].values()]

    def list_run_ids(self) -> list[str]:
        return list(reversed(_RUNS))
