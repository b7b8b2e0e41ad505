"""The ``make`` target: a GNU Makefile with one make target per node.

Make's dependency graph is static, but a pipeline routes at run time (``next`` on success,
``on_failure`` or the fail node on failure). So every graph and branch gets a *driver*
target that loops: it makes one node target, reads the route that node wrote (the name of
the next node target, chosen from ``magnus execute_single_node``'s exit code: 0 next, 1
on_failure/fail, anything else stops the run) and makes that, until a terminal node.
Parallel and dag steps run ``magnus fan --mode out``, make their branch drivers (``-j
max_parallel`` at once) and ``magnus fan --mode in``; maps do the same once per item
``fan --mode out`` wrote. The run log is written only by those magnus commands, so it is
the one ``magnus execute`` writes.

Values known at render time (names, paths, settings) are single-quoted shell words with
``$`` doubled for make; values known only at run time (run id, map variable) travel in
environment variables, never through make's own expansion, so nothing can inject.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field

from magnus_render.plugin import (
    Graph,
    MagnusError,
    Node,
    NodeKind,
    Renderer,
    RenderResult,
    Route,
    Scope,
    TargetSettings,
    fan_argv,
    node_argv,
    with_options,
)

#: stand-ins handed to node_argv/fan_argv, replaced by shell expansions after quoting
_RUN_ID = "\0run-id\0"
_MAP_VAR = "\0map-variable\0"
_ITEMS = "\0items-file\0"
_EXPANSIONS = {_RUN_ID: '"$$RUN_ID"', _MAP_VAR: '"$$MK_MV"', _ITEMS: '"$$items"'}
#: route words a node target writes besides the next node target's name
_END, _FAIL = "end", "fail"
#: turns the items file (a JSON array of JSON strings) into NUL-separated items
_SPLIT_ITEMS = (
    'import json, sys; sys.stdout.write("".join(i + "\\0" for i in '
    'json.load(open(sys.argv[1], encoding="utf-8"))))'
)


class MakeSettings(TargetSettings):
    """``executor: {type: make, config: {...}}``."""

    #: branches of one parallel or dag step (``make -j``) or map iterations run at once
    max_parallel: int = Field(default=1, ge=1, le=1024)
    #: how the Makefile starts magnus, e.g. ["python3", "-m", "magnus_render.cli"]
    magnus_command: list[str] = Field(default_factory=lambda: ["magnus"], min_length=1)
    #: the interpreter that splits a map's items file (stdlib only)
    python_command: list[str] = Field(default_factory=lambda: ["python3"], min_length=1)


def word(text: str) -> str:
    """One shell word that reads back as ``text``, with ``$`` escaped for make."""
    if "\n" in text or "\r" in text:
        raise MagnusError(f"the make target cannot put a line break in a recipe: {text!r}")
    return shlex.quote(text).replace("$", "$$")


def _comment(text: str) -> str:
    """User text made safe for a ``#`` line (JSON escapes line breaks and backslashes)."""
    return "# " + json.dumps(text, ensure_ascii=False)


class MakeRenderer(Renderer):
    name: ClassVar[str] = "make"
    description: ClassVar[str] = "a GNU Makefile: one make target per node"
    settings_model: ClassVar[type[TargetSettings]] = MakeSettings

    def emitters(self) -> dict[NodeKind, Callable[..., Any]]:
        return {
            NodeKind.TASK: self._task,
            NodeKind.STUB: self._task,
            NodeKind.AS_IS: self._as_is,
            NodeKind.SUCCESS: self._terminal,
            NodeKind.FAIL: self._terminal,
            NodeKind.PARALLEL: self._composite,
            NodeKind.DAG: self._composite,
            NodeKind.MAP: self._map,
        }

    def render(self) -> RenderResult:
        settings = self.settings()
        assert isinstance(settings, MakeSettings)
        if self.options.image:
            self.warn("--image is ignored by the make target: steps run where make runs")
        scopes = list(self.scopes())
        self._drivers = {
            s.graph.internal_name: "run" if i == 0 else f"g{i}" for i, s in enumerate(scopes)
        }
        self._targets: dict[str, str] = {}
        for i, scope in enumerate(scopes):
            for j, node in enumerate(scope.graph):
                self._targets[node.internal_name] = f"n{i}_{j}"
        rules: list[str] = []
        for scope in scopes:
            rules.append(self._driver(scope.graph))
            for node, body in zip(scope.graph, self.visit(scope), strict=True):
                target = self._targets[node.internal_name]
                rules.append(f"{_comment(node.internal_name)}\n{target}:\n\t" + "\n\t".join(body))
        phony = sorted(self._drivers.values()) + list(self._targets.values())
        text = "\n".join(
            [
                self._header(settings),
                ".PHONY: " + " ".join(phony),
                "",
                "\n\n".join(rules),
                "",
            ]
        )
        return RenderResult(text, self.warnings)

    def _header(self, settings: MakeSettings) -> str:
        return f"""\
# Generated by `magnus-render --target make` from {json.dumps(self.options.pipeline_file)};
# do not edit, re-render.
#
# Usage: make -f THIS_FILE [RUN_ID=ID] [TAG=TAG] [USE_CACHED=OLD_RUN_ID]
# Runs the pipeline from the current directory: one make target per node, each running
# `magnus execute_single_node` (a run id is generated when none is given). Parallelism
# comes from max_parallel; do not pass -j. Exit code: 0 when the run succeeded, 2 (make's
# code for a failed recipe) when it failed or could not run: `magnus show RUN_ID` says why.
# Needs GNU make >= 3.82 and bash.

SHELL := /bin/bash
.SHELLFLAGS := -O extglob -u -o pipefail -c
.ONESHELL:
.SILENT:
.SUFFIXES:
.DEFAULT_GOAL := run
MAKEFLAGS += --no-builtin-rules --no-print-directory
SELF := $(lastword $(MAKEFILE_LIST))
MAGNUS := {" ".join(word(w) for w in settings.magnus_command)}
PYTHON := {" ".join(word(w) for w in settings.python_command)}
MAX_PARALLEL := {settings.max_parallel}
RUN_OPTS = $${{TAG:+--tag "$$TAG"}} $${{USE_CACHED:+--use-cached "$$USE_CACHED"}}
# sub-makes are not $(MAKE) lines (make -n stays dry), so they get no jobserver: drop its
# option, or under `-j $(MAX_PARALLEL)` every one warns "jobserver unavailable"
SUBMAKE = MAKEFLAGS="$${{MAKEFLAGS// --jobserver-@(auth|fds)=+([^ ])}}" $(MAKE) -f '$(SELF)'
"""

    # -- graphs: a driver target each ----------------------------------------------------
    def _driver(self, graph: Graph) -> str:
        """The loop that makes node targets along the routes they write."""
        root = graph.internal_name == ""
        title = _comment("graph " + (graph.internal_name or "(root)"))
        head = f"{title}\n{self._drivers[graph.internal_name]}:\n\t"
        lines: list[str] = []
        if root:
            lines += [
                'export RUN_ID="$${RUN_ID:-$$(date -u +%Y%m%d%H%M%S)-$$$$-$$RANDOM}"',
                'echo "run id: $$RUN_ID" >&2',
            ]
        lines += [
            'route=$$(mktemp "$${TMPDIR:-/tmp}/magnus-make.XXXXXX") || exit 2',
            "trap 'rm -f -- \"$$route\"' EXIT",
            f"step={self._targets[graph.node(graph.start_at).internal_name]}",
            "while :; do",
            '  MK_ROUTE="$$route" $(SUBMAKE) "$$step" || exit 2',
            '  step=$$(<"$$route")',
            # only the whole run fails make; a branch's failure is the fan-in's to roll up
            f"  case $$step in {_END}) exit 0 ;; {_FAIL}) exit {1 if root else 0} ;; esac",
            "done",
        ]
        return head + "\n\t".join(lines)

    # -- routes ---------------------------------------------------------------------------
    def _route(self, node: Node, on_success: str, on_failure: str) -> str:
        """Write the next target for exit code 0 or 1; any other code stops the run."""
        stop = f'echo "error: magnus exited $$rc for step" {word(node.internal_name)} >&2'
        return (
            f"case $$rc in 0) echo {on_success} ;; 1) echo {on_failure} ;; "
            f'*) {stop}; exit $$rc ;; esac >"$$MK_ROUTE"'
        )

    def _next(self, route: Route, scope: Scope) -> tuple[str, str]:
        """The node targets of the route's success and failure (``Graph.route``)."""
        graph = scope.graph
        assert route.next is not None and route.on_failure is not None  # not terminal
        ok, failed = graph.node(route.next), graph.node(route.on_failure)
        return self._targets[ok.internal_name], self._targets[failed.internal_name]

    def _call(self, argv: list[str]) -> str:
        """The command as recipe words; the run options follow the subcommand, since the
        run id and step name after ``--`` must stay the last words."""
        words = [_EXPANSIONS.get(w) or word(w) for w in argv[1:]]
        return f"$(MAGNUS) {words[0]} $(RUN_OPTS) " + " ".join(words[1:])

    def _node_call(self, node: Node, in_map: bool) -> str:
        argv = node_argv(self.options, _RUN_ID, node.internal_name, _MAP_VAR if in_map else None)
        return self._call(argv) + " || rc=$$?"

    def _fan_call(self, node: Node, mode: str, in_map: bool, items: bool = False) -> str:
        argv = fan_argv(
            self.options,
            _RUN_ID,
            node.internal_name,
            mode,
            _MAP_VAR if in_map else None,
            _ITEMS if items else None,
        )
        return self._call(argv) + " || rc=$$?"

    # -- emitters (node kind -> recipe lines) ----------------------------------------------
    def _task(self, node: Node, route: Route, scope: Scope) -> list[str]:
        ok, failed = self._next(route, scope)
        return ["rc=0", self._node_call(node, scope.in_map), self._route(node, ok, failed)]

    def _as_is(self, node: Node, route: Route, scope: Scope) -> list[str]:
        """An as-is step runs its render_string (``sh -c``, recorded by magnus); without
        one for this target it is recorded as a stub, like a task."""
        text = self.as_is_text(node)
        if text is None:
            return self._task(node, route, scope)
        ok, failed = self._next(route, scope)
        argv = node_argv(
            self.options, _RUN_ID, node.internal_name, _MAP_VAR if scope.in_map else None
        )
        call = self._call(with_options(argv, "--as-is", text)) + " || rc=$$?"
        return ["rc=0", call, self._route(node, ok, failed)]

    def _terminal(self, node: Node, route: Route, scope: Scope) -> list[str]:
        ok = _END if route.ends is NodeKind.SUCCESS else _FAIL
        return ["rc=0", self._node_call(node, scope.in_map), self._route(node, ok, _FAIL)]

    def _composite(self, node: Node, route: Route, scope: Scope) -> list[str]:
        ok, failed = self._next(route, scope)
        drivers = " ".join(self._drivers[b.internal_name] for b in node.branches)
        return [
            "rc=0",
            self._fan_call(node, "out", scope.in_map),
            "if ((rc == 0)); then",
            f"  $(SUBMAKE) -j $(MAX_PARALLEL) {drivers} || exit 2",
            "  " + self._fan_call(node, "in", scope.in_map),
            "fi",
            self._route(node, ok, failed),
        ]

    def _map(self, node: Node, route: Route, scope: Scope) -> list[str]:
        ok, failed = self._next(route, scope)
        driver = self._drivers[node.branch.internal_name]
        return [
            'rc=0; items=$$(mktemp "$${TMPDIR:-/tmp}/magnus-make.XXXXXX") || exit 2',
            'trap \'rm -f -- "$$items" "$$items.0"\' EXIT',
            self._fan_call(node, "out", scope.in_map, items=True),
            "if ((rc == 0)); then",
            f'  $(PYTHON) -c {word(_SPLIT_ITEMS)} "$$items" >"$$items.0" || exit 2',
            # iterations max_parallel at a time; a stopped one starts no more, ends the run.
            # `wait PID`, oldest first, not `wait -n`: bash 5.2's `wait -n` may answer 127
            # ("no child") while an iteration still runs, once a finished one left the job
            # table, which stopped healthy maps now and then.
            "  pids=(); stop=0",
            "  while ((stop == 0)) && IFS= read -r -d '' item; do",
            f'    MK_MV="$$item" $(SUBMAKE) {driver} &',
            "    pids+=($$!)",
            "    if (($${#pids[@]} >= $(MAX_PARALLEL))); then",
            '      wait "$${pids[0]}" || stop=1; pids=("$${pids[@]:1}")',
            "    fi",
            '  done <"$$items.0"',
            '  for pid in "$${pids[@]}"; do wait "$$pid" || stop=1; done',
            "  ((stop == 0)) || exit 2",
            "  " + self._fan_call(node, "in", scope.in_map),
            "fi",
            self._route(node, ok, failed),
        ]
