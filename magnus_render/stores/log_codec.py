"""Run log models to and from stored JSON, for every store.

Why one module: the stores' hot paths decode with msgspec's typed JSON decoder (one C
pass, no intermediate dicts) and must turn what it refuses into one clear RunLogCorrupt
naming the stored object, never a traceback. Stored step logs carry no ``branches`` and
headers and branch logs no ``steps`` (each is stored on its own): :func:`to_data` leaves
that field out rather than writing it empty, as the stores always have.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from magnus_render.files import NotRegularFile, read_regular
from magnus_render.stores.models import LogModel, enc_hook
from magnus_render.stores.run_log_base import RunLogWriteError

_M = TypeVar("_M", bound=LogModel)


class RunLogCorrupt(RunLogWriteError):
    """A stored log that does not read back as a run log (hand-edited, bad JSON, a wrong
    type or an unknown key). Inside a run it fails the step and the run like a failed
    write (magnus cannot keep its books); elsewhere (`magnus show`) it is bad input."""

    exit_code = 2


_encoder = msgspec.json.Encoder(enc_hook=enc_hook)
#: why a record that makes a JSON parser exhaust Python's recursion limit cannot be read
TOO_DEEP = ValueError("its JSON is nested too deeply to be read")


def to_data(log: LogModel, nested: str | None = None) -> dict[str, Any]:
    """``log`` as plain JSON data (fields in declared order), without field ``nested``."""
    return log.model_dump(exclude={nested} if nested is not None else None)


def to_json(log: LogModel, nested: str | None = None) -> bytes:
    """Compact UTF-8 JSON of ``log`` without field ``nested`` (what chunked-fs stores)."""
    return _encoder.encode(log if nested is None else to_data(log, nested))


def dumps_ascii(data: Any) -> str:
    """Compact, ASCII-only JSON as ``json.dumps`` writes it: the file-system journal and
    s3 have always stored this (journal_scan relies on the escaping), so keeping it keeps
    their bytes, floats like ``1e+20`` and non-finite numbers included."""
    return json.dumps(data, separators=(",", ":"))


def from_json(model: type[_M], raw: bytes | str, where: str) -> _M:
    """Stored JSON as ``model``; RunLogCorrupt naming ``where`` when it is not one."""
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise corrupt(where, exc) from None
    except RecursionError:  # no run log nests this deep: a hand-edited or foreign file
        raise corrupt(where, TOO_DEEP) from None


def from_data(model: type[_M], data: Any, where: str | Callable[[], str]) -> _M:
    """Parsed JSON (a dict) as ``model``; RunLogCorrupt naming ``where`` when it is not one
    (a callable when naming it costs a read, as a journal's line number does)."""
    try:
        return msgspec.convert(data, model)
    except (msgspec.ValidationError, RecursionError) as exc:
        why = TOO_DEEP if isinstance(exc, RecursionError) else exc
        raise corrupt(where if isinstance(where, str) else where(), why) from None


def read_log_file(path: str | os.PathLike[str], offset: int = 0) -> bytes | None:
    """The bytes of a stored log file from ``offset``; None when there is none. Anything
    but a regular file there (a folder, a FIFO, a link to a device) is RunLogCorrupt,
    never read: a FIFO would wait for a writer forever, ``/dev/zero`` never end."""
    try:
        return read_regular(path, offset=offset)
    except FileNotFoundError:
        return None
    except NotRegularFile:
        raise corrupt(str(path), ValueError("it is not a regular file")) from None
    except OSError as exc:
        raise corrupt(str(path), ValueError(exc.strerror or str(exc))) from None


def corrupt(where: str, exc: Exception) -> RunLogCorrupt:
    return RunLogCorrupt(f"the run log {where} cannot be read: {exc}")
