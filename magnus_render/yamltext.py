"""The one YAML writer: every spec, manifest and pipeline file magnus writes goes through
``dump``, so the same data always gives the same bytes, whatever the target.

Why not PyYAML's dumper: its representer is pure Python even with ``CSafeDumper`` and
took most of a 10,000-step render (seconds); the documents hold only plain data (dict,
list, str, int, float, bool, None), so a small emitter does the same job several times
faster. Layout is PyYAML's block style (``- `` at its key's indent, ``{}``/``[]`` for
empty containers); lines are never folded, so a long value stays whole on its line.

Numbers: a float is written as PyYAML writes it (``1e+20`` becomes ``1.0e+20``, which
every YAML 1.1 and 1.2 reader takes for a float, not a string); infinity and NaN are
refused (:class:`NonFiniteNumber`), because no spec field can hold them and a loader
would read them back as ``.inf`` or a string.

Two quoting policies, one per kind of reader (each keeps its golden files byte for byte):

- ``STRICT`` (Argo specs): a string is plain only when it is a simple word or path
  (``step-1.Succeeded``, ``/tmp/x``) that no YAML 1.1 reader could take for anything
  else; everything else is double-quoted with YAML escapes, so ``{{...}}``, ``yes``,
  ``1:20`` and dates can never change meaning.
- ``PYYAML`` (Kubernetes manifests, pipeline files): PyYAML's own choice between plain,
  single- and double-quoted (its scalar analysis and resolver decide), and multi-line
  strings as ``|`` blocks, the way a person writes an embedded file or a shell command.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from magnus_render.errors import MagnusError


class NonFiniteNumber(MagnusError):
    """A float that is infinite or NaN in a document about to be written."""

    def __init__(self, path: str, value: float) -> None:
        self.path = path
        self.value = value
        where = f" at {path}" if path else ""
        super().__init__(
            f"{value!r}{where} is not a finite number; a rendered spec cannot hold "
            "infinity or NaN (use a finite number or a string)"
        )


@dataclass(frozen=True)
class Style:
    """How ``dump`` writes one kind of document."""

    #: keys in sorted order (Kubernetes manifests) or in the dicts' insertion order
    sort_keys: bool = False
    #: PyYAML's quoting choice (True) or the strict one (plain only for simple words)
    pyyaml_quoting: bool = False
    #: strings with a line break as ``|`` literal blocks (PyYAML quoting only)
    literal_blocks: bool = False
    #: printable non-ASCII characters written as they are, not escaped
    unicode: bool = False


#: Argo Workflows specs (strict quoting, insertion order)
STRICT = Style()
#: Kubernetes manifests and the files they embed (sorted keys, ASCII-only output)
MANIFEST = Style(sort_keys=True, pyyaml_quoting=True, literal_blocks=True)
#: pipeline files the SDK writes: keys in the order given, as a person would write them
SOURCE = Style(pyyaml_quoting=True, literal_blocks=True, unicode=True)


def float_text(value: float) -> str:
    """A finite float as PyYAML writes it: always readable back as the same float."""
    if not math.isfinite(value):
        raise NonFiniteNumber("", value)
    text = repr(float(value)).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def non_finite(data: Any) -> Iterator[tuple[Any, ...]]:
    """The path (keys and list indexes) of every infinite or NaN float in ``data``."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list | tuple):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, float) and not math.isfinite(node):
            yield path


def path_text(path: tuple[Any, ...]) -> str:
    """``('spec', 'templates', 2, 'name')`` as ``spec.templates[2].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def refuse_non_finite(data: Any) -> None:
    """Raise NonFiniteNumber naming the first infinite or NaN float in ``data``."""
    for path in non_finite(data):
        node = data
        for part in path:
            node = node[part]
        raise NonFiniteNumber(path_text(path), node)


def plain_text(value: bool | int | float | None) -> str:
    """A bool, None, int or finite float as YAML and JSON both write it (a float as
    ``float_text`` writes it: ``1.0e+20`` is a float to every YAML 1.1/1.2 and JSON reader)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float_text(value)
    raise TypeError(f"cannot write {type(value).__name__}: not plain data")


def dump(data: Any, style: Style = STRICT) -> str:
    """``data`` as block YAML text ending in a newline."""
    try:
        return _Writer(style).document(data)
    except NonFiniteNumber:
        refuse_non_finite(data)  # names where it is; the writer keeps no path (speed)
        raise


def dump_all(documents: list[Any], style: Style = STRICT) -> str:
    """Several documents, each ended as ``dump`` ends it, joined by ``---`` lines."""
    return "---\n".join(dump(doc, style) for doc in documents)


def scalar(value: Any, style: Style = STRICT) -> str:
    """One scalar (as a value) in the text ``dump`` would write for it."""
    return _Writer(style).scalar(value)


# -- strict quoting ------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_SIMPLE_QUOTED = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII without '"' and '\'
#: YAML 1.1 words that a plain scalar would turn into a bool or null
_RESERVED = frozenset(
    w
    for word in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for w in (word, word.capitalize(), word.upper())
)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _strict(value: str) -> str:
    if _PLAIN.fullmatch(value) and value not in _RESERVED:
        return value
    if _SIMPLE_QUOTED.fullmatch(value):
        return f'"{value}"'
    return '"' + "".join(_strict_escape(ch) for ch in value) + '"'


def _strict_escape(ch: str) -> str:
    found = _ESCAPES.get(ch)
    if found is not None:
        return found
    code = ord(ch)
    if 0x20 <= code < 0x7F or (code > 0x7F and ch.isprintable() and code != 0xFEFF):
        return ch
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


# -- PyYAML quoting ------------------------------------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_BREAKS = "\n\x85\u2028\u2029"
#: PyYAML's double-quote escapes
_PY_ESCAPES = {
    "\0": "0",
    "\x07": "a",
    "\x08": "b",
    "\t": "t",
    "\n": "n",
    "\x0b": "v",
    "\x0c": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}


#: PyYAML emitters (never written to) whose ``analyze_scalar`` decides the quoting, by
#: whether non-ASCII characters may be written as they are
_ANALYZERS = {
    unicode: yaml.emitter.Emitter(io.StringIO(), allow_unicode=unicode) for unicode in (False, True)
}


def _pyyaml(value: str, key: bool, style: Style) -> str:
    """Plain, ``'single'`` or ``"double"`` text, chosen as PyYAML's emitter chooses."""
    if any(ch in value for ch in _BREAKS):
        return _py_double(value, style.unicode)  # a line break only in a block or escaped
    analysis = _ANALYZERS[style.unicode].analyze_scalar(value)
    implicit = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
    if implicit and analysis.allow_block_plain and not (key and analysis.empty):
        return value
    if analysis.allow_single_quoted:
        return "'" + value.replace("'", "''") + "'"
    return _py_double(value, style.unicode)


def _py_double(value: str, unicode: bool) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\\x85\u2028\u2029\ufeff' or not (
            "\x20" <= ch <= "\x7e"
            or (unicode and ("\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"))
        ):
            if ch in _PY_ESCAPES:
                out.append("\\" + _PY_ESCAPES[ch])
            elif ch <= "\xff":
                out.append(f"\\x{ord(ch):02X}")
            elif ch <= "\uffff":
                out.append(f"\\u{ord(ch):04X}")
            else:
                out.append(f"\\U{ord(ch):08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _literal_allowed(value: str, style: Style) -> bool:
    if not (style.literal_blocks and style.pyyaml_quoting and "\n" in value):
        return False
    if any(ch in value for ch in _BREAKS[1:]):
        return False
    return bool(_ANALYZERS[style.unicode].analyze_scalar(value).allow_block)


def _literal(value: str, indent: str) -> tuple[str, bool]:
    """A ``|`` block (header and lines) and whether it keeps trailing line breaks (``+``),
    with PyYAML's hints: ``2`` when the text starts blank, ``-`` strips, ``+`` keeps."""
    hints = "2" if value[0] in " \n" else ""
    keep = False
    if value[-1] != "\n":
        hints += "-"
    elif len(value) == 1 or value[-2] == "\n":
        hints += "+"
        keep = True
    parts = value.split("\n")
    lines = [(indent + part if part else "") + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(indent + parts[-1] + "\n")
    return f"|{hints}\n" + "".join(lines), keep


# -- the writer ----------------------------------------------------------------------------


_CONTAINERS = (list, tuple)
#: the longest key a YAML reader takes in the short ``key: value`` form
_SIMPLE_KEY_MAX = 1024
_COLLECTIONS = (dict, list, tuple)
#: what ``_Writer.values`` holds for a string written as a ``|`` block (that needs the
#: indent, so it is written each time); no scalar's text is empty
_BLOCK = ""


class _Writer:
    """One document's worth of state: the output, caches of converted strings (keys and
    template names repeat thousands of times), and whether the text ends open (``|+``)."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.out: list[str] = []
        self.values: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.open_ended = False

    def document(self, data: Any) -> str:
        self.node(data, "", top=True)
        if self.open_ended:
            self.out.append("...\n")
        return "".join(self.out)

    def text(self, value: str, key: bool) -> str:
        """A string as a key, or as a value (``_BLOCK`` when it is to be a ``|`` block)."""
        cache = self.keys if key else self.values
        found = cache.get(value)
        if found is None:
            style = self.style
            if not style.pyyaml_quoting:
                found = _strict(value)
            elif not key and _literal_allowed(value, style):
                found = _BLOCK
            else:
                found = _pyyaml(value, key, style)
            cache[value] = found
        return found

    def scalar(self, value: Any, key: bool = False) -> str:
        if isinstance(value, str):
            text = value if type(value) is str else str.__str__(value)
            found = self.text(text, key)
            return found if found != _BLOCK else _pyyaml(text, key, self.style)
        return plain_text(value)

    def node(self, value: Any, indent: str, top: bool = False) -> None:
        """Write ``value``; the caller wrote the key (or '- ') and no newline yet."""
        out = self.out
        space = "" if top else " "
        if type(value) is str:
            found = self.values.get(value)
            if found is None:
                found = self.text(value, False)
            if found == _BLOCK:
                block, self.open_ended = _literal(value, indent)
                out.append(space + block)
                return
            out.append(space + found + "\n")
        elif isinstance(value, _COLLECTIONS):
            if not value:
                out.append(space + ("{}\n" if isinstance(value, dict) else "[]\n"))
            else:
                if not top:
                    out.append("\n")
                if isinstance(value, dict):
                    self.mapping(value, indent)
                else:
                    self.sequence(value, indent)
                return
        else:
            out.append(space + self.scalar(value) + "\n")
        self.open_ended = False

    def mapping(self, value: dict[Any, Any], indent: str, first_prefix: str | None = None) -> None:
        out = self.out
        keys = self.keys
        prefix = indent if first_prefix is None else first_prefix
        inner = indent + "  "
        items = sorted(value.items()) if self.style.sort_keys else value.items()
        for key, item in items:
            text = keys.get(key) if type(key) is str else None
            text = text or self.scalar(key, key=True)
            if len(text) > _SIMPLE_KEY_MAX:  # too long for ``key:``: the explicit ``? key``
                text = f"? {text}\n{indent}"
            out.append(prefix + text + ":")
            prefix = indent
            if item and isinstance(item, _CONTAINERS):
                out.append("\n")
                self.sequence(item, indent)  # PyYAML's style: "- " at the key's indent
            else:
                self.node(item, inner)

    def sequence(
        self, value: list[Any] | tuple[Any, ...], indent: str, first_prefix: str | None = None
    ) -> None:
        out = self.out
        prefix = indent if first_prefix is None else first_prefix
        inner = indent + "  "
        for item in value:
            if item and isinstance(item, dict):
                self.mapping(item, inner, first_prefix=prefix + "- ")
            elif item and isinstance(item, _CONTAINERS):
                self.sequence(item, inner, first_prefix=prefix + "- ")
            else:
                out.append(prefix + "-")
                self.node(item, inner)
            prefix = indent
