"""Executor base: graph traversal and failure routing, shared by every executor.

Subclasses decide only *where* a node runs, through :meth:`Executor.run_node`:
- in this process (``local``, ``mocked``): call :func:`nodes.execute_node`;
- elsewhere: subclass :class:`NodeTriggeringExecutor` and implement
  :meth:`trigger_node`, which launches the ``magnus execute_single_node`` argv; the
  outcome is then read from the run log. Drivers that may be restarted (``k8s-job``,
  ``local-container``, ``aws-batch``) subclass :class:`.driver.RemoteDriverExecutor`.
Settings come through the one settings path (:mod:`magnus_render.settings`).
Composites are opened and closed here (cheap bookkeeping) and their branches traversed
through :meth:`run_branches`, which executors may parallelise.
"""

from __future__ import annotations

import subprocess
from abc import abstractmethod
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from magnus_render.contract.protocol import encode_map_variable, node_argv, with_options
from magnus_render.pipeline.ir import Node, NodeKind, resolve_name
from magnus_render.runtime import nodes
from magnus_render.runtime.context import RunContext
from magnus_render.runtime.traverse import GraphWalker, InProcessWalker
from magnus_render.settings import check_overrides, load_settings, step_settings
from magnus_render.stores.models import Status


class ExecutorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: named dict patches of settings that steps select with ``overrides: {<type>: name}``
    overrides: dict[str, dict[str, Any]] = {}


class Executor(GraphWalker):
    """A walker (:class:`~magnus_render.runtime.traverse.GraphWalker`: the traversal and
    failure routing) with the config's ``executor`` settings and their checks."""

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[ExecutorSettings]] = ExecutorSettings
    #: what one step's settings are (None: ``settings_model``), and the keys an override
    #: may set (None: that model's fields)
    step_model: ClassVar[type[BaseModel] | None] = None
    step_fields: ClassVar[Collection[str] | None] = None
    #: run log store types this executor can work with (None: any)
    needs_multi_process_store: ClassVar[bool] = False
    #: True: Ctrl-C stays a KeyboardInterrupt anywhere and SIGTERM keeps its default
    #: (drivers of remote work); False: runtime.interrupt handles both (local runs)
    own_signal_handling: ClassVar[bool] = False

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: the validated ``executor.config``, of each executor's own ``settings_model``
        self.settings: Any = load_settings(self.settings_model, ctx.config, "executor")

    # -- integration checks ------------------------------------------------------------
    def validate(self) -> None:
        """Refuse bad pairs of executor and services before anything runs."""
        if self.needs_multi_process_store and not self.ctx.store.multi_process_safe:
            raise self.ctx.config.error(
                "run_log_store",
                f"the {self.ctx.store.name!r} run log store cannot be shared between processes;"
                f" the {self.name!r} executor with these settings needs file-system or"
                " chunked-fs (or a remote store)",
            )
        check_overrides(
            self.settings,
            self.name,
            self.step_model or self.settings_model,
            self.ctx.config,
            self.ctx.pipeline.graph.walk(),
            allowed=self.step_fields,
        )

    def step_settings(self, node: Node) -> Any:
        """The settings of one step (a ``step_model``, else a ``settings_model``): the
        executor's, with the step's ``overrides: {<executor>: NAME}`` patch deep-merged in
        (:mod:`magnus_render.settings`; :meth:`validate` checked every patch)."""
        return step_settings(self.settings, self.name, node, self.step_model or self.settings_model)


class LocalNodeExecutor(Executor, InProcessWalker):
    """Runs every node in this process through the shared node-execution path
    (:class:`~magnus_render.runtime.traverse.InProcessWalker`'s ``run_node``)."""


class NodeTriggeringExecutor(Executor):
    """Traverses here, runs each node elsewhere via ``magnus execute_single_node``."""

    needs_multi_process_store = True
    #: a driver handles Ctrl-C itself, and a restarted driver pod resumes after SIGTERM
    own_signal_handling = True

    def node_command(self, node: Node, map_variable: Mapping[str, Any]) -> list[str]:
        ctx = self.ctx
        return node_argv(
            ctx.run_id,
            node.internal_name,
            str(ctx.pipeline.file),
            encode_map_variable(map_variable),
            config_file=ctx.config_file,
            parameters_file=ctx.parameters_file,
            tag=ctx.tag,
            use_cached=ctx.use_cached,
        )

    @abstractmethod
    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        """Launch ``argv`` where this executor runs nodes; wait; return its exit code."""

    def run_node(self, node: Node, map_variable: Mapping[str, Any]) -> Status:
        resolved = resolve_name(node.internal_name, map_variable)
        if nodes.cached_success(self.ctx, node, resolved) is not None:
            # a re-run reuses it: recorded here, as its container would, without a launch
            return nodes.execute_node(self.ctx, node, map_variable)
        argv = self.node_command(node, map_variable)
        if node.kind is NodeKind.AS_IS:
            text = None
            if self.ctx.as_is_target and node.as_is is not None:
                text = node.as_is.text_for(self.ctx.as_is_target)
            if text is None:  # interactive, or no text for this target: nothing to run
                return nodes.execute_node(self.ctx, node, map_variable)
            argv = with_options(argv, "--as-is", text)  # launchers escape as their platform needs
        code = self.trigger_node(node, map_variable, argv)
        step = self.ctx.store.get_step_log(self.ctx.run_id, resolved)
        if step is None:
            return Status.FAIL if code else Status.SUCCESS
        return step.status


class SubprocessExecutor(NodeTriggeringExecutor):
    """Reference NodeTriggeringExecutor: each node in a fresh local process."""

    name = "local-subprocess"

    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        import sys

        argv = [sys.executable, "-m", "magnus_render.cli", *argv[1:]]
        return subprocess.run(argv, check=False).returncode
