"""Split a definition over the 1 MB quota into nested state machines.

Two moves, applied until every machine fits:

1. a large Parallel branch or Map processor becomes its own machine, and its place is
   taken by one ``states:startExecution.sync:2`` task;
2. a graph still too large is cut into chunks of consecutive states. Each chunk becomes a
   machine that starts with a Choice on ``$.entry`` and ends, wherever control would
   leave the chunk, with a Pass that records the target in ``$.next_state``; the parent
   runs the chunks and dispatches on ``$.next_state`` with one Choice. Fail states and
   the start state stay in the parent so the run id and the final error are the parent's.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from magnus_render.renderers.stepfunctions import jsontext
from magnus_render.renderers.stepfunctions.asl import START_STATES

START_EXECUTION = "arn:aws:states:::states:startExecution.sync:2"
DISPATCH = "magnus.dispatch"
END = "magnus.end"
NESTED = "magnus.nested"
#: part of the budget a chunk may use, leaving room for its entry Choice and exits
CHUNK_SHARE = 0.7


@dataclass(frozen=True)
class Machine:
    name: str
    definition: dict[str, Any]


def size_of(document: Any, limit: int | None = None, memo: jsontext.Memo | None = None) -> int:
    """Bytes of the document as rendered (the text is ASCII, so characters are bytes);
    with ``limit``, counting stops once past it (see ``jsontext.size``)."""
    return jsontext.size(document, limit, memo)


def split_definition(
    definition: dict[str, Any],
    name: str,
    budget: int,
    arn_of: Callable[[str], str],
) -> list[Machine]:
    """``[main, *parts]``; just ``[main]`` when the definition fits ``budget`` bytes."""
    if size_of(definition, budget) <= budget:  # a 100 MB definition is counted to 1 MB
        return [Machine(name, definition)]
    splitter = Splitter(name, budget, arn_of)
    main = splitter.fit(definition, in_map=False, size=budget + 1)
    return [Machine(name, main), *splitter.parts]


@functools.lru_cache(maxsize=4096)  # a chunk's exits mostly lead to the same few states
def _short(prefix: str, target: str) -> str:
    return f"{prefix}-{hashlib.sha1(target.encode('utf-8')).hexdigest()[:12]}"


class Splitter:
    def __init__(self, name: str, budget: int, arn_of: Callable[[str], str]):
        self.name = name
        self.budget = budget
        self.arn_of = arn_of
        self.parts: list[Machine] = []
        #: bytes of JSON measured so far: the splitter's work, counted by a test
        self.measured = 0
        #: sizes of the lists measured so far, shared by the states (see ``jsontext``)
        self.memo: jsontext.Memo = {}

    def measure(self, document: Any, limit: int | None = None) -> int:
        """Bytes of ``document``; with ``limit``, exact up to it (only compared with it)."""
        size = size_of(document, limit, self.memo)
        self.measured += size
        return size

    def _new_part(self, definition: dict[str, Any]) -> str:
        part = f"{self.name}-part-{len(self.parts) + 1}"
        self.parts.append(Machine(part, definition))
        return part

    def _input(self, in_map: bool, entry: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id.$": "$.run_id",
            "failed_step.$": "$.failed_step",
            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
        }
        if in_map:
            data["map_variable.$"] = "$.map_variable"
        else:  # outside maps the payload carries what the execution input gave (asl.py)
            data["use_cached.$"] = "$.use_cached"
            data["parameters.$"] = "$.parameters"
        if entry:
            data["entry.$"] = "$.next_state"
        return data

    # -- move 1: branches out -----------------------------------------------------------
    def fit(self, graph: dict[str, Any], in_map: bool, size: int | None = None) -> dict[str, Any]:
        """``graph`` within the budget; ``size``, when known (exact, or any figure over the
        budget when it is known to be over), spares measuring it again."""
        graph = dict(graph)
        states = {}
        changed = False
        for state_name, state in graph["States"].items():
            states[state_name] = self._shrink_composite(state, in_map)
            changed = changed or states[state_name] is not state
        graph["States"] = states
        if size is None or changed:
            size = self.measure(graph, self.budget)
        if size <= self.budget:
            return graph
        return self._chunk(graph, in_map)

    def _shrink_composite(self, state: dict[str, Any], in_map: bool) -> dict[str, Any]:
        if state.get("Type") == "Parallel":
            return self._shrink_parallel(state, in_map)
        if state.get("Type") == "Map" and self.measure(state, self.budget // 2) > self.budget // 2:
            state = dict(state)
            processor = dict(state["ItemProcessor"])
            config = processor.pop("ProcessorConfig", None)
            stub = self._stub(self.fit(processor, in_map=True), in_map=True)
            if config is not None:
                stub["ProcessorConfig"] = config
            state["ItemProcessor"] = stub
        return state

    def _shrink_parallel(self, state: dict[str, Any], in_map: bool) -> dict[str, Any]:
        """A Parallel state no larger than half the budget, in work linear in its size.

        Each branch is measured once. A branch too big for a group of its own becomes its own
        machine; the rest, if the state is still too large, are packed in order into groups
        that each fit a machine (a Parallel of the group's branches, started by one task),
        level after level until the state fits. Sizes of the state are estimated from the
        branch sizes (scaled by the one measured ratio of nested to standalone text) and
        measured again only to confirm, so the cost is O(bytes) per level and the number of
        levels is logarithmic in the branch count: the splitter stays linear (a test counts
        the bytes it measures at 1,000 and 2,000 branches).
        """
        limit = self.budget // 2
        total = self.measure(state, limit)
        if total <= limit:
            return state
        branches = list(state["Branches"])
        sizes = [self.measure(branch) for branch in branches]
        share = int(self.budget * CHUNK_SHARE)
        for index, size in enumerate(sizes):
            if size > share and not _is_stub(branches[index]):
                branches[index] = self._stub(self.fit(branches[index], in_map), in_map)
                sizes[index] = self.measure(branches[index])
        state = {**state, "Branches": branches}
        while len(branches) > 1 and self.measure(state, limit) > limit:
            branches, sizes = self._group(branches, sizes, share, in_map)
            state = {**state, "Branches": branches}
        return state

    def _group(
        self, branches: list[dict[str, Any]], sizes: list[int], share: int, in_map: bool
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Consecutive branches packed into machines of at most ``share`` bytes each."""
        groups: list[list[int]] = [[]]
        used = 0
        for index, size in enumerate(sizes):
            if groups[-1] and used + size > share:
                groups.append([])
                used = 0
            groups[-1].append(index)
            used += size
        if len(groups) == len(branches):  # no two fit one machine: each becomes its own
            stubs = [
                b if _is_stub(b) else self._stub(self.fit(b, in_map), in_map) for b in branches
            ]
            return stubs, [self.measure(b) for b in stubs]
        packed: list[dict[str, Any]] = []
        packed_sizes: list[int] = []
        for members in groups:
            if len(members) == 1:
                packed.append(branches[members[0]])
                packed_sizes.append(sizes[members[0]])
                continue
            group = {
                "StartAt": "magnus.group",
                "States": {
                    "magnus.group": {
                        "Type": "Parallel",
                        "Branches": [branches[i] for i in members],
                        "ResultPath": None,
                        "End": True,
                    }
                },
            }
            stub = self._stub(group, in_map)
            packed.append(stub)
            packed_sizes.append(self.measure(stub))
        return packed, packed_sizes

    def _stub(self, definition: dict[str, Any], in_map: bool) -> dict[str, Any]:
        part = self._new_part(definition)
        # state names are unique across a machine's branches: one name per part
        task = f"{NESTED}-{part.rpartition('-part-')[2]}"
        return {
            "StartAt": task,
            "States": {
                task: {
                    "Type": "Task",
                    "Resource": START_EXECUTION,
                    "Parameters": {
                        "StateMachineArn": self.arn_of(part),
                        "Input": self._input(in_map, entry=False),
                    },
                    "ResultPath": None,
                    "End": True,
                }
            },
        }

    # -- move 2: chunks -----------------------------------------------------------------
    def _chunk(self, graph: dict[str, Any], in_map: bool) -> dict[str, Any]:
        states: dict[str, Any] = graph["States"]
        kept = {n for n, s in states.items() if s.get("Type") == "Fail" or n in START_STATES}
        chunks: list[dict[str, Any]] = [{}]
        used = 0
        for state_name, state in states.items():
            if state_name in kept:
                continue
            cost = self.measure({state_name: state})
            if chunks[-1] and used + cost > self.budget * CHUNK_SHARE:
                chunks.append({})
                used = 0
            chunks[-1][state_name] = state
            used += cost
        home = {n: i for i, chunk in enumerate(chunks) for n in chunk}
        entries: list[set[str]] = [set() for _ in chunks]
        if graph["StartAt"] in home:
            entries[home[graph["StartAt"]]].add(graph["StartAt"])
        for state_name, state in states.items():
            for target in _targets(state):
                if target in home and home.get(state_name) != home[target]:
                    entries[home[target]].add(target)

        parent: dict[str, Any] = {}
        choices: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            part = self._new_part(self._chunk_machine(chunk, entries[index], graph, in_map))
            task = f"magnus.part-{part.rpartition('-part-')[2]}"
            selector = {
                "run_id.$": "$.Output.run_id",
                "failed_step.$": "$.Output.failed_step",
                "next_state.$": "$.Output.next_state",
            }
            if in_map:
                selector["map_variable.$"] = "$.Output.map_variable"
            else:
                selector["use_cached.$"] = "$.Output.use_cached"
                selector["parameters.$"] = "$.Output.parameters"
            parent[task] = {
                "Type": "Task",
                "Resource": START_EXECUTION,
                "Parameters": {
                    "StateMachineArn": self.arn_of(part),
                    "Input": self._input(in_map, entry=True),
                },
                "ResultSelector": selector,
                "ResultPath": "$",
                "Next": DISPATCH,
            }
            choices += [
                {"Variable": "$.next_state", "StringEquals": e, "Next": task}
                for e in sorted(entries[index])
            ]
        for state_name in states:
            if state_name in kept:
                parent[state_name] = _retarget(states[state_name], home, self._goto(parent))
                choices.append(
                    {"Variable": "$.next_state", "StringEquals": state_name, "Next": state_name}
                )
        parent[END] = {"Type": "Succeed"}
        choices.append({"Variable": "$.next_state", "StringEquals": END, "Next": END})
        parent[DISPATCH] = {"Type": "Choice", "Choices": choices}
        start = graph["StartAt"]
        if start in home:
            start = self._goto(parent)(start)
        result = {k: v for k, v in graph.items() if k not in ("States", "StartAt")}
        result.update({"StartAt": start, "States": parent})
        return result

    def _goto(self, parent: dict[str, Any]) -> Callable[[str], str]:
        return lambda target: _pass_to(parent, "magnus.goto", target, Next=DISPATCH)

    def _chunk_machine(
        self, chunk: dict[str, Any], entries: set[str], graph: dict[str, Any], in_map: bool
    ) -> dict[str, Any]:
        exits: dict[str, Any] = {}

        def leave(target: str) -> str:
            return _pass_to(exits, "magnus.exit", target, End=True)

        home = {n: 0 for n in chunk}
        states: dict[str, Any] = {}
        for state_name, state in chunk.items():
            moved = _retarget(state, home, None, leave)
            if moved.get("End") and moved.get("Type") not in ("Succeed", "Fail"):
                moved = {k: v for k, v in moved.items() if k != "End"}
                moved["Next"] = leave(END)
            states[state_name] = moved
        ordered = sorted(entries)
        entry = {
            "Type": "Choice",
            "Choices": [{"Variable": "$.entry", "StringEquals": e, "Next": e} for e in ordered[1:]],
            "Default": ordered[0],
        }
        if not entry["Choices"]:
            entry = {"Type": "Pass", "Next": ordered[0]}
        return {
            "Comment": graph.get("Comment", "part of a split magnus pipeline"),
            "StartAt": "magnus.entry",
            "States": {"magnus.entry": entry, **states, **exits},
        }


def _is_stub(branch: dict[str, Any]) -> bool:
    states = list(branch.get("States", {}))
    return len(states) == 1 and states[0].startswith(f"{NESTED}-")


def _targets(state: dict[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for catcher in state.get("Catch", ()):
        yield catcher["Next"]
    for choice in state.get("Choices", ()):
        yield choice["Next"]


def _retarget(
    state: dict[str, Any],
    home: dict[str, int],
    to_chunk: Callable[[str], str] | None,
    outside: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """``state`` with its transitions rewritten: a copy when one changes, else ``state``
    itself (most states of a chunk stay inside it: no copy of a 100 MB definition).

    With ``to_chunk`` (parent side): a target living in a chunk becomes a goto. With
    ``outside`` (chunk side): a target not in ``home`` becomes an exit.
    """

    def fix(target: str) -> str:
        if to_chunk is not None and target in home:
            return to_chunk(target)
        if outside is not None and target not in home:
            return outside(target)
        return target

    changed: dict[str, Any] = {}
    for key in ("Next", "Default"):
        if key in state and fix(state[key]) != state[key]:
            changed[key] = fix(state[key])
    for key in ("Catch", "Choices"):
        if key in state and any(fix(c["Next"]) != c["Next"] for c in state[key]):
            changed[key] = [{**c, "Next": fix(c["Next"])} for c in state[key]]
    return {**state, **changed} if changed else state


def _pass_to(states: dict[str, Any], prefix: str, target: str, **then: Any) -> str:
    """A Pass state, added to ``states``, that records ``target`` as ``$.next_state``: how
    a chunk hands over to a state in another machine (through the dispatcher)."""
    name = _short(prefix, target)
    if name not in states:  # every ".failed" Pass of a chunk leaves for the Fail state
        states[name] = {"Type": "Pass", "Result": target, "ResultPath": "$.next_state", **then}
    return name
