"""file-system run log store: one append-only JSON-lines journal per run.

Why a journal and not one JSON document rewritten per step: rewriting the whole run log on
every step is O(n) per write and O(n^2) per run (magnus 0.5's defect). Appending one
record per write keeps each write O(1); readers replay the journal (later records win) and
tail it incrementally, so a long-lived process reads each record once. A process that reads
only a few logs (a container running one step) searches the journal's bytes for them
instead (:mod:`journal_scan`) and parses just those records. Writers hold an
exclusive ``flock`` while appending, so concurrent processes never interleave records; a
record torn by a killed writer has no trailing newline and is skipped by readers (the next
writer starts on a fresh line), so a kill -9 leaves a readable run log. A write that fails
(disk full, file too large) is cut back to the last whole record and raised as
RunLogWriteError, so the journal is never torn silently.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from magnus_render.stores import journal_scan
from magnus_render.stores.log_codec import (
    TOO_DEEP,
    corrupt,
    dumps_ascii,
    from_data,
    read_log_file,
    to_data,
)
from magnus_render.stores.models import BranchLog, RunLog, StepLog
from magnus_render.stores.run_log_base import (
    RunLogNotFound,
    RunLogStore,
    RunLogWriteError,
    StoreSettings,
)

SUFFIX = ".jsonl"
#: reads of one store answered by searching the journal before it is replayed and tailed
SCANS_BEFORE_REPLAY = 16
_M = TypeVar("_M", RunLog, StepLog, BranchLog)


class FileSystemSettings(StoreSettings):
    log_folder: str = ".run_log_store"


@dataclass
class _Replay:
    """What has been read of one journal so far."""

    offset: int = 0
    #: whole records (lines) read so far
    lines: int = 0
    inode: int = -1
    header: dict[str, Any] | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    branches: dict[str, dict[str, Any]] = field(default_factory=dict)


class FileSystemRunLogStore(RunLogStore):
    name = "file-system"
    settings_model = FileSystemSettings
    logs_in_write_order = True

    def setup(self) -> None:
        super().setup()
        self.folder = Path(self.settings.log_folder)
        self._cache: dict[str, _Replay] = {}
        self._paths: dict[str, str] = {}
        self._scans = 0

    def path(self, run_id: str) -> str:
        path = self._paths.get(run_id)
        if path is None:
            path = self._paths[run_id] = os.path.join(self.folder, f"{run_id}{SUFFIX}")
        return path

    # -- journal ----------------------------------------------------------------------
    def _append(self, run_id: str, kind: str, value: dict[str, Any], create: bool = False) -> bool:
        """Append one record under the lock. With ``create``, only if the run is new."""
        path = self.path(run_id)
        flags = os.O_RDWR | os.O_APPEND
        line = dumps_ascii({"k": kind, "v": value}) + "\n"
        try:
            if create:
                self.folder.mkdir(parents=True, exist_ok=True)
                flags |= os.O_CREAT
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}") from None
        except OSError as exc:
            raise RunLogWriteError(f"cannot write the run log {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if create and size > 0:
                return False
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # a writer was killed mid-record: start afresh
            _write_record(fd, path, size, line.encode())
            return True
        finally:
            os.close(fd)  # closing releases the lock

    def _latest(self, run_id: str, kind: str, name: str | None = None) -> dict[str, Any] | None:
        """One log's latest value. A process that reads a run a few times (a container)
        searches the journal's bytes (see journal_scan); one that keeps reading it (an
        executor) replays it once and then tails it."""
        if run_id not in self._cache and self._scans < SCANS_BEFORE_REPLAY:
            self._scans += 1
            data = self._whole_records(run_id)
            try:
                header = journal_scan.latest(data, "run")
                if header is None:
                    raise RunLogNotFound(f"run log of {run_id!r} in {self.folder} has no header")
                return header if kind == "run" else journal_scan.latest(data, kind, name)
            except journal_scan.TooDeep as exc:
                raise corrupt(f"{self.path(run_id)}:{exc.line}", TOO_DEEP) from None
        state = self._replay(run_id)
        if kind == "run":
            return state.header
        return (state.steps if kind == "step" else state.branches).get(name or "")

    def _whole_records(self, run_id: str) -> bytes:
        data = read_log_file(self.path(run_id))
        if data is None:
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
        return data[: data.rfind(b"\n") + 1]  # a torn last record is not (yet) a record

    def _replay(self, run_id: str) -> _Replay:
        path = self.path(run_id)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}") from None
        state = self._cache.get(run_id)
        if state is None or state.inode != st.st_ino or st.st_size < state.offset:
            state = self._cache[run_id] = _Replay(inode=st.st_ino)
        if st.st_size > state.offset:
            data = read_log_file(path, state.offset)
            if data is None:
                raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
            end = data.rfind(b"\n") + 1  # a torn last record is left for later (or never)
            for raw in data[:end].splitlines():
                state.lines += 1
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # torn by a killed writer
                except RecursionError:  # whole, but no run log nests this deep
                    raise corrupt(f"{path}:{state.lines}", TOO_DEEP) from None
                _apply(state, record, path)
            state.offset += end
        if state.header is None:
            raise RunLogNotFound(f"run log of {run_id!r} in {self.folder} has no header")
        return state

    def _model(self, run_id: str, kind: str, value: Any, model: type[_M]) -> _M:
        """A record's value as its model; RunLogCorrupt naming the journal's line."""
        name = value.get("internal_name") if kind != "run" else None
        return from_data(model, value, lambda: self._where(run_id, kind, name))

    def _where(self, run_id: str, kind: str, name: str | None) -> str:
        """``file:line (kind name)`` of the latest record of a log (read only on an error)."""
        path = self.path(run_id)
        try:
            line = journal_scan.line_of(self._whole_records(run_id), kind, name)
        except RunLogNotFound:
            line = None
        except journal_scan.TooDeep as exc:
            line = exc.line
        what = "run header" if kind == "run" else f"{kind} {name!r}"
        return f"{path}:{line} ({what})" if line else f"{path} ({what})"

    # -- interface --------------------------------------------------------------------
    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        created = self._append(header.run_id, "run", to_data(header, "steps"), create=True)
        return self.get_run_header(header.run_id), created

    def get_run_header(self, run_id: str) -> RunLog:
        return self._model(run_id, "run", self._latest(run_id, "run"), RunLog)

    def put_run_header(self, header: RunLog) -> None:
        self._append(header.run_id, "run", to_data(header, "steps"))

    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        raw = self._latest(run_id, "step", name)
        return self._model(run_id, "step", raw, StepLog) if raw is not None else None

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        self._append(run_id, "step", to_data(step_log, "branches"))

    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        raw = self._latest(run_id, "branch", name)
        return self._model(run_id, "branch", raw, BranchLog) if raw is not None else None

    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        self._append(run_id, "branch", to_data(branch_log, "steps"))

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        state = self._replay(run_id)
        logs: list[StepLog | BranchLog] = [
            self._model(run_id, "step", v, StepLog) for v in state.steps.values()
        ]
        logs += [self._model(run_id, "branch", v, BranchLog) for v in state.branches.values()]
        return logs

    def list_run_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        files = sorted(self.folder.glob(f"*{SUFFIX}"), key=_mtime, reverse=True)
        return [f.name[: -len(SUFFIX)] for f in files]


def _write_record(fd: int, path: str, size: int, data: bytes) -> None:
    """Append all of ``data`` or nothing: a short or failed write is cut back to ``size``
    (the last whole record) and reported, never left as a torn record."""
    done = 0
    try:
        while done < len(data):
            written = os.write(fd, data[done:])
            if written <= 0:
                raise OSError(28, "No space left on device")
            done += written
    except OSError as exc:
        cut = ""
        try:
            os.ftruncate(fd, size)
        except OSError:  # the torn tail has no newline: readers skip it
            cut = "; the partial record could not be removed (readers skip it)"
        raise RunLogWriteError(
            f"cannot write the run log {path}: {exc.strerror or exc} "
            f"({len(data)} bytes, {done} written){cut}"
        ) from None


def _apply(state: _Replay, record: Any, path: str) -> None:
    """Keep one record's value as the latest of its log (records of other kinds are
    ignored); one that names no log (a hand-edited journal) is RunLogCorrupt at its line."""
    if not isinstance(record, dict):
        raise corrupt(f"{path}:{state.lines}", ValueError('not a {"k":..., "v":...} record'))
    kind = record.get("k")
    value: Any = record.get("v")
    if kind not in ("run", "step", "branch"):
        return
    if not isinstance(value, dict):
        raise corrupt(f"{path}:{state.lines}", ValueError(f"the {kind} record holds no object"))
    if kind == "run":
        state.header = value
        return
    name = value.get("internal_name")
    if not isinstance(name, str):
        why = ValueError(f"the {kind} record has no internal_name")
        raise corrupt(f"{path}:{state.lines}", why)
    (state.steps if kind == "step" else state.branches)[name] = value


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
