"""ASL-legal names derived from internal names, and intrinsic-function string literals.

Step names may hold any character but '.' and '%', while ASL state names are at most 80
characters and Batch job names allow only letters, digits, '-' and '_'. A derived name
keeps the readable part and, whenever it had to change anything, appends a hash of the
original so two different steps can never end up with the same name.
"""

from __future__ import annotations

import base64
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


#: words that can be intrinsic-function string literals with no escaping at all
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9 _./:=,@+\-]*$")


def literal(text: str) -> str:
    """``text`` as an intrinsic-function argument that evaluates to exactly ``text``.

    Plain words become '...' literals. Anything with a quote, brace or backslash (every
    step inside a map has ``{map}`` in its name) is passed as
    ``States.Base64Decode('...')``: the spec's backslash escapes are not applied the same
    way by every interpreter (moto 5.2.5 keeps the backslashes), a base64 literal needs
    none, and any step name round-trips byte for byte.
    """
    if _PLAIN_WORD.match(text):
        return f"'{text}'"
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"States.Base64Decode('{encoded}')"


def s3_key_part(state: str) -> str:
    """A state name made safe for one S3 key segment (state names are already ASCII)."""
    return state.replace("/", "_")


def substitution(part: str) -> str:
    """CloudFormation DefinitionSubstitutions placeholder for a nested machine's ARN."""
    return "${" + substitution_key(part) + "}"


def substitution_key(part: str) -> str:
    """The DefinitionSubstitutions key of a nested machine (the template and the ASL agree)."""
    return "Arn" + "".join(c for c in part.title() if c.isalnum())
