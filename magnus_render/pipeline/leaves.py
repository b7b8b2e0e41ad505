"""Leaf nodes (task, as-is, stub, success, fail) from their validated step models.

The builder (build.py) walks graphs and composite nodes; a step that has no branches is
turned into its IR node here, with the checks that only apply to one kind of step.
"""

from __future__ import annotations

import re
from typing import Any

from magnus_render.errors import Diagnostic
from magnus_render.pipeline import spec
from magnus_render.pipeline.checks import suggest
from magnus_render.pipeline.ir import AsIsSpec, CommandType, Node, NodeKind, TaskSpec, freeze
from magnus_render.pipeline.yaml_source import SourceMap

#: step models without branches, built by :func:`leaf_node`
LEAF_MODELS = (spec.TaskModel, spec.AsIsModel, spec.StubModel, spec.SuccessModel, spec.FailModel)
COMMAND_TYPES = {c.value: c for c in CommandType}
_KINDS = {t: NodeKind(t) for t in spec.NODE_MODELS}


def leaf_node(
    model: Any,
    step_name: str,
    raw: dict,
    smap: SourceMap,
    common: dict[str, Any],
    diagnostics: list[Diagnostic],
) -> Node:
    """The IR node of a leaf step; problems are appended to ``diagnostics``."""

    def error(message: str, line: int | None) -> None:
        diagnostics.append(Diagnostic(message, smap.file, line))

    if isinstance(model, spec.TaskModel):
        if model.command_type != "notebook" and (
            model.notebook_output_path or model.optional_ploomber_args
        ):
            key = (
                "notebook_output_path" if model.notebook_output_path else ("optional_ploomber_args")
            )
            error(
                f"step {step_name!r}: {key} applies only to notebook tasks",
                smap.line_of(raw, key),
            )
        for key in ("command", "notebook_output_path"):
            if "\0" in (getattr(model, key) or ""):  # no command line or file name holds one
                error(f"step {step_name!r}: {key} contains a NUL byte", smap.line_of(raw, key))
        if model.command_type == "python" and not _is_dotted_path(model.command):
            error(
                f"step {step_name!r}: a python command must be 'module.function', "
                f"got {model.command!r}",
                smap.line_of(raw, "command"),
            )
        task = TaskSpec(
            command=model.command,
            command_type=COMMAND_TYPES[model.command_type],
            notebook_output_path=model.notebook_output_path,
            optional_ploomber_args=freeze(model.optional_ploomber_args),
        )
        return Node(NodeKind.TASK, task=task, max_attempts=model.max_attempts, **common)
    if isinstance(model, spec.AsIsModel):
        if model.render_string is not None and model.command_config is not None:
            error(
                f"as-is step {step_name!r}: give render_string either on the step or "
                "under command_config, not both",
                smap.line_of(raw, "command_config"),
            )
        as_is = AsIsSpec(freeze(model.texts()), model.command)
        return Node(NodeKind.AS_IS, as_is=as_is, **common)
    if isinstance(model, spec.StubModel):
        warn_stub_typos(model, step_name, raw, smap, diagnostics)
        return Node(NodeKind.STUB, extras=freeze(model.model_extra or {}), **common)
    if isinstance(model, spec.SuccessModel):
        return Node(NodeKind.SUCCESS, **common)
    if isinstance(model, spec.FailModel):
        return Node(NodeKind.FAIL, **common)
    raise AssertionError(f"unhandled leaf model {type(model).__name__}")


def warn_stub_typos(
    model: spec.StubModel,
    step_name: str,
    raw: dict,
    smap: SourceMap,
    diagnostics: list[Diagnostic],
) -> None:
    """A stub accepts any extra key (as magnus does), so a misspelt ``next`` would pass
    silently; an extra key close to a real field gets a warning with the suggestion."""
    fields = [f for f in spec.node_fields("stub") if f != "type"]
    for key in model.model_extra or {}:
        hint = suggest(str(key), fields)
        if hint:
            diagnostics.append(
                Diagnostic(
                    f"stub step {step_name!r} ignores field {key!r}{hint}",
                    smap.file,
                    smap.line_of(raw, key),
                    severity="warning",
                )
            )


def kind_of(raw: Any) -> NodeKind | None:
    node_type = raw.get("type") if isinstance(raw, dict) else None
    return _KINDS.get(node_type) if isinstance(node_type, str) else None


def placeholder(name: str, raw: Any) -> Node:
    """A stand-in for a step that failed to build, carrying whatever wiring it declares."""
    fields = raw if isinstance(raw, dict) else {}
    next_node = fields.get("next")
    on_failure = fields.get("on_failure")
    return Node(
        kind_of(raw) or NodeKind.STUB,
        name=name,
        internal_name=name,
        next_node=next_node if isinstance(next_node, str) else None,
        on_failure=on_failure if isinstance(on_failure, str) else None,
    )


_DOTTED_PATH = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)+")


def _is_dotted_path(command: str) -> bool:
    return _DOTTED_PATH.fullmatch(command) is not None
