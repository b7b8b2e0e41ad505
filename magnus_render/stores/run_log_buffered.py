"""In-memory run log store: for tests and throw-away runs (nothing survives the process)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

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
        _RUNS[header.run_id] = {"header": header.model_copy(update={"steps": {}}), "logs": {}}
        return self.get_run_header(header.run_id), True

    def get_run_header(self, run_id: str) -> RunLog:
        return self._run(run_id)["header"].model_copy(deep=True)

    def put_run_header(self, header: RunLog) -> None:
        self._run(header.run_id)["header"] = header.model_copy(update={"steps": {}}, deep=True)

    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        log = self._run(run_id)["logs"].get(("s", name))
        return log.model_copy(deep=True) if log is not None else None

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        stored = step_log.model_copy(update={"branches": {}}, deep=True)
        self._run(run_id)["logs"][("s", step_log.internal_name)] = stored

    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        log = self._run(run_id)["logs"].get(("b", name))
        return log.model_copy(deep=True) if log is not None else None

    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        stored = branch_log.model_copy(update={"steps": {}}, deep=True)
        self._run(run_id)["logs"][("b", branch_log.internal_name)] = stored

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        return [log.model_copy(deep=True) for log in self._run(run_id)["logs"].values()]

    def list_run_ids(self) -> list[str]:
        return list(reversed(_RUNS))
