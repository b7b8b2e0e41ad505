"""Split one DAG template that is too big on its own into segments (WorkflowTemplates).

Why this shape: a magnus graph is a DAG of tasks whose ``depends`` encode the routing
(``next``, ``on_failure``, the fail node, see ``dags.py``); an ``on_failure`` edge may
jump anywhere, and the fail task depends on the failure of every step. Cutting the task
list into consecutive pieces of a topological order keeps every edge pointing forward,
so the pieces run one after another and only the *outcomes* that cross a cut travel:

- each segment is a DAG template in its own WorkflowTemplate. For every ``depends``
  term (an OR of ``task.Result`` atoms) of a later task that names tasks of this
  segment, it exposes one output parameter, ``'true'`` or ``'false'``, computed by a
  ``valueFrom.expression`` over ``tasks['x'].status`` (the same test as the atoms);
- the original template becomes a *router*: ``part-1 -> part-2 -> ...`` (each
  ``templateRef``, each receiving the outputs of earlier parts it needs as input
  parameters), then the tail: the DAG's leaves (the success task) and the tasks they
  test for ``.Omitted`` (the fail task), so the router's phase is decided exactly as
  in the unsplit DAG (see the package docstring);
- a task whose terms name earlier segments is an *entry*: those terms move from
  ``depends`` into ``when`` (``'{{inputs.parameters.to-x}}' == 'true'``, local atoms as
  ``'{{tasks.y.status}}' == ...`` with ``y`` kept as a dependency). An entry that does
  not run is ``Skipped`` instead of ``Omitted``: later ``x.Omitted`` atoms also accept
  ``x.Skipped``, and Argo's phase rules treat both alike (neither is "completed");
- the leaves of a segment carry ``continueOn: {failed, error}``: a step failure inside a
  segment is routed by the outputs, never by the segment's phase, so every part
  succeeds and the router's tail decides the workflow's phase.

A cut is only made where this is exact: the entry tasks must have a ``depends`` of that
AND-of-ORs shape, no ``withParam``/``when``, be tested by others only for
Succeeded/Failed/Errored/Omitted, and no ``{{tasks.x...}}`` text may cross the cut (a map's
fan-out and its iterations stay together; parallel branches stay with their fan-out, as
the fan-in tests them for Skipped). What cannot be cut that way is refused.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable
from typing import Any

from magnus_render.contract.naming import dns_label
from magnus_render.errors import UnsupportedError

_ATOM = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_]*)\.(Succeeded|Failed|Errored|Skipped|Omitted)")
_WORD = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_]*(?:\.([A-Za-z]+))?")
_TASK_REF = re.compile(r"\{\{\s*tasks\.([A-Za-z0-9][-A-Za-z0-9_]*)\.")
#: depends results -> the node phase Argo compares (``tasks.x.status``)
_STATUS = {"Succeeded": "Succeeded", "Failed": "Failed", "Errored": "Error",
           "Skipped": "Skipped", "Omitted": "Omitted"}  # fmt: skip
_GATE_SAFE = frozenset({"Succeeded", "Failed", "Errored", "Omitted"})
_ANY_END = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted")
_CONTINUE = {"failed": True, "error": True}

Atom = tuple[str, str]
Terms = list[list[Atom]]


def _measure(value: Any, expressions: list[str]) -> int:
    """Compact JSON length of plain data (exact for text without escapes; the final check
    measures the real bytes), collecting the strings holding ``{{`` on the way. Why not
    ``json.dumps`` per task: building its encoder each call cost most of a 10,000-step split.
    """
    if isinstance(value, str):
        if "{{" in value:
            expressions.append(value)
        return len(value) + 2
    if isinstance(value, dict):
        return (
            1 + sum(len(k) + 4 + _measure(v, expressions) for k, v in value.items()) + (not value)
        )
    if isinstance(value, list):
        return 1 + sum(1 + _measure(v, expressions) for v in value) + (not value)
    return len(json.dumps(value))


def parse_depends(text: str) -> Terms | None:
    """``depends`` as an AND of ORs of ``task.Result`` atoms; None for any other shape."""
    terms: Terms = []
    for piece in _split_and(text):
        piece = piece.strip()
        if piece.startswith("(") and piece.endswith(")"):
            piece = piece[1:-1]
        if "(" in piece or ")" in piece or "!" in piece or "&&" in piece:
            return None
        atoms = []
        for word in piece.split("||"):
            match = _ATOM.fullmatch(word.strip())
            if match is None:
                return None
            atoms.append((match.group(1), match.group(2)))
        terms.append(atoms)
    return terms


def _split_and(text: str) -> list[str]:
    if "(" not in text:
        return text.split("&&")
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "&" and depth == 0 and text.startswith("&&", i) and i >= start:
            pieces.append(text[start:i])
            start = i + 2
    pieces.append(text[start:])
    return pieces


class Dag:
    """The facts about one DAG's tasks that decide where it may be cut."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = {t["name"]: t for t in tasks}
        self.index = {t["name"]: i for i, t in enumerate(tasks)}
        self.terms: dict[str, Terms | None] = {}
        self.deps: dict[str, list[str]] = {}
        self.hard: dict[str, set[str]] = {}  # {{tasks.x...}} text: must share a segment
        self.cost: dict[str, int] = {}  # compact JSON bytes, plus what its tests may add
        self.children: dict[str, list[str]] = {n: [] for n in self.tasks}
        results: dict[str, set[str | None]] = {n: set() for n in self.tasks}
        tested = dict.fromkeys(self.tasks, 0)
        for name, task in self.tasks.items():
            text = task.get("depends", "")
            terms = parse_depends(text) if text else []
            self.terms[name] = terms
            if terms is not None:
                pairs: list[tuple[str, str | None]] = [a for term in terms for a in term]
            else:
                pairs = [(m.group(0).split(".")[0], m.group(1)) for m in _WORD.finditer(text)]
            deps = list(dict.fromkeys(n for n, _ in pairs))
            for dep, result in pairs:  # a shape we cannot rewrite makes its targets unsafe
                results[dep].add(result if terms is not None else None)
                tested[dep] += 1
            self.deps[name] = deps
            for dep in deps:
                self.children[dep].append(name)
            texts: list[str] = []
            self.cost[name] = _measure(task, texts) + 1
            self.hard[name] = {r for t in texts for r in _TASK_REF.findall(t)} - {name}
        for name, count in tested.items():  # each test may become one in an output expression
            self.cost[name] += count * (len(name) + 32)
        self.gateable = {
            name: self.terms[name] is not None
            and not {"withParam", "withItems", "withSequence", "when"} & task.keys()
            and results[name] <= _GATE_SAFE
            for name, task in self.tasks.items()
        }

    def tail(self) -> list[str]:
        """The leaves and what they test for ``.Omitted``, closed under dependents."""
        found = {n for n, kids in self.children.items() if not kids}
        for leaf in list(found):
            for term in self.terms[leaf] or []:
                found.update(n for n, r in term if r == "Omitted")
        stack = list(found)
        while stack:
            for child in self.children[stack.pop()]:
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return sorted(found, key=self.index.__getitem__)

    def order(self, names: list[str]) -> list[str]:
        """A topological order of ``names`` (Kahn's, original order breaking ties)."""
        chosen = set(names)
        waiting = {n: sum(1 for d in self.deps[n] if d in chosen) for n in names}
        ready = [self.index[n] for n in names if waiting[n] == 0]
        heapq.heapify(ready)
        by_index = {self.index[n]: n for n in names}
        out = []
        while ready:
            name = by_index[heapq.heappop(ready)]
            out.append(name)
            for child in self.children[name]:
                if child in chosen:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, self.index[child])
        if len(out) != len(names):
            raise UnsupportedError("target 'argo': the DAG to split has a dependency cycle")
        return out


def plan(dag: Dag, body: list[str], budget: int) -> list[list[str]]:
    """Consecutive pieces of ``body`` (topologically ordered), each within ``budget``."""
    pos = {n: i for i, n in enumerate(body)}
    blocked = [0] * (len(body) + 1)  # cut after i is forbidden when the running sum > 0
    for name in body:
        for dep in dag.deps[name]:
            if not dag.gateable[name] or dep in dag.hard[name]:
                blocked[pos[dep]] += 1
                blocked[pos[name]] -= 1
        for dep in dag.hard[name] - set(dag.deps[name]):
            if dep in pos and pos[dep] < pos[name]:
                blocked[pos[dep]] += 1
                blocked[pos[name]] -= 1
    allowed, running = [], 0
    for i in range(len(body)):
        running += blocked[i]
        allowed.append(running == 0)
    costs = [dag.cost[n] for n in body]
    pieces: list[list[str]] = []
    start, total, last_ok = 0, 0, -1
    for i, cost in enumerate(costs):
        if total + cost > budget and i > start:
            if last_ok < start:
                raise UnsupportedError(
                    f"target 'argo': the tasks from {body[start]!r} to {body[i]!r} must stay "
                    f"in one object (a map or parallel step and its branches, or an "
                    f"expression that cannot cross objects) and exceed the {budget} bytes left "
                    "for one segment; move that step's branches into a `type: dag` file"
                )
            pieces.append(body[start : last_ok + 1])
            start = last_ok + 1
            total = sum(costs[start:i])
            last_ok = max((j for j in range(start, i) if allowed[j]), default=-1)
        total += cost
        if allowed[i]:
            last_ok = i
    pieces.append(body[start:])
    return pieces


def split_dag(
    template: dict[str, Any],
    budget: int,
    part_ref: Callable[[int, str], dict[str, Any]],
    dag: Dag | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The router template and the segment templates of one DAG template.

    ``part_ref(k, template_name)`` gives the ``templateRef`` of segment ``k`` (0-based);
    ``dag`` is ``Dag(template's tasks)`` when the caller already has it."""
    dag = dag or Dag(template["dag"]["tasks"])
    tail = dag.order(dag.tail())
    in_tail = set(tail)
    for name in tail:
        outside = [d for d in dag.deps[name] if d not in in_tail]
        if outside and (not dag.gateable[name] or dag.hard[name] - in_tail):
            raise UnsupportedError(
                f"target 'argo': DAG {template['name']!r} is too big and its final task "
                f"{name!r} cannot be separated from the steps before it"
            )
    pieces = plan(dag, dag.order([n for n in dag.tasks if n not in in_tail]), budget)
    router = len(pieces)
    owner = {n: k for k, piece in enumerate(pieces) for n in piece}
    owner.update(dict.fromkeys(tail, router))
    gated = {
        n
        for n in dag.tasks
        if any(owner[a] != owner[n] for term in dag.terms[n] or [] for a, _ in term)
    }
    parts = _part_names(len(pieces), in_tail)
    exports: list[list[dict[str, Any]]] = [[] for _ in pieces]
    needs: list[list[tuple[str, int]]] = [[] for _ in range(router + 1)]
    taken: set[str] = set()
    rewritten: dict[str, dict[str, Any]] = {}
    for name, task in dag.tasks.items():
        terms = [_widen(term, gated) for term in dag.terms[name] or []]
        here = owner[name]
        keep: list[str] = []
        conds: list[str] = []
        waits: list[str] = []
        sources: set[int] = set()
        for term in terms:
            if all(owner[a] == here for a, _ in term):
                keep.append(" || ".join(f"{a}.{r}" for a, r in term))
                continue
            words = []
            for a, r in term:
                if owner[a] == here:
                    words.append(f"'{{{{tasks.{a}.status}}}}' == '{_STATUS[r]}'")
                    waits.append(a)
            remote: dict[int, list[Atom]] = {}
            for a, r in term:
                if owner[a] != here:
                    remote.setdefault(owner[a], []).append((a, r))
            for src, atoms in sorted(remote.items()):
                param = _unique(f"to-{name}", taken)
                exports[src].append({"name": param, "valueFrom": {"expression": _test(atoms)}})
                needs[here].append((param, src))
                sources.add(src)
                ref = (
                    f"inputs.parameters.{param}"
                    if here < router
                    else f"tasks.{parts[src]}.outputs.parameters.{param}"
                )
                words.append(f"'{{{{{ref}}}}}' == 'true'")
            conds.append(" || ".join(words))
        for a in dict.fromkeys(waits):
            keep.append(" || ".join(f"{a}.{r}" for r in _ANY_END))
        if here == router and (name in gated or not dag.deps[name]):
            keep += [f"{parts[j]}.Succeeded" for j in sorted(sources | {router - 1})]
        if dag.terms[name] is None:  # untouched shape (never across a cut, never widened)
            depends = task.get("depends")
        else:
            depends = " && ".join(f"({k})" if len(keep) > 1 and "||" in k else k for k in keep)
        when = " && ".join(f"({c})" if len(conds) > 1 else c for c in conds)
        leaf = here < router and not any(owner[c] == here for c in dag.children[name])
        rewritten[name] = _task(task, depends, when, leaf)

    inputs = (template.get("inputs") or {}).get("parameters") or []
    segments = []
    router_tasks = []
    for k, piece in enumerate(pieces):
        seg: dict[str, Any] = {"name": dns_label(f"{template['name']}-part-{k + 1}")}
        params = [{"name": p["name"]} for p in inputs] + [{"name": p} for p, _ in needs[k]]
        if params:
            seg["inputs"] = {"parameters": params}
        if exports[k]:
            seg["outputs"] = {"parameters": exports[k]}
        seg["dag"] = {"tasks": [rewritten[n] for n in piece]}
        segments.append(seg)
        call: dict[str, Any] = {"name": parts[k], "templateRef": part_ref(k, seg["name"])}
        after = sorted({src for _, src in needs[k]} | ({k - 1} if k else set()))
        if after:
            call["depends"] = " && ".join(f"{parts[j]}.Succeeded" for j in after)
        args = [
            {"name": p["name"], "value": f"{{{{inputs.parameters.{p['name']}}}}}"} for p in inputs
        ]
        args += [
            {"name": p, "value": f"{{{{tasks.{parts[src]}.outputs.parameters.{p}}}}}"}
            for p, src in needs[k]
        ]
        if args:
            call["arguments"] = {"parameters": args}
        router_tasks.append(call)
    router_tasks += [rewritten[n] for n in tail]
    slim = {k: v for k, v in template.items() if k != "dag"}
    slim["dag"] = {**template["dag"], "tasks": router_tasks}
    return slim, segments


def _widen(term: list[Atom], gated: set[str]) -> list[Atom]:
    """``x.Omitted`` also means ``x.Skipped`` once ``x`` is gated by ``when``."""
    out = []
    for a, r in term:
        out.append((a, r))
        if r == "Omitted" and a in gated and (a, "Skipped") not in term:
            out.append((a, "Skipped"))
    return out


def _test(atoms: list[Atom]) -> str:
    """An expr-lang expression giving 'true' when any atom holds (Argo DAG outputs)."""
    statuses: dict[str, list[str]] = {}
    for a, r in atoms:
        statuses.setdefault(a, []).append(_STATUS[r])
    tests = []
    for a, wanted in statuses.items():
        if len(wanted) == 1:
            tests.append(f"tasks['{a}'].status == '{wanted[0]}'")
        else:
            tests.append(f"tasks['{a}'].status in [{', '.join(repr(w) for w in wanted)}]")
    return f"({' || '.join(tests)}) ? 'true' : 'false'"


def _unique(text: str, taken: set[str]) -> str:
    name, n = text, 1
    while name in taken:
        n += 1
        name = f"{text}-{n}"
    taken.add(name)
    return name


def _part_names(count: int, avoid: set[str]) -> list[str]:
    taken = set(avoid)
    return [_unique(f"part-{k + 1}", taken) for k in range(count)]


def _task(task: dict[str, Any], depends: str | None, when: str, leaf: bool) -> dict[str, Any]:
    """A copy of ``task`` with new depends/when (keys in the renderer's order)."""
    out: dict[str, Any] = {"name": task["name"]}
    for key in ("template", "templateRef"):
        if key in task:
            out[key] = task[key]
    if depends:
        out["depends"] = depends
    if when:
        out["when"] = when
    for key, value in task.items():
        if key not in out and key not in ("depends", "when"):
            out[key] = value
    if leaf:
        out["continueOn"] = dict(_CONTINUE)
    return out
