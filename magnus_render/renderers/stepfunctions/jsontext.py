"""Deterministic, readable JSON that is fast enough for 100,000-step definitions.

``json.dumps(indent=2)`` falls back to the pure-Python encoder (several seconds for a
10 MB definition) and puts every list item on its own line. In this layout a container
whose items fit in ``WIDTH`` columns stays on one line, others are indented by two
spaces. Keys are sorted; output is ASCII, so the same input always gives the same bytes.

Why it is fast: a container's one-line form is exactly the compact text of the C
encoder (``", "`` and ``": "`` separators, sorted keys), and a container fits on its line
at ``indent`` iff ``indent + 2 + len(compact) <= WIDTH`` (its items then fit too: they
are shorter and indented by only two more). So only the containers that span lines are
walked in Python; a one-line container is one C call, made only after a bounded look
(``_may_fit``) says that it can fit. ``size`` counts the bytes without keeping the text
and stops early once past a limit, so "does it fit 1 MB?" costs O(1 MB), not O(text).
A list that spans lines is rendered once per indent and object (``Memo``): the builder
shares one Retry list between all states of the same settings.

Numbers are written as the YAML writer writes them (``1.0e+20``), so a container holding a
float (or anything but str, int, bool and None) is written on one line by Python, not by
the C encoder; infinity and NaN are not JSON: they are refused
(``yamltext.NonFiniteNumber`` naming where they are), never written as ``inf``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from magnus_render.yamltext import NonFiniteNumber, plain_text, refuse_non_finite

WIDTH = 96
#: (id of a list, indent) -> (the list, its text or size); the list is kept so that its id
#: is not reused while the entry lives
Memo = dict[tuple[int, int], tuple[Any, Any]]
#: ``dump_to`` may hand text over only between items of containers indented less than this
_FLUSH_DEPTH = 8
#: texts of lists longer than this are not remembered (a list that big is rarely shared)
_MEMO_TEXT = 4096


def _not_json(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")


def _make_compact() -> Callable[[Any], str]:
    """The C encoder called directly (``JSONEncoder.encode`` rebuilds it on every call);
    the pure-Python one where ``_json`` is missing (json.encoder then sets it to None)."""
    from json.encoder import c_make_encoder  # type: ignore[attr-defined]  # untyped, public

    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(
            ensure_ascii=True, sort_keys=True, separators=(", ", ": "), allow_nan=False
        ).encode
    encoder = c_make_encoder(None, _not_json, _quote, None, ": ", ", ", True, False, False)
    return lambda value: "".join(encoder(value, 0))


_compact_c = _make_compact()
#: scalars the C encoder writes exactly as ``_scalar`` does (str is checked apart)
_PLAIN = frozenset({int, bool, type(None)})
#: ``_may_fit`` answers
_NO, _C, _PYTHON = 0, 1, 2


def _scalar(value: Any) -> str:
    return _quote(value) if isinstance(value, str) else plain_text(value)


def _compact_py(value: Any) -> str:
    """The one-line form written by Python (``_scalar`` for every scalar)."""
    if isinstance(value, dict):
        items = (f"{_quote(key)}: {_compact_py(value[key])}" for key in sorted(value))
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_compact_py(item) for item in value) + "]"
    return _scalar(value)


def _named(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function(value, ...)``, a non-finite float reported with where it is."""

    def call(value: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(value, *args, **kwargs)
        except NonFiniteNumber:
            refuse_non_finite(value)  # names where it is; the writer keeps no path (speed)
            raise

    call.__doc__ = function.__doc__
    call.__name__ = function.__name__
    return call


@_named
def dumps(value: Any) -> str:
    """The document as text with a trailing newline."""
    out = io.StringIO()
    _write(value, 0, out.write, None, {})
    out.write("\n")
    return out.getvalue()


@_named
def dump_to(value: Any, sink: Callable[[str], Any], pieces: int = 2_000) -> None:
    """``dumps(value)`` handed to ``sink`` in parts of about ``pieces`` pieces, so that a
    100 MB definition is written without ever holding its whole text."""
    parts: list[str] = []

    def flush() -> None:
        if len(parts) >= pieces:
            sink("".join(parts))
            parts.clear()

    _write(value, 0, parts.append, flush, {})
    parts.append("\n")
    sink("".join(parts))


@_named
def size(value: Any, limit: int | None = None, memo: Memo | None = None) -> int:
    """``len(dumps(value))`` without keeping the text; once it is surely over ``limit``,
    some number over ``limit`` (counting stops early). ``memo`` may be shared by calls."""
    return _size(value, 0, limit if limit is not None else -1, {} if memo is None else memo) + 1


def _one_line(value: Any, indent: int) -> str | None:
    """The compact text when ``value`` (a non-empty container) fits its line, else None."""
    room = WIDTH - indent - 2
    how = _may_fit(value, room)
    if how == _NO:
        return None
    text = _compact_c(value) if how == _C else _compact_py(value)
    return text if len(text) <= room else None


def _may_fit(value: Any, room: int) -> int:
    """``_NO`` when a lower bound of the compact length already exceeds ``room`` (about
    ``room`` steps at most, so a big container costs O(1) here); else ``_C`` when the C
    encoder writes it as ``_compact_py`` would, ``_PYTHON`` when it holds a float or any
    type but the exact plain ones (counted as one character: still a lower bound)."""
    used = 0
    how = _C
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            used += 2 + 4 * len(item)  # braces, and '"": ' or ', ' per key at least
            if used > room:
                return _NO
            for key, sub in item.items():
                if type(sub) is str:
                    used += len(key) + len(sub) + 2
                    if used > room:
                        return _NO
                elif type(sub) is dict or type(sub) is list:
                    used += len(key)
                    stack.append(sub)
                else:
                    used += len(key) + 1
                    if type(sub) not in _PLAIN:
                        how = _PYTHON
        elif type(item) is list:
            used += 2 * len(item)
            if used > room:
                return _NO
            for sub in item:
                if type(sub) is str:
                    used += len(sub) + 2
                elif type(sub) is dict or type(sub) is list:
                    stack.append(sub)
                else:
                    used += 1
                    if type(sub) not in _PLAIN:
                        how = _PYTHON
        else:  # a tuple or a subclass at the top: not walked, Python decides
            return _PYTHON
        if used > room:
            return _NO
    return how


def _write(
    value: Any,
    indent: int,
    write: Callable[[str], Any],
    flush: Callable[[], None] | None,
    memo: Memo,
) -> None:
    """Append the text of ``value`` at ``indent``; ``flush``, when given, after each item of
    the outer containers (the inner ones are small)."""
    inner = flush if indent < _FLUSH_DEPTH else None
    if isinstance(value, dict):
        if not value:
            write("{}")
            return
        text = _one_line(value, indent)
        if text is not None:
            write(text)
            return
        pad = " " * (indent + 2)
        sep = "{\n" + pad
        for key in sorted(value):
            item = value[key]
            if type(item) is str:
                write(sep + _quote(key) + ": " + _quote(item))
            else:
                write(sep + _quote(key) + ": ")
                _write(item, indent + 2, write, inner, memo)
            if inner is not None:
                inner()
            sep = ",\n" + pad
        write("\n" + " " * indent + "}")
        return
    if isinstance(value, list | tuple):
        if not value:
            write("[]")
            return
        hit = memo.get((id(value), indent))
        seen = False
        if hit is not None and hit[0] is value:
            if hit[1] is not None:
                write(hit[1])
                return
            seen = True
        text = _one_line(value, indent)
        if text is not None:
            write(text)
            return
        parts: list[str] = []
        pad = " " * (indent + 2)
        sep = "[\n" + pad
        for item in value:
            if type(item) is str:
                parts.append(sep + _quote(item))
            else:
                parts.append(sep)
                _write(item, indent + 2, parts.append, None, memo)
            sep = ",\n" + pad
        parts.append("\n" + " " * indent + "]")
        text = "".join(parts)
        # the text is kept from the second time on: most lists are seen only once
        memo[(id(value), indent)] = (value, text if seen and len(text) < _MEMO_TEXT else None)
        write(text)
        return
    write(_scalar(value))


def _size(value: Any, indent: int, limit: int, memo: Memo) -> int:
    """Bytes of ``value`` rendered at ``indent``; with ``limit`` >= 0, stops once over it."""
    if isinstance(value, dict):
        if not value:
            return 2
        text = _one_line(value, indent)
        if text is not None:
            return len(text)
        # per item: '{' or ',', newline, pad, key, ': ', value; then newline, pad, '}'
        total = len(value) * (indent + 6) + indent + 2
        for key, item in value.items():
            if type(item) is str:
                total += len(_quote(key)) + len(_quote(item))
            else:
                total += len(_quote(key)) + _size(item, indent + 2, limit, memo)
            if 0 <= limit < total:
                return total
        return total
    if isinstance(value, list | tuple):
        if not value:
            return 2
        hit = memo.get((id(value), indent))
        if hit is not None and hit[0] is value:
            return int(hit[1])
        text = _one_line(value, indent)
        if text is not None:
            return len(text)
        total = len(value) * (indent + 4) + indent + 2
        for item in value:
            if type(item) is str:
                total += len(_quote(item))
            else:
                total += _size(item, indent + 2, limit, memo)
            if 0 <= limit < total:
                return total  # a partial count: not remembered
        memo[(id(value), indent)] = (value, total)
        return total
    return len(_scalar(value))
