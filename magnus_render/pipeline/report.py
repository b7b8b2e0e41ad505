"""Pydantic validation errors of one step -> diagnostics with file, line and a suggestion."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from magnus_render.errors import Diagnostic
from magnus_render.pipeline import spec
from magnus_render.pipeline.checks import suggest
from magnus_render.pipeline.yaml_source import SourceMap


def validation_diagnostics(
    exc: ValidationError,
    step_name: str,
    node_type: str,
    raw: dict,
    smap: SourceMap,
    step_line: int | None,
) -> list[Diagnostic]:
    """One diagnostic per pydantic error: the line of the offending key and a message
    that names the step, the field and a suggestion for an unknown one."""
    out: list[Diagnostic] = []
    fields = spec.node_fields(node_type)
    for err in exc.errors():
        loc = err["loc"]
        mapping, key = _locate(raw, loc)
        line = smap.line_of(mapping, key) if key is not None else smap.line_of(mapping)
        if err["type"] == "missing" and mapping is raw:
            line = step_line or line  # a missing field is missing from the step itself
        field_path = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            hint = suggest(str(loc[-1]), fields) if len(loc) == 1 else ""
            message = f"unknown field {field_path!r} on {node_type} step {step_name!r}{hint}"
        elif err["type"] == "missing":
            message = f"{node_type} step {step_name!r} is missing required field {field_path!r}"
        elif loc and loc[-1] == "[key]":
            where = ".".join(str(p) for p in loc[:-2])
            message = (
                f"{node_type} step {step_name!r}: {loc[-2]!r} under {where!r} must be a string name"
            )
        else:
            shown = _shorten(err.get("input"))
            message = (
                f"{node_type} step {step_name!r}: field {field_path!r}: "
                f"{err['msg'].removeprefix('Value error, ').lower()} (got {shown})"
            )
        out.append(Diagnostic(message, smap.file, line))
    return out


def _shorten(value: Any) -> str:
    """A repr short enough for one message line (a huge int cannot even be repr'd)."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    try:
        shown = repr(value)
    except ValueError:
        return f"a {type(value).__name__}"
    return shown if len(shown) < 60 else shown[:57] + "..."


def _locate(raw: dict, loc: tuple) -> tuple[Any, Any]:
    """The innermost mapping on ``loc`` and the key within it, for a line number."""
    mapping: Any = raw
    key: Any = None
    parent: Any = None
    parent_key: Any = None
    for part in loc:
        if part == "[key]" and parent is not None:  # the key itself is wrong: its own line
            return parent, parent_key
        if isinstance(mapping, dict) and part in mapping:
            parent, parent_key = mapping, part
            key = part
            value = mapping[part]
            if not isinstance(value, dict):
                break
            mapping, key = value, None
        else:
            key = part if isinstance(mapping, dict) else key
            break
    return mapping, key
