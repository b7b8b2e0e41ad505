"""Safe YAML loading that remembers where every mapping key came from.

PyYAML's C parser is used when present; our constructor records the line of each mapping
and of each of its keys, rejects duplicate keys (PyYAML keeps the last one silently) and
refuses aliases that expand into huge documents. Line numbers are 1-based.

Every value loaded can be encoded as JSON (parameters travel in the run log as JSON):
explicit tags other than !!str, !!int, !!float, !!bool and !!null are refused with their
line, and an unquoted date or time (``2024-01-01``, which YAML 1.1 resolves to a timestamp)
stays the string as written, as YAML 1.2 reads it.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from magnus_render.errors import PipelineError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: values a document may hold once its aliases are expanded (a 100,000-step pipeline holds
#: about a million); a "billion laughs" document is refused long before this.
MAX_EXPANDED_NODES = 20_000_000
#: how deeply mappings and lists may nest
MAX_DEPTH = 500


@dataclass
class SourceMap:
    """Lines of mappings and of their keys, looked up by the mapping object itself."""

    file: str
    _lines: dict[int, tuple[int, dict[Any, int]]] = field(default_factory=dict)
    _keep: list[Any] = field(default_factory=list)

    def record(self, mapping: dict, line: int, key_lines: dict[Any, int]) -> None:
        self._lines[id(mapping)] = (line, key_lines)
        self._keep.append(mapping)  # ids stay valid only while the object lives

    def line_of(self, mapping: Any, key: Any = None) -> int | None:
        entry = self._lines.get(id(mapping))
        if entry is None:
            return None
        if key is None:
            return entry[0]
        return entry[1].get(key, entry[0])


_MERGE = object()
_NO_KEY = object()
_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
#: the only scalar tags kept: each is a JSON type (!!timestamp, !!binary, !!set, !!omap,
#: !!python/... and local !tags are refused)
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str")
)
_PLAIN_TYPES = "only strings, numbers, booleans, null, lists and mappings are allowed"


def _short_tag(tag: str) -> str:
    """A tag as it is written in YAML: ``!!binary``, not ``tag:yaml.org,2002:binary``."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


class _Frame:
    """One open mapping or sequence while events stream in."""

    __slots__ = (
        "anchor",
        "container",
        "is_map",
        "key",
        "key_line",
        "key_lines",
        "line",
        "merges",
        "size",
    )

    def __init__(self, container: Any, is_map: bool, line: int, anchor: str | None) -> None:
        self.container = container
        self.is_map = is_map
        self.line = line
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.key_lines: dict[Any, int] = {}
        self.merges: list[dict] = []
        self.size = 1


class _EventConstructor:
    """Builds Python objects straight from libyaml's events.

    Skipping PyYAML's node graph and generator-based constructor saves much of the load
    time, and every mapping's key lines come for free from the event marks. Aliases share
    objects (no copy), and the size they would expand to is counted so that a "billion
    laughs" document is refused before anything walks it.
    """

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.safe = yaml.constructor.SafeConstructor()
        self.resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers
        self.anchors: dict[str, tuple[Any, int]] = {}

    def error(self, message: str, line: int | None) -> PipelineError:
        return PipelineError(message, self.source_map.file, line)

    def scalar(self, event: Any) -> Any:
        value = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if tag == "!" or not event.implicit[0]:
                return value  # quoted or '!': always a string
            for resolved, regexp in self.resolvers.get(value[:1], ()):
                if regexp.match(value):
                    tag = resolved
                    break
            else:
                return value
            if tag == "tag:yaml.org,2002:merge":
                return _MERGE
            if tag == _TIMESTAMP_TAG:
                return value  # an unquoted date stays the text written (see module docstring)
        if tag == _STR_TAG:
            return value
        make = self.safe.yaml_constructors.get(tag) if tag in _SCALAR_TAGS else None
        if make is None:
            raise self.error(
                f"unsupported YAML tag {_short_tag(tag)!r} ({_PLAIN_TYPES})",
                event.start_mark.line + 1,
            )
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return make(self.safe, node)
        except (yaml.YAMLError, KeyError, IndexError, ValueError, TypeError, OverflowError) as exc:
            shown = value if len(value) <= 40 else f"{value[:37]}..."
            kind = tag.rpartition(":")[2]
            reason = str(exc).split(":")[0] if isinstance(exc, ValueError) else "not valid"
            raise self.error(
                f"invalid {kind} value {shown!r}: {reason}", event.start_mark.line + 1
            ) from None

    def build(self, text: str) -> Any:
        stack: list[_Frame] = []
        root: Any = None
        documents = 0
        expanded = 0
        strings: dict[str, str] = {}  # plain scalars already known to resolve to themselves
        scalar_event = yaml.ScalarEvent
        # Any: dispatched on ``type(event) is ...`` (faster than isinstance, which mypy
        # would need to narrow the event's type)
        event: Any
        for event in yaml.parse(text, Loader=_BaseLoader):
            kind = type(event)
            anchor = None
            if kind is scalar_event:
                size, anchor = 1, event.anchor
                value = strings.get(event.value) if event.tag is None else None
                if value is None:
                    value = self.scalar(event)
                    if type(value) is str and event.tag is None and event.implicit[0]:
                        strings[value] = value  # plain and resolved to a string: reusable
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                is_map = kind is yaml.MappingStartEvent
                if event.tag not in (None, "!", _COLLECTION_TAGS[0 if is_map else 1]):
                    raise self.error(
                        f"unsupported YAML tag {_short_tag(event.tag)!r} ({_PLAIN_TYPES})",
                        event.start_mark.line + 1,
                    )
                frame = _Frame(
                    {} if is_map else [], is_map, event.start_mark.line + 1, event.anchor
                )
                if event.anchor is not None:
                    self.anchors[event.anchor] = (frame.container, 0)  # 0: still open
                stack.append(frame)
                if len(stack) > MAX_DEPTH:
                    raise self.error(f"YAML nested more than {MAX_DEPTH} levels deep", frame.line)
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                frame = stack.pop()
                value, size, anchor = frame.container, frame.size, frame.anchor
                if frame.is_map:
                    self._finish_map(frame)
            elif kind is yaml.AliasEvent:
                line = event.start_mark.line + 1
                if event.anchor not in self.anchors:
                    raise self.error(f"unknown alias *{event.anchor}", line)
                value, size = self.anchors[event.anchor]
                if size == 0:
                    raise self.error(
                        f"alias *{event.anchor} refers to a node that contains it", line
                    )
                expanded += size
                if expanded > MAX_EXPANDED_NODES:
                    raise self.error(
                        f"aliases expand this document past {MAX_EXPANDED_NODES:,} values: "
                        "refusing it (billion laughs)",
                        line,
                    )
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self.error(
                        "expected one YAML document, found more than one", event.start_mark.line + 1
                    )
                continue
            else:
                continue
            if anchor is not None:
                self.anchors[anchor] = (value, size)
            if not stack:
                root = value
                continue
            frame = stack[-1]
            frame.size += size
            if frame.size > MAX_EXPANDED_NODES:
                raise self.error(
                    f"aliases expand this document past {MAX_EXPANDED_NODES:,} "
                    "values: refusing it (billion laughs)",
                    frame.line,
                )
            if not frame.is_map:
                frame.container.append(value)
            elif frame.key is _NO_KEY:
                self._set_key(frame, value, event.start_mark.line + 1)
            else:
                self._set_value(frame, value)
        return root

    def _set_key(self, frame: _Frame, key: Any, line: int) -> None:
        if key is not _MERGE:
            try:
                previous = frame.key_lines.get(key)
            except TypeError:
                raise self.error(
                    "a mapping key must be a plain value, not a list or mapping", line
                ) from None
            if previous is not None:
                raise self.error(f"duplicate key {key!r} (first defined on line {previous})", line)
            frame.key_lines[key] = line
        frame.key = key
        frame.key_line = line

    def _set_value(self, frame: _Frame, value: Any) -> None:
        key = frame.key
        frame.key = _NO_KEY
        if key is _MERGE:
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in merged):
                raise self.error(
                    "a merge key '<<' needs a mapping or a list of mappings", frame.key_line
                )
            frame.merges.extend(merged)
            return
        frame.container[key] = value

    def _finish_map(self, frame: _Frame) -> None:
        mapping = frame.container
        for merged in frame.merges:
            for key, value in merged.items():
                if key not in mapping:
                    mapping[key] = value
                    frame.key_lines[key] = frame.line
        self.source_map.record(mapping, frame.line, frame.key_lines)


def load_yaml_text(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text safely; raise PipelineError with file:line on any syntax problem."""
    source_map = SourceMap(file)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # parsing creates a million objects and no cycles; GC passes cost 3x
    try:
        data = _EventConstructor(source_map).build(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
            problem = "a tab character where YAML allows only spaces (indent with spaces)"
        if "nesting depth" in problem:  # libyaml >= 0.2.6 (PyYAML 6.0.4 wheels) stops first
            raise PipelineError(f"YAML nested too deeply ({problem})", file, line) from None
        raise PipelineError(f"YAML syntax error: {problem}", file, line) from None
    except yaml.reader.ReaderError as exc:  # a control character: not a MarkedYAMLError
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise PipelineError(
            f"YAML syntax error: {exc.reason} (found {char!r})", file, line
        ) from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"YAML error: {exc}", file, None) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a bad !!timestamp value
        raise PipelineError(f"invalid YAML value: {exc}", file, None) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    return data, source_map


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column, or '' (only used to explain an error)."""
    lines = text.split("\n", line + 1)
    if line >= len(lines):
        return ""
    row = lines[line]
    return row[column] if column < len(row) else ""


def load_yaml_file(path: Path) -> tuple[Any, SourceMap]:
    """Read and parse a YAML file; a missing or unreadable file is a PipelineError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipelineError("file not found", str(path)) from None
    except IsADirectoryError:
        raise PipelineError("is a directory, not a file", str(path)) from None
    except UnicodeDecodeError as exc:
        raise PipelineError(f"not UTF-8 text ({exc.reason})", str(path)) from None
    except OSError as exc:
        raise PipelineError(f"cannot read: {exc.strerror}", str(path)) from None
    return load_yaml_text(text, str(path))
