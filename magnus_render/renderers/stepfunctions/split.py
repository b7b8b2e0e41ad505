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

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from magnus_render.renderers.stepfunctions.asl import START_STATE
from magnus_render.renderers.stepfunctions.jsontext import dumps

START_EXECUTION = "arn:aws:states:::states:startExecution.sync:2"
DISPATCH = "magnus.dispatch"
END = "magnus.end"
#: part of the budget a chunk may use, leaving room for its entry Choice and exits
CHUNK_SHARE = 0.7


@dataclass(frozen=True)
class Machine:
    name: str
    definition: dict[str, Any]


def size_of(document: Any) -> int:
    """Bytes of the document as rendered (the text is ASCII, so characters are bytes)."""
    return len(dumps(document))


def split_definition(
    definition: dict[str, Any],
    name: str,
    budget: int,
    arn_of: Callable[[str], str],
) -> list[Machine]:
    """``[main, *parts]``; just ``[main]`` when the definition fits ``budget`` bytes."""
    if size_of(definition) <= budget:
        return [Machine(name, definition)]
    splitter = _Splitter(name, budget, arn_of)
    main = splitter.fit(definition, in_map=False)
    return [Machine(name, main), *splitter.parts]


def _short(prefix: str, target: str) -> str:
    return f"{prefix}-{hashlib.sha1(target.encode('utf-8')).hexdigest()[:12]}"


class _Splitter:
    def __init__(self, name: str, budget: int, arn_of: Callable[[str], str]):
        self.name = name
        self.budget = budget
        self.arn_of = arn_of
        self.parts: list[Machine] = []

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
        if entry:
            data["entry.$"] = "$.next_state"
        return data

    # -- move 1: branches out -----------------------------------------------------------
    def fit(self, graph: dict[str, Any], in_map: bool) -> dict[str, Any]:
        graph = dict(graph)
        states = {}
        for state_name, state in graph["States"].items():
            states[state_name] = self._shrink_composite(state, in_map)
        graph["States"] = states
        if size_of(graph) <= self.budget:
            return graph
        return self._chunk(graph, in_map)

    def _shrink_composite(self, state: dict[str, Any], in_map: bool) -> dict[str, Any]:
        if state.get("Type") == "Parallel":
            state = dict(state)
            branches = list(state["Branches"])
            while size_of(state) > self.budget // 2:
                index = max(
                    (i for i, b in enumerate(branches) if not _is_stub(b)),
                    key=lambda i: size_of(branches[i]),
                    default=None,
                )
                if index is None:
                    break
                branches[index] = self._stub(self.fit(branches[index], in_map), in_map)
                state["Branches"] = branches
            return state
        if state.get("Type") == "Map" and size_of(state) > self.budget // 2:
            state = dict(state)
            processor = dict(state["ItemProcessor"])
            config = processor.pop("ProcessorConfig", None)
            stub = self._stub(self.fit(processor, in_map=True), in_map=True)
            if config is not None:
                stub["ProcessorConfig"] = config
            state["ItemProcessor"] = stub
        return state

    def _stub(self, definition: dict[str, Any], in_map: bool) -> dict[str, Any]:
        part = self._new_part(definition)
        return {
            "StartAt": "magnus.nested",
            "States": {
                "magnus.nested": {
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
        kept = {n for n, s in states.items() if s.get("Type") == "Fail" or n == START_STATE}
        chunks: list[dict[str, Any]] = [{}]
        used = 0
        for state_name, state in states.items():
            if state_name in kept:
                continue
            cost = size_of({state_name: state})
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
        def goto(target: str) -> str:
            name = _short("magnus.goto", target)
            parent[name] = {
                "Type": "Pass",
                "Result": target,
                "ResultPath": "$.next_state",
                "Next": DISPATCH,
            }
            return name

        return goto

    def _chunk_machine(
        self, chunk: dict[str, Any], entries: set[str], graph: dict[str, Any], in_map: bool
    ) -> dict[str, Any]:
        exits: dict[str, Any] = {}

        def leave(target: str) -> str:
            name = _short("magnus.exit", target)
            exits[name] = {
                "Type": "Pass",
                "Result": target,
                "ResultPath": "$.next_state",
                "End": True,
            }
            return name

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
    return list(branch.get("States", {})) == ["magnus.nested"]


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
    """A copy of ``state`` whose transitions are rewritten.

    With ``to_chunk`` (parent side): a target living in a chunk becomes a goto. With
    ``outside`` (chunk side): a target not in ``home`` becomes an exit.
    """

    def fix(target: str) -> str:
        if to_chunk is not None and target in home:
            return to_chunk(target)
        if outside is not None and target not in home:
            return outside(target)
        return target

    state = dict(state)
    if "Next" in state:
        state["Next"] = fix(state["Next"])
    if "Default" in state:
        state["Default"] = fix(state["Default"])
    if "Catch" in state:
        state["Catch"] = [{**c, "Next": fix(c["Next"])} for c in state["Catch"]]
    if "Choices" in state:
        state["Choices"] = [{**c, "Next": fix(c["Next"])} for c in state["Choices"]]
    return state
