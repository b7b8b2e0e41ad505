"""The mocked executor (magnus's semantics): every task succeeds without running, except
the steps named in ``patches``, which run with the patched command instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from magnus_render.pipeline.ir import Node, NodeKind
from magnus_render.runtime import nodes
from magnus_render.runtime.executors.base import ExecutorSettings, LocalNodeExecutor
from magnus_render.settings import key_error
from magnus_render.stores.models import Status

_PATCHABLE = {"command", "command_type", "notebook_output_path", "optional_ploomber_args"}


class MockedSettings(ExecutorSettings):
    #: step name (or internal name) -> fields of the task to replace
    patches: dict[str, dict[str, Any]] = {}


class MockedExecutor(LocalNodeExecutor):
    name = "mocked"
    settings_model = MockedSettings

    def validate(self) -> None:
        super().validate()
        known = {n.name for n in self.ctx.pipeline.graph.walk()}
        known |= {n.internal_name for n in self.ctx.pipeline.graph.walk()}
        for step, patch in self.settings.patches.items():
            if step not in known:
                raise key_error(self.ctx.config, "executor", ("patches", step), "no such step")
            for key in sorted(set(patch) - _PATCHABLE):
                why = f"a task's {key!r} cannot be patched (only {', '.join(sorted(_PATCHABLE))})"
                raise key_error(self.ctx.config, "executor", ("patches", step, key), why)

    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        if node.kind is not NodeKind.TASK:
            return nodes.execute_node(self.ctx, node, map_variable)
        patch = self.settings.patches.get(node.internal_name) or self.settings.patches.get(
            node.name
        )
        if patch is None:
            return nodes.execute_node(self.ctx, node, map_variable, mock=True)
        return nodes.execute_node(self.ctx, patched(node, patch), map_variable)


def patched(node: Node, patch: Mapping[str, Any]) -> Node:
    """A task node with some TaskSpec fields replaced (the mocked executor's patches)."""
    from magnus_render.pipeline.ir import CommandType

    assert node.task is not None
    fields: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "command_type":
            value = CommandType(value)
        fields[key] = value
    return replace(node, task=replace(node.task, **fields))
