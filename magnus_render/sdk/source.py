"""Where the user's code made an SDK object: errors point at that Python line.

The SDK's own frames (and the ``magnus`` compatibility package's) are skipped, so the
location is the user's ``Task(...)`` or ``a >> b`` line, not ours.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_OWN_DIRS: tuple[str, ...] = (
    str(Path(__file__).resolve().parent),
    str(Path(__file__).resolve().parent.parent.parent / "magnus"),
)


@dataclass(frozen=True, slots=True)
class Location:
    """A file and 1-based line of the user's code."""

    file: str
    line: int


@lru_cache(maxsize=512)
def _is_own(filename: str) -> bool:
    if filename.startswith("<") and filename != "<stdin>" and not filename.startswith("<ipy"):
        return True  # pydantic/dataclass generated code, frozen importlib
    try:
        resolved = str(Path(filename).resolve())
    except OSError:
        return False
    return any(resolved.startswith(own + "/") for own in _OWN_DIRS)


def caller() -> Location:
    """The innermost frame outside the SDK: the user's line that called us."""
    frame = sys._getframe(1)
    while frame is not None and _is_own(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return Location("<sdk>", 1)
    return Location(frame.f_code.co_filename, frame.f_lineno)
