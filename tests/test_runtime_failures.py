"""Failures: routing, shell strictness, big stderr, bad task signatures, kill -9 then
re-run, bad input to `magnus execute` (exit 2, no traceback)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    magnus_env,
    prepare_workdir,
    run_magnus,
)


def write(work: Path, pipeline: str, tasks: str | None = None, module: str = "") -> str:
    prepare_workdir(work)
    if tasks is not None:
        (work / f"{module}.py").write_text(tasks, encoding="utf-8")
    (work / "p.yaml").write_text(pipeline.replace("MOD", module), encoding="utf-8")
    return "p.yaml"


def one_step(command: str, command_type: str = "python", extra: str = "") -> str:
    return f"""
dag:
  start_at: step
  steps:
    step:
      type: task
      command_type: {command_type}
      command: {json.dumps(command)}
      next: success{extra}
    success: {{type: success}}
    fail: {{type: fail}}
"""


def test_shell_first_line_failing_fails_the_step(tmp_path: Path) -> None:
    write(tmp_path, one_step("false\ntouch after-false", "shell"))
    code, log = execute_in_process("p.yaml", tmp_path)
    assert code == 1 and log.status.value == "FAIL"
    assert log.steps["step"].status.value == "FAIL"
    assert not (tmp_path / "after-false").exists()
    assert [s for s in log.steps] == ["step", "fail"]


def test_shell_pipeline_failure_fails(tmp_path: Path) -> None:
    write(tmp_path, one_step("false | cat\ntouch after", "shell"))
    code, _ = execute_in_process("p.yaml", tmp_path)
    assert code == 1 and not (tmp_path / "after").exists()


def test_one_megabyte_of_stderr_does_not_hang(tmp_path: Path) -> None:
    cmd = "head -c 1048576 /dev/zero | tr '\\0' e >&2\nhead -c 300000 /dev/zero | tr '\\0' o\n"
    cmd += "export MAGNUS_PRM_done=yes"
    write(tmp_path, one_step(cmd, "shell"))
    start = time.monotonic()
    proc = run_magnus(["execute", "p.yaml", "--run-id", "big"], tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - start < 30
    log = load_run_log(tmp_path, "big")
    assert log.parameters == {"done": "yes"}
    saved = tmp_path / ".catalog" / "big" / "@logs" / "step.attempt-1.execution.log"
    assert saved.stat().st_size >= 1048576 + 300000


def test_missing_required_argument_is_a_clear_step_failure(tmp_path: Path) -> None:
    tasks = "def needs(must_have: int):\n    return None\n"
    write(tmp_path, one_step("MOD.needs"), tasks, "t_missing")
    code, log = execute_in_process("p.yaml", tmp_path)
    assert code == 1
    assert "missing required parameter 'must_have'" in log.steps["step"].message


def test_casting_and_bad_return_type(tmp_path: Path) -> None:
    tasks = "def wrong(n: int):\n    assert n == 5\n    return [n]\n"
    write(tmp_path, one_step("MOD.wrong"), tasks, "t_wrong")
    params = tmp_path / "params.yaml"
    params.write_text("n: '5'\n")
    code, log = execute_in_process("p.yaml", tmp_path, parameters_file=str(params))
    assert code == 1
    assert "must return None, a dict or a pydantic model" in log.steps["step"].message


def test_catalog_glob_escaping_data_folder_is_refused(tmp_path: Path) -> None:
    tasks = "def ok():\n    return None\n"
    extra = "\n      catalog:\n        put: ['../secret.txt']"
    write(tmp_path, one_step("MOD.ok", extra=extra), tasks, "t_escape")
    (tmp_path / "secret.txt").write_text("x")
    code, log = execute_in_process("p.yaml", tmp_path)
    assert code == 1
    assert "escapes the data folder" in log.steps["step"].message


MAP_NOT_LIST = """
dag:
  start_at: each
  steps:
    each:
      type: map
      iterate_on: things
      iterate_as: thing
      next: success
      branch:
        start_at: s
        steps:
          s: {type: stub, next: success}
          success: {type: success}
          fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""


def test_map_over_a_non_list_fails_with_the_reason(tmp_path: Path) -> None:
    write(tmp_path, MAP_NOT_LIST)
    proc = run_magnus(
        ["execute", "p.yaml", "--run-id", "nl"], tmp_path, env={"MAGNUS_PRM_things": '"abc"'}
    )
    assert proc.returncode == 1
    log = load_run_log(tmp_path, "nl")
    assert log.steps["each"].status.value == "FAIL"
    assert "must be a list, got str" in log.steps["each"].message
    assert "p.yaml:" in log.steps["each"].message


def test_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    prepare_workdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("executor:\n  type: local\n  config:\n    nope: 1\n")
    proc = run_magnus(["execute", "samples/hello.yaml", "-c", "bad.yaml"], tmp_path)
    assert proc.returncode == 2
    assert "bad.yaml:4" in proc.stderr and "Traceback" not in proc.stderr
    buffered = "run_log_store:\n  type: buffered\nexecutor:\n  type: local\n  config:\n"
    (tmp_path / "buf.yaml").write_text(buffered + "    enable_parallel: true\n")
    proc = run_magnus(["execute", "samples/hello.yaml", "-c", "buf.yaml"], tmp_path)
    assert proc.returncode == 2 and "buffered" in proc.stderr and "buf.yaml:" in proc.stderr
    assert run_magnus(["execute", "samples/hello.yaml", "--run-id", "x1"], tmp_path).returncode == 0
    again = run_magnus(["execute", "samples/hello.yaml", "--run-id", "x1"], tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    cached = run_magnus(["execute", "samples/hello.yaml", "--use-cached", "nope"], tmp_path)
    assert cached.returncode == 2 and "nope" in cached.stderr


SLOW = """
dag:
  start_at: first
  steps:
    first: {type: task, command: MOD.first, next: second}
    second: {type: task, command: MOD.second, next: third}
    third: {type: task, command: MOD.third, next: success}
    success: {type: success}
    fail: {type: fail}
"""
SLOW_TASKS = """
import time
from pathlib import Path

def first():
    Path("first-count").write_text(str(int(Path("first-count").read_text() or 0) + 1)
                                   if Path("first-count").exists() else "1")
    return {"a": 1}

def second(a):
    if not Path("go").exists():
        Path("waiting").write_text("")
        time.sleep(60)
    return {"b": a + 1}

def third(b):
    return {"c": b + 1}
"""


def test_kill_9_mid_run_then_use_cached_finishes(tmp_path: Path) -> None:
    write(tmp_path, SLOW, SLOW_TASKS, "t_slow")
    proc = subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", "execute", "p.yaml", "--run-id", "killed"],
        cwd=tmp_path,
        env=magnus_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "waiting").exists():
            assert time.monotonic() < deadline, "second step never started"
            assert proc.poll() is None
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = load_run_log(tmp_path, "killed")  # readable after kill -9
    assert log.steps["first"].status.value == "SUCCESS"
    assert log.steps["second"].status.value == "PROCESSING"
    assert log.status.value == "PROCESSING"
    (tmp_path / "go").write_text("")
    rerun = run_magnus(
        ["execute", "p.yaml", "--run-id", "again", "--use-cached", "killed"], tmp_path
    )
    assert rerun.returncode == 0, rerun.stderr
    log = load_run_log(tmp_path, "again")
    assert log.status.value == "SUCCESS"
    assert log.steps["first"].mock
    assert not log.steps["second"].mock and not log.steps["third"].mock
    assert log.parameters == {"a": 1, "b": 2, "c": 3}
    assert (tmp_path / "first-count").read_text() == "1"  # first did not run again


def test_rerun_of_failure_at_second_of_three(tmp_path: Path) -> None:
    tasks = SLOW_TASKS.replace("time.sleep(60)", "raise RuntimeError('not yet')")
    write(tmp_path, SLOW, tasks, "t_rerun")
    code, old = execute_in_process("p.yaml", tmp_path, "old")
    assert code == 1 and old.steps["second"].status.value == "FAIL"
    (tmp_path / "go").write_text("")
    code, new = execute_in_process("p.yaml", tmp_path, "new", use_cached="old")
    assert code == 0
    assert [(n, s.mock, s.status.value) for n, s in new.steps.items()] == [
        ("first", True, "SUCCESS"),
        ("second", False, "SUCCESS"),
        ("third", False, "SUCCESS"),
        ("success", False, "SUCCESS"),
    ]


def test_rerun_copies_the_catalog(tmp_path: Path) -> None:
    code, _old = execute_in_process("catalog", tmp_path, "old")
    assert code == 0
    code, new = execute_in_process("catalog", tmp_path, "new", use_cached="old")
    assert code == 0 and all(s.mock for n, s in new.steps.items() if n != "success")
    assert (tmp_path / ".catalog" / "new" / "data" / "raw.txt").read_text() == "one\ntwo\nthree\n"


@pytest.mark.parametrize("parallel", [False, True])
def test_failing_branch_fails_the_composite(tmp_path: Path, parallel: bool) -> None:
    tasks = "def boom(chunk):\n    if chunk == 'b':\n        raise ValueError('bad chunk')\n"
    pipeline = """
dag:
  start_at: each
  steps:
    each:
      type: map
      iterate_on: chunks
      iterate_as: chunk
      next: success
      on_failure: handle
      branch:
        start_at: work
        steps:
          work: {type: task, command: MOD.boom, next: success}
          success: {type: success}
          fail: {type: fail}
    handle: {type: stub, next: fail}
    success: {type: success}
    fail: {type: fail}
"""
    write(tmp_path, pipeline, tasks, f"t_branch_{parallel}")
    params = tmp_path / "params.yaml"
    params.write_text("chunks: [a, b, c]\n")
    config = (
        "executor:\n  type: local\n  config:\n    enable_parallel: true\n" if parallel else None
    )
    code, log = execute_in_process("p.yaml", tmp_path, "r", config, parameters_file=str(params))
    assert code == 1
    each = log.steps["each"]
    assert each.status.value == "FAIL" and "each.b" in each.message
    assert {n: b.status.value for n, b in each.branches.items()} == {
        "each.a": "SUCCESS",
        "each.b": "FAIL",
        "each.c": "SUCCESS",
    }
    assert list(log.steps) == ["each", "handle", "fail"]


def test_sys_exit_in_a_python_task_fails_only_that_step(tmp_path: Path) -> None:
    tasks = "import sys\n\ndef bye():\n    sys.exit(3)\n\ndef fine():\n    sys.exit(0)\n"
    pipeline = """
dag:
  start_at: a
  steps:
    a: {type: task, command: MOD.fine, next: b}
    b: {type: task, command: MOD.bye, next: success, on_failure: c}
    c: {type: stub, next: success}
    success: {type: success}
    fail: {type: fail}
"""
    write(tmp_path, pipeline, tasks, "t_exit")
    code, log = execute_in_process("p.yaml", tmp_path)
    assert code == 0
    assert log.steps["a"].status.value == "SUCCESS"
    assert log.steps["b"].status.value == "FAIL" and "sys.exit(3)" in log.steps["b"].message
    assert log.steps["c"].status.value == "SUCCESS"


def test_values_that_cannot_be_stored_fail_the_step(tmp_path: Path) -> None:
    tasks = (
        "from magnus_render import track_this\n\n"
        "def obj():\n    return {'when': object()}\n\n"
        "def metric():\n    track_this(m=object())\n"
    )
    pipeline = """
dag:
  start_at: a
  steps:
    a: {type: task, command: MOD.obj, next: success, on_failure: b}
    b: {type: task, command: MOD.metric, next: success}
    success: {type: success}
    fail: {type: fail}
"""
    write(tmp_path, pipeline, tasks, "t_json")
    code, log = execute_in_process("p.yaml", tmp_path)
    assert code == 1
    assert "'when': object values cannot be stored" in log.steps["a"].message
    assert "'m': object values" in log.steps["b"].message
