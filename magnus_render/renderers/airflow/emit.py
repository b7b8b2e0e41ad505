"""Writes the DAG file: Python source whose values are literals, built line by line.

Layout of the output: a docstring, imports that work on Airflow 2.10+ and 3.x, constants
(the shell each task runs, the run id template, the pod settings), helpers (``step`` makes
a step's task, ``succeeded``/``failed`` its route tasks), then the DAG: every graph's tasks
first, then its routes as ``>>`` lines. Names are task ids (DNS labels, see naming.py);
user text reaches the file only through ``repr``/``json`` (comments) or shlex-quoted words.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from magnus_render.pipeline.ir import Graph, Node, NodeKind
from magnus_render.renderers.airflow.routing import routes

_JINJA = re.compile(r"\{\{|\{%|\{#")
#: environment variables a task's shell reads (never ``MAGNUS_*``: those are magnus's)
ENV_RUN_ID = "MR_AIRFLOW_RUN_ID"
ENV_USE_CACHED = "MR_AIRFLOW_USE_CACHED"
ENV_STEP = "MR_AIRFLOW_STEP"
ENV_MAP_VARIABLE = "MR_AIRFLOW_MAP_VARIABLE"
ENV_ITEMS = "MR_AIRFLOW_ITEMS_FILE"
ENV_AS_IS = "MR_AIRFLOW_AS_IS"

#: the magnus run id: the ``run_id`` conf value, else the DAG id and Airflow's run id with
#: every character magnus refuses (Airflow allows ``.~:+`` besides ``[A-Za-z0-9_-]``) as '-'
RUN_ID_TEMPLATE = (
    "{{ params.run_id or ((dag.dag_id ~ '-' ~ run_id) | replace('.', '-') | replace('~', '-')"
    " | replace(':', '-') | replace('+', '-')) }}"
)
USE_CACHED_TEMPLATE = "{{ params.use_cached }}"
#: KubernetesPodOperator writes this file's JSON to XCom (do_xcom_push)
KPO_XCOM_FILE = "/airflow/xcom/return.json"
KPO_ITEMS_FILE = "/tmp/magnus-items.json"
ENV_POD = "MR_AIRFLOW_POD_ENV"
#: what a pod's map fan-out runs after `magnus fan`: one environment per item, to XCom
_ENVIRONMENTS = "\n".join(
    [
        "import json, os",
        f"keys = ({json.dumps(ENV_RUN_ID)}, {json.dumps(ENV_USE_CACHED)}, {json.dumps(ENV_STEP)})",
        "env = {k: os.environ[k] for k in keys}",
        f'env.update(json.loads(os.environ.get({json.dumps(ENV_POD)}) or "{{}}"))',
        f'items = json.load(open({json.dumps(KPO_ITEMS_FILE)}, encoding="utf-8"))',
        f"out = [{{**env, {json.dumps(ENV_MAP_VARIABLE)}: item}} for item in items]",
        f'json.dump(out, open({json.dumps(KPO_XCOM_FILE)}, "w", encoding="utf-8"))',
    ]
)

_OPTIONS = (
    f'${{{ENV_USE_CACHED}:+--use-cached "${ENV_USE_CACHED}"}}'
    f' ${{{ENV_MAP_VARIABLE}:+--map-variable "${ENV_MAP_VARIABLE}"}}'
)
_POSITIONAL = f'-- "${ENV_RUN_ID}" "${ENV_STEP}"'


def scripts(magnus: list[str], node_words: list[str], fan_words: dict[str, list[str]], kpo: bool):
    """The POSIX shell of each kind of task (bash runs it, or ``sh -c`` in a pod).

    ``node_words``/``fan_words`` are the protocol's argv without ``-- RUN_ID NAME``."""
    head = " ".join(shlex.quote(w) for w in magnus)

    def line(words: list[str], *extra: str) -> str:
        return " ".join([head, *(shlex.quote(w) for w in words[1:]), _OPTIONS, *extra, _POSITIONAL])

    items = KPO_ITEMS_FILE if kpo else f'"${ENV_ITEMS}"'
    as_is = f'"${ENV_AS_IS}"'
    fan_out_items = f"exec {line(fan_words['out'], '--items-file', items)}"
    if kpo:  # the pod turns the items into one environment per item, in XCom
        fan_out_items = (
            f"{line(fan_words['out'], '--items-file', items)} || exit $?\n"
            f"mkdir -p {shlex.quote(KPO_XCOM_FILE.rpartition('/')[0])}\n"
            f"exec python3 -c {shlex.quote(_ENVIRONMENTS)}"
        )
    return {
        "iteration": f"exec {line(node_words, '--iteration')}",
        "node": f"exec {line(node_words)}",
        "fail": f"{line(node_words)}\nexit 1",
        "as_is": f"exec {line(node_words, '--as-is', as_is)}",
        "fan_out": f"exec {line(fan_words['out'])}",
        "fan_out_items": fan_out_items,
        "fan_in": f"exec {line(fan_words['in'])}",
    }


@dataclass
class Ends:
    """A step's tasks as routes see them: the entry, its ``__succeeded`` route task and the
    tasks whose failure is the step's (the task; a composite's fan-out and fan-in)."""

    entry: str
    succeeded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    routes: list[str] | None = None  # the __failed route tasks, once made


@dataclass
class Context:
    """Where a graph is written: indentation and task id prefix (group ids)."""

    indent: str
    prefix: str
    first: bool = False  # the root graph (its start step creates the run log)


class DagWriter:
    """Emits the body of the ``with DAG(...)`` block. ``names(graph)`` gives task ids."""

    def __init__(self, renderer: Any, names: Any, kpo: bool) -> None:
        self.r = renderer
        self.names = names
        self.kpo = kpo
        self.lines: list[str] = []
        self._count = 0
        self.notes: list[str] = []

    def var(self, base: str) -> str:
        self._count += 1
        return f"{base.replace('-', '_')}_{self._count}"

    def out(self, ctx: Context, text: str) -> None:
        self.lines.extend(ctx.indent + ln if ln else "" for ln in text.split("\n"))

    # -- graphs -------------------------------------------------------------------------
    def graph(self, graph: Graph, ctx: Context, entry: str | None) -> tuple[str, str]:
        """Write ``graph``'s tasks and routes; returns its (success, fail) task variables.
        ``entry`` is the task the start step waits for (None: the DAG's first task).

        A step reached only by failures waits on the failing tasks themselves
        (``one_failed``); any other on ``one_done`` over route tasks that end SUCCESS
        when their route fired (``__succeeded``, ``__failed``), never FAILED."""
        ids = self.names(graph)
        inbound: dict[str, list[tuple[str, str]]] = {}
        for name, outcome, target in routes(graph):
            inbound.setdefault(target, []).append((name, outcome))
        by_failure = {
            target
            for target, found in inbound.items()
            if all(outcome == "failed" for _, outcome in found)
            and not (entry is not None and target == graph.start_at)
        }
        ends: dict[str, Ends] = {}
        for node in graph:
            first = node.name == graph.start_at and ctx.first
            rule = "one_failed" if node.name in by_failure else None
            ends[node.name] = self.node(node, graph, ids[node.name], ctx, first, rule)
        for node in graph:
            sources = [entry] if entry is not None and node.name == graph.start_at else []
            for name, kind in inbound.get(node.name, []):
                if kind == "succeeded":
                    sources += ends[name].succeeded
                elif node.name in by_failure:
                    sources += ends[name].failed
                else:
                    sources += self.failure_routes(ends[name], ctx)
            if sources:
                self.edge(ctx, list(dict.fromkeys(sources)), ends[node.name].entry)
        return ends[graph.success_node.name].entry, ends[graph.fail_node.name].entry

    def failure_routes(self, ends: Ends, ctx: Context) -> list[str]:
        """``__failed`` route tasks of a step's failing tasks, made once when needed."""
        if ends.routes is None:
            ends.routes = []
            for var in ends.failed:
                self.out(ctx, f"{var}_failed = failed({var})")
                ends.routes.append(f"{var}_failed")
        return ends.routes

    def edge(self, ctx: Context, sources: list[str], target: str) -> None:
        """``sources >> target``, the list one per line when the line would be long."""
        if len(sources) == 1:
            self.out(ctx, f"{sources[0]} >> {target}")
            return
        flat = f"[{', '.join(sources)}] >> {target}"
        if len(ctx.indent) + len(flat) <= 100:
            self.out(ctx, flat)
            return
        self.out(ctx, "[\n" + "".join(f"    {s},\n" for s in sources) + f"] >> {target}")

    def node(
        self, node: Node, graph: Graph, tid: str, ctx: Context, first: bool, rule: str | None
    ) -> Ends:
        self.out(ctx, f"# {node.kind.value} {json.dumps(node.internal_name, ensure_ascii=False)}")
        if node.kind is NodeKind.MAP:
            return self.map(node, tid, ctx, first, rule)
        if node.kind in (NodeKind.PARALLEL, NodeKind.DAG):
            return self.composite(node, tid, ctx, first, rule)
        kind = "node"
        extra: dict[str, str] = {}
        if node.kind is NodeKind.FAIL and not graph.internal_name:
            kind = "fail"  # the root fail node's task fails: the DAG run ends failed
        if node.kind is NodeKind.AS_IS:
            text = self.r.as_is_text(node)
            if text is not None:
                kind = "as_is"
                extra[ENV_AS_IS] = literal(text)
        var = self.var(tid)
        call = self.step_call(tid, node, kind, ctx, first, extra, trigger_rule=rule)
        self.out(ctx, f"{var} = {call}")
        if node.kind.is_terminal:
            return Ends(var)
        return Ends(var, [self.succeeded(var, ctx)], [var])

    def succeeded(self, var: str, ctx: Context) -> str:
        self.out(ctx, f"{var}_ok = succeeded({var})")
        return f"{var}_ok"

    def step_call(
        self,
        tid: str,
        node: Node,
        kind: str,
        ctx: Context,
        first: bool,
        extra: dict[str, str] | None = None,
        task_id: str | None = None,
        trigger_rule: str | None = None,
    ) -> str:
        args = [repr(task_id or tid), repr(literal(node.internal_name))]
        if kind != "node":
            args.append(kind.upper())
        env = dict(extra or {})
        if first:
            args.append("env=INITIAL_PARAMETERS")
            if env:
                raise AssertionError("the first step takes no other environment")
        if env:
            args.append(f"env={_dict(env)}")
        pod = self.r.pod_constant(node)
        if pod is not None:
            args.append(f"pod={pod}")
        if trigger_rule is not None:
            args.append(f"trigger_rule={trigger_rule!r}")
        flat = f"step({', '.join(args)})"
        if len(ctx.indent) + len(flat) + 30 <= 100:
            return flat
        inner = "".join(f"    {a},\n" for a in args)
        return f"step(\n{inner})"

    # -- composites ---------------------------------------------------------------------
    def composite(self, node: Node, tid: str, ctx: Context, first: bool, rule: str | None) -> Ends:
        """Parallel and dag steps: fan out, each branch in a TaskGroup, fan in (on
        ``none_failed_min_one_success``: after every branch, unless never opened)."""
        fan_out = self.var(f"{tid}_fan_out")
        call = self.step_call(
            tid, node, "fan_out", ctx, first, task_id=f"{tid}__fan_out", trigger_rule=rule
        )
        self.out(ctx, f"{fan_out} = {call}")
        opened = self.succeeded(fan_out, ctx)
        fan_in = self.var(f"{tid}_fan_in")
        call = self.step_call(
            tid,
            node,
            "fan_in",
            ctx,
            False,
            task_id=f"{tid}__fan_in",
            trigger_rule="none_failed_min_one_success",
        )
        self.out(ctx, f"{fan_in} = {call}")
        terminals = [opened]
        with_names = self.names.branches(node)
        if len(node.branches) == 1:  # one `with` for both groups (ruff SIM117)
            group = with_names[node.branches[0].name]
            self.out(ctx, f"with TaskGroup({tid!r}), TaskGroup({group!r}):")
            inner = Context(ctx.indent + "    ", f"{ctx.prefix}{tid}.{group}.")
            terminals.extend(self.graph(node.branches[0], inner, opened))
        else:
            self.out(ctx, f"with TaskGroup({tid!r}):")
            for branch in node.branches:
                group = with_names[branch.name]
                self.out(ctx, f"    with TaskGroup({group!r}):")
                inner = Context(ctx.indent + "        ", f"{ctx.prefix}{tid}.{group}.")
                terminals.extend(self.graph(branch, inner, opened))
        self.edge(ctx, terminals, fan_in)
        return Ends(fan_out, [self.succeeded(fan_in, ctx)], [fan_out, fan_in])

    def map(self, node: Node, tid: str, ctx: Context, first: bool, rule: str | None) -> Ends:
        """A map: the fan-out task's XCom is one environment per item; one task per item
        (dynamic task mapping, ``.expand()``) traverses that iteration's branch; the fan-in
        runs after every iteration whatever its state (``__done``: all_done), unless the
        map was never reached (the fan-out's ``__succeeded`` route is then SKIPPED)."""
        fan_out = self.var(f"{tid}_fan_out")
        call = self.step_call(
            tid, node, "fan_out_items", ctx, first, task_id=f"{tid}__fan_out", trigger_rule=rule
        )
        self.out(ctx, f"{fan_out} = {call}")
        opened = self.succeeded(fan_out, ctx)
        iterations = self.var(tid)
        pod = self.r.pod_constant(node)
        extra = f", pod={pod}" if pod else ""
        self.out(ctx, f"{iterations} = iterate({tid!r}, {fan_out}{extra})")
        done = self.var(f"{tid}_done")
        self.out(ctx, f'{done} = EmptyOperator(task_id="{tid}__done", trigger_rule="all_done")')
        fan_in = self.var(f"{tid}_fan_in")
        call = self.step_call(
            tid, node, "fan_in", ctx, False, task_id=f"{tid}__fan_in", trigger_rule="all_success"
        )
        self.out(ctx, f"{fan_in} = {call}")
        self.out(ctx, f"{iterations} >> {done}")
        self.edge(ctx, [opened, done], fan_in)
        return Ends(fan_out, [self.succeeded(fan_in, ctx)], [fan_out, fan_in])


def literal(text: str) -> str:
    """``text`` as a templated field's value that Airflow's Jinja renders back to itself."""
    if _JINJA.search(text):
        return "{% raw %}" + text + "{% endraw %}"
    return text


def _dict(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(values.items())) + "}"


def walk_maps(graph: Graph) -> Iterator[Node]:
    """Every map node that Airflow expands (not inside another map)."""
    for node in graph.walk():
        if node.kind is NodeKind.MAP and node.in_map_depth == 0:
            yield node
