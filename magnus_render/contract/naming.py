"""Orchestrator-legal names (DNS-1123 labels) derived from pipeline names.

Step names may hold any character but ``.`` and ``%``, while Kubernetes and Argo want
``[a-z0-9]([-a-z0-9]*[a-z0-9])?`` and at most 63 characters. :func:`dns_label` maps any
text to such a label; when it had to change or shorten the text it appends a hash of the
*original* text, so distinct inputs stay distinct and a name never depends on the order
in which names were asked for. :class:`UniqueNames` gives names unique within one scope
(a DAG's tasks, a workflow's templates) and prefers the short readable form (``step_1``
becomes ``step-1``) when it is free, falling back to the hashed form, then to longer
hashes: specs stay small and readable, and names depend only on the scope's contents.

API (shared by the Argo and Kubernetes Jobs targets):

- ``is_dns_label(text, max_length=63) -> bool``
- ``dns_label(text, max_length=63, hash_length=8) -> str``
- ``UniqueNames(max_length=63, reserved=(), letter_first=False).name(key, text=None)``
  (same key, same name)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable

__all__ = ["MAX_LABEL", "UniqueNames", "dns_label", "is_dns_label"]

MAX_LABEL = 63
_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_INVALID_RUN = re.compile(r"[^a-z0-9]+")


def is_dns_label(text: str, max_length: int = MAX_LABEL) -> bool:
    """True when ``text`` is a legal DNS-1123 label of at most ``max_length`` characters."""
    return 0 < len(text) <= max_length and _LABEL.fullmatch(text) is not None


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _readable(text: str, max_length: int) -> str:
    """Lowercase, invalid runs as '-', when that fits unshortened; else ''."""
    readable = _INVALID_RUN.sub("-", text.lower()).strip("-")
    return readable if is_dns_label(readable, max_length) else ""


def dns_label(text: str, max_length: int = MAX_LABEL, hash_length: int = 8) -> str:
    """A legal DNS-1123 label for ``text``: unchanged if already legal, else a readable
    lowercase form plus ``-<hash of text>`` (stable across runs and machines)."""
    if max_length < hash_length + 2:
        raise ValueError(f"max_length {max_length} leaves no room for a {hash_length}-char hash")
    if is_dns_label(text, max_length):
        return text
    readable = _INVALID_RUN.sub("-", text.lower()).strip("-")
    room = max_length - hash_length - 1
    readable = readable[:room].rstrip("-")
    suffix = _digest(text, hash_length)
    return f"{readable}-{suffix}" if readable else f"x{suffix}"[:max_length]


class UniqueNames:
    """Hands out distinct DNS labels within one scope; asking twice for a key repeats.

    Each key gets :func:`dns_label` of its text. If that label is already taken by another
    key, the key's own hash (longer each time) is appended until the label is free, so the
    result is deterministic for a deterministic order of requests.
    """

    def __init__(
        self,
        max_length: int = MAX_LABEL,
        reserved: tuple[str, ...] = (),
        letter_first: bool = False,
    ) -> None:
        #: start every name with a letter (Argo's depends expressions misread leading digits)
        self.letter_first = letter_first
        self.max_length = max_length
        self._by_key: dict[Hashable, str] = {}
        self._taken: set[str] = set(reserved)

    def name(self, key: Hashable, text: str | None = None) -> str:
        """The label for ``key``, derived from ``text`` (default: ``str(key)``)."""
        found = self._by_key.get(key)
        if found is not None:
            return found
        source = str(key) if text is None else text
        if self.letter_first and _INVALID_RUN.sub("", source.lower())[:1].isdigit():
            source = f"n-{source}"
        label = _readable(source, self.max_length)
        if not label or label in self._taken:
            label = dns_label(source, self.max_length)
        length = 8
        while label in self._taken:
            length += 4
            salted = f"{source}\x00{key!r}"
            stem = _INVALID_RUN.sub("-", source.lower()).strip("-")
            stem = stem[: self.max_length - length - 1].rstrip("-") or "x"
            label = f"{stem}-{_digest(salted, length)}"
            if length > 40:
                raise ValueError(f"cannot find a unique name for {source!r}")
        self._taken.add(label)
        self._by_key[key] = label
        return label

    def __contains__(self, label: str) -> bool:
        return label in self._taken


def check_run_id(run_id: str, flag: str = "run id") -> str:
    """A run id every store and target can use as a key or a name part (a target makes it
    orchestrator-legal with :func:`dns_label` and the like)."""
    ok = run_id and len(run_id) <= 200 and all(c.isalnum() or c in "-_" for c in run_id)
    if not ok or run_id.startswith((".", "-")):
        from magnus_render.errors import RunError

        raise RunError(f"invalid {flag} {run_id!r}: use letters, digits, '-' and '_' (at most 200)")
    return run_id
