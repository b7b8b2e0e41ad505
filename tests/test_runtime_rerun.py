"""Re-runs through composites: iterations that succeeded are reused (their outputs kept),
the failed one runs again, and the map's outputs come out complete and in order —
through `magnus execute` and through the container protocol alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.protocol import drive
from tests.helpers.runlog import execute_in_process, load_run_log, normalize, prepare_workdir

TASKS = """
from pathlib import Path

def make():
    return {"chunks": ["a", "b", "c"]}

def work(chunk: str):
    runs = Path(f"ran-{chunk}")
    runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
    if chunk == "b" and not Path("fixed").exists():
        raise RuntimeError("b is broken")
    return {"done": chunk.upper()}

def after(done: list):
    return {"joined": "".join(done)}
"""
PIPELINE = """
dag:
  start_at: make
  steps:
    make: {type: task, command: MOD.make, next: each}
    each:
      type: map
      iterate_on: chunks
      iterate_as: chunk
      next: after
      branch:
        start_at: work
        steps:
          work: {type: task, command: MOD.work, next: success}
          success: {type: success}
          fail: {type: fail}
    after: {type: task, command: MOD.after, next: success}
    success: {type: success}
    fail: {type: fail}
"""


@pytest.mark.parametrize("through", ["execute", "protocol"])
def test_rerun_of_a_failed_map_iteration(tmp_path: Path, through: str) -> None:
    module = f"t_rerun_map_{through}"
    work = prepare_workdir(tmp_path)
    (work / f"{module}.py").write_text(TASKS)
    (work / "p.yaml").write_text(PIPELINE.replace("MOD", module))
    if through == "execute":
        code, _ = execute_in_process("p.yaml", work, "old")
    else:
        code = drive("p.yaml", "old", work)
    assert code == 1
    (work / "fixed").write_text("")
    if through == "execute":
        code, new = execute_in_process("p.yaml", work, "new", use_cached="old")
    else:
        code = drive("p.yaml", "new", work, extra=["--use-cached", "old"])
        new = load_run_log(work, "new")
    assert code == 0
    assert [(work / f"ran-{c}").read_text() for c in "abc"] == ["x", "xx", "x"]
    assert new.parameters["done"] == ["A", "B", "C"]
    assert new.parameters["joined"] == "ABC"
    iterations = new.steps["each"].branches
    mocks = {n: b.steps[f"{n}.work"].mock for n, b in iterations.items()}
    assert mocks == {"each.a": True, "each.b": False, "each.c": True}
    assert new.steps["make"].mock and not new.steps["after"].mock


def test_rerun_logs_equal_between_execute_and_protocol(tmp_path: Path) -> None:
    logs = {}
    for through in ("execute", "protocol"):
        module = f"t_rerun_eq_{through}"
        work = prepare_workdir(tmp_path / through)
        (work / f"{module}.py").write_text(TASKS)
        (work / "p.yaml").write_text(PIPELINE.replace("MOD", module))
        if through == "execute":
            execute_in_process("p.yaml", work, "old")
            (work / "fixed").write_text("")
            logs[through] = execute_in_process("p.yaml", work, "new", use_cached="old")[1]
        else:
            drive("p.yaml", "old", work)
            (work / "fixed").write_text("")
            drive("p.yaml", "new", work, extra=["--use-cached", "old"])
            logs[through] = load_run_log(work, "new")
    assert normalize(logs["execute"]) == normalize(logs["protocol"])
