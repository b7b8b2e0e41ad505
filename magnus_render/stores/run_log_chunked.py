"""chunked-fs run log store: one JSON file per log, for many processes writing at once.

Layout: ``<log_folder>/<run_id>/run.json`` (the header), ``steps/<name>.json`` and
``branches/<name>.json``. Every write goes to a unique temporary file that is then renamed
over the target (atomic on POSIX), so readers never see half a log and concurrent writers
of different logs never touch each other's files. The run is created with ``link()``, which
fails when the header exists: the first of several racing containers wins.

A map over thousands of items writes a few logs per item, so the write and read paths
stay lean: msgspec's typed JSON decoder and encoder (log_codec), plain string paths, and
one check per process that the run exists (a run folder is never removed while the run goes on).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote, unquote

from magnus_render.stores.log_codec import from_json, read_log_file, to_json
from magnus_render.stores.models import BranchLog, LogT, RunLog, StepLog
from magnus_render.stores.run_log_base import (
    LogPerObject,
    RunLogNotFound,
    RunLogWriteError,
    StoreSettings,
)

HEADER = "run.json"
_counter = itertools.count()


class ChunkedFsSettings(StoreSettings):
    log_folder: str = ".run_log_store"


@functools.lru_cache(maxsize=4096)  # a step's log is written and read several times
def file_name(name: str) -> str:
    """A file name for a resolved internal name: reversible when short, hashed when long."""
    encoded = quote(name, safe=" !$&'()+,-.;=@[]^_`{}~") + ".json"
    if len(encoded.encode()) <= 200:
        return encoded
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"{encoded[:150]}~{digest}.json"


class ChunkedFsRunLogStore(LogPerObject):
    name = "chunked-fs"
    settings_model = ChunkedFsSettings

    def setup(self) -> None:
        super().setup()
        self.folder = Path(self.settings.log_folder)
        self._known: set[str] = set()  # run ids whose header this process has seen

    def run_folder(self, run_id: str) -> Path:
        return self.folder / run_id

    def _path(self, run_id: str, sub: str, name: str) -> str:
        return os.path.join(self.settings.log_folder, run_id, sub, file_name(name))

    def _write(self, target: Path | str, data: bytes) -> None:
        folder = os.path.dirname(target)
        tmp = os.path.join(folder, f".{os.getpid()}.{next(_counter)}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise RunLogWriteError(f"cannot write the run log {target}: {exc.strerror}") from None

    def _raw(self, path: Path | str) -> bytes | None:
        return read_log_file(path)

    def _require(self, run_id: str) -> Path:
        folder = self.run_folder(run_id)
        if run_id not in self._known:
            if not (folder / HEADER).is_file():
                raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
            self._known.add(run_id)
        return folder

    def _check(self, run_id: str) -> None:
        if run_id not in self._known:
            self._require(run_id)

    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        folder = self.run_folder(header.run_id)
        for sub in ("steps", "branches"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{HEADER}.{os.getpid()}.{next(_counter)}.tmp"
        tmp.write_bytes(to_json(header, "steps"))
        try:
            os.link(tmp, folder / HEADER)
            created = True
        except FileExistsError:
            created = False
        finally:
            tmp.unlink(missing_ok=True)
        return self.get_run_header(header.run_id), created

    def get_run_header(self, run_id: str) -> RunLog:
        path = os.path.join(self.settings.log_folder, run_id, HEADER)
        raw = self._raw(path)
        if raw is None:
            raise RunLogNotFound(f"no run log for run {run_id!r} in {self.folder}")
        return from_json(RunLog, raw, path)

    def put_run_header(self, header: RunLog) -> None:
        folder = self._require(header.run_id)
        self._write(folder / HEADER, to_json(header, "steps"))

    def _load(self, run_id: str, kind: str, name: str, model: type[LogT]) -> LogT | None:
        path = self._path(run_id, kind, name)
        raw = self._raw(path)
        return from_json(model, raw, path) if raw is not None else None

    def _store(self, run_id: str, kind: str, log: StepLog | BranchLog, nested: str) -> None:
        """One step or branch log, without its nested logs (each is its own file)."""
        self._check(run_id)
        data = to_json(log, nested)
        self._write(self._path(run_id, kind, log.internal_name), data)

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        folder = self._require(run_id)
        for sub, model in self.KINDS:
            for path in sorted((folder / sub).glob("*.json")):
                raw = self._raw(path)
                if raw is not None:
                    yield from_json(model, raw, str(path))

    def iter_branch_logs(self, run_id: str) -> Iterable[BranchLog]:
        folder = str(self._require(run_id) / "branches")
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".json") and not entry.startswith("."):
                path = os.path.join(folder, entry)
                raw = self._raw(path)
                if raw is not None:
                    yield from_json(BranchLog, raw, path)

    def iter_step_logs(
        self, run_id: str, skip: Callable[[str], bool] | None = None
    ) -> Iterable[StepLog]:
        folder = str(self._require(run_id) / "steps")
        for entry in sorted(os.listdir(folder)):
            if not entry.endswith(".json") or entry.startswith("."):
                continue
            name = unquote(entry[: -len(".json")])
            if skip is not None and file_name(name) == entry and skip(name):
                continue  # the file name told the step's name: no need to read it
            path = os.path.join(folder, entry)
            raw = self._raw(path)
            if raw is None:
                continue
            log = from_json(StepLog, raw, path)
            if skip is None or not skip(log.internal_name):
                yield log

    def list_run_ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        runs = [p for p in self.folder.iterdir() if (p / HEADER).is_file()]
        runs.sort(key=lambda p: (p / HEADER).stat().st_ctime, reverse=True)
        return [p.name for p in runs]
