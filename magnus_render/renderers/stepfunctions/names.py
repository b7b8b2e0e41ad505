"""ASL-legal names derived from internal names, and intrinsic-function string literals.

Step names may hold any character but '.' and '%', while ASL state names are at most 80
characters and Batch job names allow only letters, digits, '-' and '_'. A derived name
keeps the readable part and, whenever it had to change anything, appends a hash of the
original so two different steps can never end up with the same name.
"""

from __future__ import annotations

import hashlib
import re

from magnus_render.pipeline.ir import MAP_PLACEHOLDER

MAX_STATE_NAME = 80
MAX_JOB_NAME = 128
_UNSAFE_STATE = re.compile(r"[^A-Za-z0-9_.\-]")
_UNSAFE_JOB = re.compile(r"[^A-Za-z0-9_\-]")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def _shorten(original: str, cleaned: str, limit: int) -> str:
    if cleaned == original and len(cleaned) <= limit:
        return cleaned
    return f"{cleaned[: limit - 9]}-{_digest(original)}"


def state_name(internal_name: str, role: str = "") -> str:
    """The state name of a node (``role`` empty) or of a helper state (fan-out, ...)."""
    readable = internal_name.replace(MAP_PLACEHOLDER, "map")
    original = internal_name + (f".{role}" if role else "")
    full = readable + (f".{role}" if role else "")
    cleaned = _UNSAFE_STATE.sub("_", full)
    # "{map}" -> "map" is a change too, but an unambiguous one (a map node has one branch)
    if cleaned == full and len(cleaned) <= MAX_STATE_NAME:
        return cleaned
    return _shorten(original, cleaned, MAX_STATE_NAME)


def job_name(state: str) -> str:
    """A Batch job name for a state (letters, digits, '-', '_'; starts alphanumeric)."""
    cleaned = _UNSAFE_JOB.sub("-", state).strip("-_") or "step"
    if not cleaned[0].isalnum():
        cleaned = f"s{cleaned}"
    # job names need not be unique (the run log keys steps by internal name): no hash
    return cleaned[:MAX_JOB_NAME]


def literal(text: str) -> str:
    """``text`` as a single-quoted intrinsic-function string (', {, } and \\ escaped)."""
    escaped = re.sub(r"([\\'{}])", r"\\\1", text)
    return f"'{escaped}'"


def s3_key_part(state: str) -> str:
    """A state name made safe for one S3 key segment (state names are already ASCII)."""
    return state.replace("/", "_")
