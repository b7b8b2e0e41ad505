"""The ``shell`` target: one bash script calling back into magnus for every node (the
orchestrators' container protocol, so its run log is ``magnus execute``'s). Each graph is a
bash function, a state machine over node indexes in an order where every route points
forward; the emitters return each node's data and ``templates/shell.sh.j2`` writes it out.
User text only appears as quoted words or JSON-escaped comments, so it cannot inject."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, field_validator

from magnus_render.pipeline.ir import Node, NodeKind, Route
from magnus_render.pipeline.route import topological
from magnus_render.renderers import base  # the container command lines (node_argv, ...)
from magnus_render.renderers.base import Renderer, RenderResult, Scope, TargetSettings
from magnus_render.renderers.scripting import check_script, comment, quote, template
from magnus_render.renderers.scripting import find_shellcheck as find_shellcheck
from magnus_render.settings import env_names

#: stand-ins handed to node_argv/fan_argv, replaced by shell expansions after quoting
_RUN_ID, _MAP_VAR, _ITEMS, _NAME = "\0run-id\0", "\0map-variable\0", "\0items-file\0", "\0name\0"
_AS_IS_ENV, _AS_IS_RC, _SIGNAL = "\0as-is-env\0", "\0as-is-rc\0", "\0signal\0"
_EXPANSIONS = {_RUN_ID: '"$RUN_ID"', _MAP_VAR: '"$mv"', _ITEMS: '"$items"', _NAME: _NAME}
_EXPANSIONS.update({_AS_IS_ENV: '"$asis"', _AS_IS_RC: '"$rc"', _SIGNAL: '"$2"'})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class ShellOverride(TargetSettings):
    """What a step may change through ``overrides: {shell: NAME}``."""

    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        return env_names(env, _ENV_NAME)


class ShellSettings(TargetSettings):
    """``executor: {type: shell, config: {...}}``."""

    #: branches or map iterations of one composite step run at once (1: one after another)
    max_parallel: int = Field(default=1, ge=1, le=1024)
    #: how the script starts magnus, e.g. ["python3", "-m", "magnus_render.cli"]
    magnus_command: list[str] = Field(default_factory=lambda: ["magnus"], min_length=1)
    #: the interpreter that reads a map's items file (stdlib only)
    python_command: list[str] = Field(default_factory=lambda: ["python3"], min_length=1)
    #: per-step settings, chosen by a step's ``overrides: {shell: NAME}``
    overrides: dict[str, ShellOverride] = Field(default_factory=dict)


def _mv(scope: Scope) -> str | None:
    return _MAP_VAR if scope.in_map else None


def _words(argv: list[str]) -> str:
    """argv after the program name as shell words; stand-ins become quoted expansions."""
    return " ".join(_EXPANSIONS.get(word) or quote(word) for word in argv[1:])


class ShellRenderer(Renderer):
    name: ClassVar[str] = "shell"
    description: ClassVar[str] = "one bash script calling magnus for every node"
    settings_model: ClassVar[type[TargetSettings]] = ShellSettings
    step_model = ShellOverride

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        """Node kind -> the data of its block in the template's state machine."""
        task, end, fan = self._task, self._end, self._fan
        return {
            **{NodeKind.TASK: task, NodeKind.STUB: task, NodeKind.AS_IS: self._as_is},
            **{NodeKind.SUCCESS: end, NodeKind.FAIL: end},
            **{NodeKind.PARALLEL: fan, NodeKind.MAP: fan, NodeKind.DAG: fan},
        }

    def render(self) -> RenderResult:
        from magnus_render.contract.protocol import interrupted_argv

        settings = self.settings()
        assert isinstance(settings, ShellSettings)
        self._settings, self._calls = settings, dict[bool, tuple[str, str]]()
        if self.options.image:
            self.warn("--image is ignored by the shell target: steps run where the script runs")
        found = list(self.scopes())
        self._functions = {s.graph.internal_name: f"g{i}" for i, s in enumerate(found)}
        stop = interrupted_argv(_RUN_ID, _SIGNAL, self.options.config_file)
        text = template("shell.sh.j2").render(
            source=comment(self.options.pipeline_file),
            magnus_command=" ".join(quote(w) for w in settings.magnus_command),
            python_command=" ".join(quote(w) for w in settings.python_command),
            max_parallel=settings.max_parallel,
            functions=[self._function(scope) for scope in found],
            interrupted_call='"${MAGNUS[@]}" ' + _words(stop),
        )
        return RenderResult(text, self.warnings)

    def validate(self, text: str) -> None:
        """``--validate``: bash parses the script, and shellcheck (when installed) is silent."""
        self.warnings.extend(check_script(text))

    def _function(self, scope: Scope) -> dict[str, Any]:
        """One bash function: a block per node in topological order, each guarded by the
        step index, so a run passes every block once (linear in the graph's size)."""
        graph, order = scope.graph, topological(scope.graph)
        self._index = {node.name: i for i, node in enumerate(order)}
        local = ['mv="$1"'] if scope.in_map else []
        local.append(f"step={self._index[graph.start_at]}")
        if any(node.kind is NodeKind.MAP for node in graph):
            local.append("items=''")
        if any(n.as_is is not None and n.as_is.text_for(self.name) is not None for n in graph):
            local += ["asis=''", "text=''", "kv=''", "rc=0"]
        return {
            "name": self._functions[graph.internal_name],
            "title": comment(graph.internal_name or "(root)"),
            "locals": " ".join(local),
            "blocks": self.visit(scope, order),
        }

    # -- emitters: (node, its route, its scope) -> one block of the state machine --------
    def _block(self, kind: str, route: Route, **data: Any) -> dict[str, Any]:
        """Block ``step``; ``ok`` and ``failed``: the steps its outcome leads to, if any."""
        index = self._index
        if route.next is not None and route.on_failure is not None:
            data["ok"], data["failed"] = index[route.next], index[route.on_failure]
        return {"kind": kind, "step": index[route.node.name], **data}

    def _task(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        return self._block("task", route, call=self._call(node, scope))

    def _end(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        code = "return" if route.ends is NodeKind.SUCCESS else "return 1"
        return self._block("end", route, call=self._call(node, scope), exit=code)

    def _fan(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        mv, mapped = '"$mv"' if scope.in_map else "''", node.kind is NodeKind.MAP
        functions = [self._functions[b.internal_name] for b in node.branches]
        jobs = functions[0] if mapped else " ".join(f"{f} {mv}" for f in functions)
        out, fan_in = self._fan_call(node, "out", scope, mapped), self._fan_call(node, "in", scope)
        return self._block("map" if mapped else "fan", route, out=out, jobs=jobs, fan_in=fan_in)

    def _as_is(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        """The render_string in a subshell under ``bash -e -o pipefail``, between
        ``--as-is-begin`` (its environment file: empty when a re-run reuses the step) and
        ``--as-is-end`` (its exit code, which routes like a task's)."""
        text = self.as_is_text(node)
        if text is None:
            return self._task(node, route, scope)
        argv = base.node_argv(self.options, _RUN_ID, node.internal_name, _mv(scope))
        begin, end = (
            f"{self._env(node)}_magnus {_words(base.with_options(argv, flag, word))}"
            for flag, word in (("--as-is-begin", _AS_IS_ENV), ("--as-is-end", _AS_IS_RC))
        )
        # the here-document's delimiter carries a hash of the text: no line can end it early
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        lines = text if text.endswith("\n") else text + "\n"
        title, delimiter = comment(node.internal_name), f"MAGNUS_AS_IS_{digest}"
        data = {"begin": begin, "end": end, "lines": lines, "delimiter": delimiter}
        return self._block("as-is", route, title=title, **data)

    # -- command lines -------------------------------------------------------------------
    def _call(self, node: Node, scope: Scope) -> str:
        """node_argv's words around the node name are built once per kind of scope, so
        rendering stays linear and cheap per node."""
        cached = self._calls.get(scope.in_map)
        if cached is None:
            argv = base.node_argv(self.options, _RUN_ID, _NAME, _mv(scope))
            head, _, tail = _words(argv).partition(_NAME)
            cached = self._calls[scope.in_map] = ("_magnus " + head, tail)
        return f"{self._env(node)}{cached[0]}{quote(node.internal_name)}{cached[1]}"

    def _fan_call(self, node: Node, mode: str, scope: Scope, items: bool = False) -> str:
        name, items_file = node.internal_name, _ITEMS if items else None
        argv = base.fan_argv(self.options, _RUN_ID, name, mode, _mv(scope), items_file)
        return self._env(node) + "_magnus " + _words(argv)

    def _env(self, node: Node) -> str:
        """``NAME=value `` prefixes from the step's shell override, if it names one."""
        if self.name not in node.overrides:
            return ""
        override = self.step_settings(self._settings, node)
        return "".join(f"{k}={quote(v)} " for k, v in sorted(override.env.items()))
