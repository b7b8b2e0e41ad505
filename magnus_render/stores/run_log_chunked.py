"""chunked-fs run log store: one JSON file per log, for many processes writing at once.

Layout: ``<log_folder>/<run_id>/run.json`` (the header), ``steps/<name>.json`` and
``branches/<name>.json``. Every write goes to a unique temporary file that is then renamed
over the target (atomic on POSIX), so readers never see half a log and concurrent writers
of different logs never touch each other's files. The run is created with ``link()``, which
fails when the header exists: the first of several racing containers wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from magnus_render.stores.models import BranchLog, RunLog, StepLog
from magnus_render.stores.run_log_base import (
    RunLogNotFound,
    RunLogStore,
    RunLogWriteError,
    StoreSettings,
)

HEADER = "run.json"
_counter = itertools.count()


class ChunkedFsSettings(StoreSettings):
    log_folder: str = ".run_log_store"


def file_name(name: str) -> str:
    """A file name for a resolved internal name: reversible when short, hashed when long."""
    encoded = quote(name, safe=" !$&'()+,-.;=@[]^_`{}~") + ".json"
    if len(encoded.encode()) <= 200:
        return encoded
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"{encoded[:150]}~{digest}.json"


class ChunkedFsRunLogStore(RunLogStore):
    name = "chunked-fs"
    settings_model = ChunkedFsSettings

    def __init__(self, settings: dict[str, Any] | None = None, config: Any = None) -> None:
        super().__init__(settings, config)
        self.folder = Path(self.settings.log_folder)

    def run_folder(self, run_id: str) -> Path:
        return self.folder / run_id

    def _write(self, target: Path, data: dict[str, Any]) -> None:
        tmp = target.parent / f".{os.getpid()}.{next(_counter)}.tmp"
        try:
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RunLogWriteError(f"cannot write the run log {target}: {exc.strerror}") from None

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None

    def _require(self, run_id: str) -> Path:
        folder = self.run_folder(run_id)
        if not (folder / HEADER).is_file():
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
        return folder

    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        folder = self.run_folder(header.run_id)
        for sub in ("steps", "branches"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{HEADER}.{os.getpid()}.{next(_counter)}.tmp"
        tmp.write_text(header.model_dump_json(exclude={"steps"}), encoding="utf-8")
        try:
            os.link(tmp, folder / HEADER)
            created = True
        except FileExistsError:
            created = False
        finally:
            tmp.unlink(missing_ok=True)
        return self.get_run_header(header.run_id), created

    def get_run_header(self, run_id: str) -> RunLog:
        data = self._read(self.run_folder(run_id) / HEADER)
        if data is None:
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
        return RunLog.model_validate(data)

    def put_run_header(self, header: RunLog) -> None:
        folder = self._require(header.run_id)
        self._write(folder / HEADER, header.model_dump(mode="json", exclude={"steps"}))

    def get_step_log(self, run_id: str, name: str) -> StepLog | None:
        data = self._read(self.run_folder(run_id) / "steps" / file_name(name))
        return StepLog.model_validate(data) if data is not None else None

    def put_step_log(self, run_id: str, step_log: StepLog) -> None:
        folder = self._require(run_id) / "steps"
        data = step_log.model_dump(mode="json", exclude={"branches"})
        self._write(folder / file_name(step_log.internal_name), data)

    def get_branch_log(self, run_id: str, name: str) -> BranchLog | None:
        data = self._read(self.run_folder(run_id) / "branches" / file_name(name))
        return BranchLog.model_validate(data) if data is not None else None

    def put_branch_log(self, run_id: str, branch_log: BranchLog) -> None:
        folder = self._require(run_id) / "branches"
        data = branch_log.model_dump(mode="json", exclude={"steps"})
        self._write(folder / file_name(branch_log.internal_name), data)

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        folder = self._require(run_id)
        for sub, model in (("steps", StepLog), ("branches", BranchLog)):
            for path in sorted((folder / sub).glob("*.json")):
                data = self._read(path)
                if data is not None:
                    yield model.model_validate(data)

    def list_run_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        runs = [p for p in self.folder.iterdir() if (p / HEADER).is_file()]
        runs.sort(key=lambda p: (p / HEADER).stat().st_ctime, reverse=True)
        return [p.name for p in runs]
