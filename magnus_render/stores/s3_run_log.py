"""s3 run log store: one object per log, conditional writes, conflicts merged and retried.

Layout (like chunked-fs): ``<prefix>/<run_id>/run.json``, ``steps/<name>.json`` and
``branches/<name>.json``. The first container creates the run with ``IfNoneMatch: *``.
Every later write is conditional on the ETag this writer last read or wrote
(``IfMatch``); when another writer got there first (412/409), the store re-reads the
object, re-applies *this* writer's changes to it (a three-way merge against what it had
read) and tries again, so racing read-modify-write cycles, e.g. two branches adding
parameters, never lose each other's updates.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterable
from typing import Annotated, Any

import msgspec

from magnus_render.errors import RunError
from magnus_render.stores.log_codec import TOO_DEEP, corrupt, dumps_ascii, from_data, to_data
from magnus_render.stores.models import BranchLog, LogT, RunLog, StepLog
from magnus_render.stores.run_log_base import LogPerObject, RunLogNotFound
from magnus_render.stores.run_log_chunked import file_name
from magnus_render.stores.s3_client import (
    LazyS3Client,
    S3Settings,
    client_error,
    error_code,
    is_conflict,
    is_missing,
)

HEADER = "run.json"


class S3RunLogSettings(S3Settings):
    prefix: str = "run-logs"
    #: how many times one write is re-applied after losing a race before giving up
    max_conflict_retries: Annotated[int, msgspec.Meta(ge=1)] = 50


def merge3(base: Any, mine: Any, theirs: Any) -> Any:
    """``theirs`` with the changes ``mine`` made to ``base`` applied (recursively on
    dicts; any other changed value is replaced by mine)."""
    if not (isinstance(base, dict) and isinstance(mine, dict) and isinstance(theirs, dict)):
        return mine
    out = dict(theirs)
    for key in mine.keys() | base.keys():
        if key not in mine:
            if key in out and out[key] == base.get(key):
                del out[key]
            continue
        if key in base and mine[key] == base[key]:
            continue
        out[key] = merge3(base.get(key, {}), mine[key], theirs.get(key, {}))
    return out


class S3RunLogStore(LazyS3Client, LogPerObject):
    name = "s3"
    settings_model = S3RunLogSettings

    def setup(self) -> None:
        super().setup()
        self._local = threading.local()
        self._lock = threading.Lock()
        #: how many writes had to be re-applied after losing a race (for tests and logs)
        self.conflicts = 0

    # -- plumbing -----------------------------------------------------------------------
    def _seen(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Per thread: key -> (ETag, data) last read or written by this writer."""
        seen = getattr(self._local, "seen", None)
        if seen is None:
            seen = self._local.seen = {}
        return seen

    def _key(self, run_id: str, *parts: str) -> str:
        return self.settings.key(run_id, *parts)

    def _fetch(self, key: str) -> tuple[str, dict[str, Any]] | None:
        try:
            response = self.client.get_object(Bucket=self.settings.bucket, Key=key)
        except Exception as exc:
            if is_missing(exc):
                return None
            if error_code(exc):
                raise client_error(exc, f"reading {self.settings.url(key)}") from None
            raise
        try:
            return response["ETag"], json.loads(response["Body"].read())
        except ValueError as exc:  # bad JSON, or not UTF-8
            raise corrupt(self.settings.url(key), exc) from None
        except RecursionError:  # no run log nests this deep
            raise corrupt(self.settings.url(key), TOO_DEEP) from None

    def _read(self, key: str) -> dict[str, Any] | None:
        found = self._fetch(key)
        if found is None:
            self._seen().pop(key, None)
            return None
        self._seen()[key] = found
        return found[1]

    def _put_json(self, key: str, data: dict[str, Any], what: str, **condition: str) -> Any:
        """Put ``data`` as JSON if ``condition`` holds: the response, or None when another
        writer's object stood in the way; any other failure is an error naming ``what``."""
        try:
            return self.client.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=dumps_ascii(data).encode("utf-8"),
                ContentType="application/json",
                **condition,
            )
        except Exception as exc:
            if not is_conflict(exc):
                if error_code(exc):
                    raise client_error(exc, what) from None
                raise
            return None

    def _write(self, key: str, data: dict[str, Any]) -> None:
        seen = self._seen()
        base = seen.get(key)
        for attempt in range(self.settings.max_conflict_retries + 1):
            condition = {"IfMatch": base[0]} if base else {"IfNoneMatch": "*"}
            where = f"writing {self.settings.url(key)}"
            response = self._put_json(key, data, where, **condition)
            if response is None:
                with self._lock:
                    self.conflicts += 1
                current = self._fetch(key)
                if current is not None:
                    data = merge3(base[1] if base else {}, data, current[1])
                base = current
                # full jitter, capped: spreads out a crowd of writers on one object
                time.sleep(random.uniform(0, min(0.25, 0.01 * 2**attempt)))
                continue
            seen[key] = (response["ETag"], data)
            return
        raise RunError(
            f"could not write {self.settings.url(key)}: "
            f"{self.settings.max_conflict_retries} conflicting writes in a row"
        )

    # -- primitives ---------------------------------------------------------------------
    def create_run_log(self, header: RunLog) -> tuple[RunLog, bool]:
        key = self._key(header.run_id, HEADER)
        data = to_data(header, "steps")
        response = self._put_json(key, data, f"creating run {header.run_id}", IfNoneMatch="*")
        if response is None:  # another container created it first
            return self.get_run_header(header.run_id), False
        self._seen()[key] = (response["ETag"], data)
        return self.get_run_header(header.run_id), True

    def get_run_header(self, run_id: str) -> RunLog:
        key = self._key(run_id, HEADER)
        data = self._read(key)
        if data is None:
            where = self.settings.url(self.settings.key(""))
            raise RunLogNotFound(f"no run log for run {run_id!r} in {where}")
        return from_data(RunLog, data, self.settings.url(key))

    def put_run_header(self, header: RunLog) -> None:
        key = self._key(header.run_id, HEADER)
        if key not in self._seen():
            self.get_run_header(header.run_id)  # must exist; also gives the ETag to match
        self._write(key, to_data(header, "steps"))

    def _load(self, run_id: str, kind: str, name: str, model: type[LogT]) -> LogT | None:
        key = self._key(run_id, kind, file_name(name))
        data = self._read(key)
        return from_data(model, data, self.settings.url(key)) if data is not None else None

    def _store(self, run_id: str, kind: str, log: StepLog | BranchLog, nested: str) -> None:
        """One step or branch log, without its nested logs (each is its own object)."""
        data = to_data(log, nested)
        self._write(self._key(run_id, kind, file_name(log.internal_name)), data)

    def _list(self, prefix: str, delimiter: str | None = None) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {"Bucket": self.settings.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(**kwargs)
        except Exception as exc:
            if error_code(exc):
                raise client_error(exc, f"listing {self.settings.url(prefix)}") from None
            raise

    def iter_logs(self, run_id: str) -> Iterable[StepLog | BranchLog]:
        self.get_run_header(run_id)
        for sub, model in self.KINDS:
            for page in self._list(self._key(run_id, sub) + "/"):
                for item in page.get("Contents", ()):
                    found = self._fetch(item["Key"])
                    if found is not None:
                        yield from_data(model, found[1], self.settings.url(item["Key"]))

    def list_run_ids(self) -> list[str]:
        root = self.settings.key("")
        runs: list[tuple[str, str]] = []
        for page in self._list(root, delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                run_id = common["Prefix"][len(root) :].rstrip("/")
                try:
                    head = self.client.head_object(
                        Bucket=self.settings.bucket, Key=self._key(run_id, HEADER)
                    )
                except Exception as exc:
                    if is_missing(exc) or error_code(exc) == "404":
                        continue
                    raise
                runs.append((head["LastModified"].isoformat(), run_id))
        return [run_id for _, run_id in sorted(runs, reverse=True)]
