"""Find the latest record of one log in a run log journal without parsing the journal.

Why: a container runs one step and reads a handful of logs (the run header, its own step
log, a branch log), but replaying the journal parses every record of the run, so the last
step of a 5,000-step run paid for 5,000 JSON documents. Here the journal's bytes are
searched from the end for the record's fixed prefix (and, for a step or branch, for its
``"internal_name":"..."`` field) and only candidate lines are parsed.

Why this is exact: records are ``json.dumps`` output (``ensure_ascii``, no spaces), one per
line; inside a JSON string a quote is always escaped, so a line can start with
``{"k":"run","v":`` only when it is a run record, and a step's record holds the bytes
``"internal_name":<its name as JSON>``. Every candidate is parsed and checked, so a value
that merely contains those bytes is never taken for the record; a line that does not parse
(torn by a killed writer) is skipped, as a replay skips it.
"""

from __future__ import annotations

import json
from typing import Any


class TooDeep(ValueError):
    """A whole record nested too deeply to parse (no run log is: a hand-edited journal);
    ``line`` is its 1-based line, for the caller's RunLogCorrupt."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is nested too deeply to be read")
        self.line = line


_PREFIX = {kind: b'{"k":"%s","v":' % kind.encode() for kind in ("run", "step", "branch")}


def latest(data: bytes, kind: str, name: str | None = None) -> dict[str, Any] | None:
    """The value of the last whole record of ``kind`` (and internal ``name``) in ``data``,
    which holds whole lines only; None when there is none."""
    found = _find(data, kind, name)
    return found[1] if found is not None else None


def line_of(data: bytes, kind: str, name: str | None = None) -> int | None:
    """The 1-based line of that record (for error messages), None when there is none."""
    found = _find(data, kind, name)
    return data.count(b"\n", 0, found[0]) + 1 if found is not None else None


def _find(data: bytes, kind: str, name: str | None) -> tuple[int, dict[str, Any]] | None:
    """(offset of the line, value) of the last whole record of ``kind`` (and ``name``)."""
    prefix = _PREFIX[kind]
    needle = prefix if name is None else b'"internal_name":' + json.dumps(name).encode()
    end = len(data)
    while True:
        hit = data.rfind(needle, 0, end)
        if hit < 0:
            return None
        start = data.rfind(b"\n", 0, hit) + 1
        stop = data.find(b"\n", hit)
        end = start  # the next candidate is on an earlier line
        if not data.startswith(prefix, start):
            continue
        try:
            record = json.loads(data[start : stop if stop >= 0 else len(data)])
        except ValueError:
            continue
        except RecursionError:
            raise TooDeep(data.count(b"\n", 0, start) + 1) from None
        if not isinstance(record, dict) or record.get("k") != kind:
            continue
        value = record.get("v")
        if isinstance(value, dict) and (name is None or value.get("internal_name") == name):
            return start, value
