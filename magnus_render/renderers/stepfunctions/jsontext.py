"""Deterministic, readable JSON that is fast enough for 10,000-step definitions.

``json.dumps(indent=2)`` falls back to the pure-Python encoder (several seconds for a
10 MB definition) and puts every list item on its own line. This writer builds the text
bottom-up: a container whose items fit in ``WIDTH`` columns stays on one line, others
are indented by two spaces. Keys are sorted; output is ASCII, so the same input always
gives the same bytes. Numbers are written as the YAML writer writes them (``1.0e+20``);
infinity and NaN are not JSON: they are refused (``yamltext.NonFiniteNumber`` naming where
they are), never written as ``inf``.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from magnus_render.yamltext import NonFiniteNumber, plain_text, refuse_non_finite

WIDTH = 96


def dumps(value: Any) -> str:
    """The document as text with a trailing newline."""
    try:
        return _render(value, 0) + "\n"
    except NonFiniteNumber:
        refuse_non_finite(value)  # names where it is; the writer keeps no path (speed)
        raise


def _scalar(value: Any) -> str:
    return _quote(value) if isinstance(value, str) else plain_text(value)


def _render(value: Any, indent: int) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{_quote(key)}: {_render(value[key], indent + 2)}" for key in sorted(value)]
        return _join(items, "{", "}", indent)
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return _join([_render(v, indent + 2) for v in value], "[", "]", indent)
    return _scalar(value)


def _join(items: list[str], open_: str, close: str, indent: int) -> str:
    total = indent + 2 + sum(len(i) + 2 for i in items)
    if total <= WIDTH and not any("\n" in i for i in items):
        return open_ + ", ".join(items) + close
    pad = " " * (indent + 2)
    return open_ + "\n" + pad + f",\n{pad}".join(items) + "\n" + " " * indent + close
