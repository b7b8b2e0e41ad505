"""Deterministic block YAML for plain data (dicts, lists, str, int, float, bool, None).

Why not PyYAML's dumper: its representer is pure Python even with ``CSafeDumper`` and
took most of a 10,000-step render (seconds); the specs hold only plain data, so a small
emitter does the same job several times faster. Strings are plain when that cannot be
read back as anything else, otherwise double-quoted with YAML escapes; key order is the
dicts' insertion order. Tests check that ``yaml.safe_load`` gives back the same data.
"""

from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_SIMPLE_QUOTED = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII without '"' and '\'
#: YAML 1.1 words that a plain scalar would turn into a bool or null
_RESERVED = frozenset(
    w
    for word in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for w in (word, word.capitalize(), word.upper())
)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def scalar(value: Any) -> str:
    """One scalar in a form ``yaml.safe_load`` reads back as the same value."""
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value not in _RESERVED:
            return value
        if _SIMPLE_QUOTED.fullmatch(value):
            return f'"{value}"'
        return '"' + "".join(_escape(ch) for ch in value) + '"'
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if ("." in text or "e" in text) and text[0] != "." else f"{text}.0"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _escape(ch: str) -> str:
    found = _ESCAPES.get(ch)
    if found is not None:
        return found
    code = ord(ch)
    if 0x20 <= code < 0x7F or (code > 0x7F and ch.isprintable() and code != 0xFEFF):
        return ch
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def dump(data: Any) -> str:
    """``data`` as block YAML text ending in a newline."""
    out: list[str] = []
    _CACHE.clear()
    try:
        _node(data, "", out, top=True)
    finally:
        _CACHE.clear()
    return "".join(out)


#: strings already converted during one dump (keys and template names repeat thousands of times)
_CACHE: dict[str, str] = {}


def _text(value: Any) -> str:
    if type(value) is str:
        found = _CACHE.get(value)
        if found is None:
            found = _CACHE[value] = scalar(value)
        return found
    return scalar(value)


def _node(value: Any, indent: str, out: list[str], top: bool = False) -> None:
    """Write ``value``; the caller wrote the key (or '- ') and no newline yet."""
    if isinstance(value, dict):
        if not value:
            out.append(" {}\n" if not top else "{}\n")
            return
        if not top:
            out.append("\n")
        _mapping(value, indent, out)
    elif isinstance(value, list):
        if not value:
            out.append(" []\n" if not top else "[]\n")
            return
        if not top:
            out.append("\n")
        _sequence(value, indent, out)
    else:
        out.append(("" if top else " ") + _text(value) + "\n")


def _mapping(
    value: dict[str, Any], indent: str, out: list[str], first_prefix: str | None = None
) -> None:
    first = True
    for key, item in value.items():
        prefix = indent if not first or first_prefix is None else first_prefix
        out.append(prefix + _text(key) + ":")
        first = False
        if isinstance(item, list) and item:
            out.append("\n")
            _sequence(item, indent, out)  # PyYAML's style: "- " at the key's indent
        else:
            _node(item, indent + "  ", out)


def _sequence(value: list[Any], indent: str, out: list[str]) -> None:
    for item in value:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", out, first_prefix=indent + "- ")
        elif isinstance(item, list) and item:
            out.append(indent + "-\n")
            _sequence(item, indent + "  ", out)
        else:
            out.append(indent + "-")
            _node(item, indent + "  ", out)
