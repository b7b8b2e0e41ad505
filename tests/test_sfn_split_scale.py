"""The Step Functions splitter at scale: a Parallel with thousands of branches.

Work is counted, not timed: the splitter adds up the bytes of JSON it measures, and that
count must grow linearly with the number of branches (the old splitter re-measured the
whole Parallel after stubbing each branch, quadratic: 1,000 branches took two minutes).
"""

from __future__ import annotations

from typing import Any

import pytest

from magnus_render.renderers.stepfunctions.jsontext import dumps
from magnus_render.renderers.stepfunctions.split import Splitter, split_definition

BUDGET = 100_000


def batch_task(name: str, nxt: str | None, fail: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::batch:submitJob.sync",
        "Parameters": {
            "JobName": name,
            "JobQueue": "q",
            "JobDefinition": "d",
            "ContainerOverrides": {"Command": ["magnus", "execute_single_node", "x", name]},
        },
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": fail, "ResultPath": "$.error"}],
    }
    if nxt:
        state["Next"] = nxt
    else:
        state["End"] = True
    return state


def parallel_definition(branches: int) -> dict[str, Any]:
    def branch(i: int) -> dict[str, Any]:
        return {
            "StartAt": f"b{i}.t",
            "States": {
                f"b{i}.t": batch_task(f"b{i}.t", f"b{i}.u", f"b{i}.fail"),
                f"b{i}.u": batch_task(f"b{i}.u", None, f"b{i}.fail"),
                f"b{i}.fail": {"Type": "Fail", "Error": "magnus.Failed"},
            },
        }

    return {
        "StartAt": "par",
        "States": {
            "par": {
                "Type": "Parallel",
                "Branches": [branch(i) for i in range(branches)],
                "ResultPath": None,
                "Next": "done",
            },
            "done": {"Type": "Succeed"},
        },
    }


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"


def work(branches: int) -> int:
    splitter = Splitter("m", BUDGET, arn)
    splitter.fit(parallel_definition(branches), in_map=False)
    return splitter.measured


def tasks_in(document: Any) -> list[str]:
    found: list[str] = []
    if isinstance(document, dict):
        for name, state in document.get("States", {}).items():
            if state.get("Resource", "").startswith("arn:aws:states:::batch"):
                found.append(name)
            for branch in state.get("Branches", ()):
                found += tasks_in(branch)
            if "ItemProcessor" in state:
                found += tasks_in(state["ItemProcessor"])
    return found


def test_splitter_work_grows_linearly_with_branches() -> None:
    small, large = work(1000), work(2000)
    whole = len(dumps(parallel_definition(2000)))
    assert large / small < 2.3, (small, large)
    assert large < 12 * whole, (large, whole)  # a few passes over the text, not one per branch


@pytest.mark.parametrize("branches", [3, 40, 1000])
def test_every_machine_fits_and_every_task_is_in_exactly_one(branches: int) -> None:
    machines = split_definition(parallel_definition(branches), "m", BUDGET, arn)
    assert all(len(dumps(m.definition)) <= BUDGET for m in machines)
    expected = sorted(f"b{i}.{s}" for i in range(branches) for s in "tu")
    assert sorted(t for m in machines for t in tasks_in(m.definition)) == expected
    names = [m.name for m in machines]
    assert len(set(names)) == len(names)
    if branches == 1000:
        assert len(machines) < 100  # branches are packed into groups, not one machine each


def test_a_split_parallel_keeps_its_routing_and_reaches_every_part() -> None:
    machines = {
        m.name: m.definition for m in split_definition(parallel_definition(1000), "m", BUDGET, arn)
    }
    main = machines["m"]
    assert main["States"]["par"]["Next"] == "done" and main["States"]["par"]["ResultPath"] is None
    started = set()
    for definition in machines.values():
        text = dumps(definition)
        started |= {n for n in machines if f'"{arn(n)}"' in text}
    assert started == set(machines) - {"m"}  # every part is started by some machine


def test_statelint_accepts_the_parts() -> None:
    from magnus_render.renderers.stepfunctions.validate import statelint_problems

    machines = split_definition(parallel_definition(300), "m", BUDGET, arn)
    assert [p for m in machines[:4] for p in statelint_problems(m.definition)] == []
