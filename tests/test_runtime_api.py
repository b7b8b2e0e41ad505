"""The task-side API, parameters from the environment, executors (mocked, a
node-triggering one, real parallelism), `magnus show`/`magnus runs`, code identity."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    normalize,
    prepare_workdir,
    run_magnus,
)

API_TASKS = """
from pathlib import Path
from pydantic import BaseModel
from magnus_render import (get_parameter, set_parameter, track_this, get_run_id, get_run_log,
                           put_object, get_object, put_in_catalog, get_from_catalog)


class Out(BaseModel):
    total: int


def produce(start: int, label: str):
    assert get_parameter("start") == start and get_parameter("missing", 7) == 7
    set_parameter(extra={"nested": [1, 2]})
    track_this(loss=0.5)
    track_this(step=1, acc=0.1)
    track_this(step=2, acc=0.2)
    put_object({"run": get_run_id()}, "meta")
    Path("data").mkdir(exist_ok=True)
    Path("data/made.txt").write_text("made")
    put_in_catalog("data/made.txt")
    assert get_run_log().steps["produce"].status.value == "PROCESSING"
    return Out(total=start + 1)


def consume(total: int, extra: dict):
    assert get_object("meta") == {"run": get_run_id()}
    Path("data/made.txt").unlink()
    paths = get_from_catalog("data/made.txt")
    assert Path(paths[0]).read_text() == "made"
    return {"seen": [total, extra["nested"]]}
"""
API_PIPELINE = """
dag:
  start_at: produce
  steps:
    produce: {type: task, command: t_api.produce, next: consume}
    consume: {type: task, command: t_api.consume, next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_task_api_and_initial_parameters(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    (work / "t_api.py").write_text(API_TASKS)
    (work / "p.yaml").write_text(API_PIPELINE)
    (work / "params.yaml").write_text("start: 1\nlabel: from-file\n")
    proc = run_magnus(
        ["execute", "p.yaml", "-p", "params.yaml", "--run-id", "api", "--tag", "t1"],
        work,
        env={"MAGNUS_PRM_start": "41", "MAGNUS_PRM_label": "not json"},
    )
    assert proc.returncode == 0, proc.stderr
    log = load_run_log(work, "api")
    assert log.tag == "t1"
    assert log.parameters["start"] == 41 and log.parameters["label"] == "not json"
    assert log.parameters["total"] == 42 and log.parameters["seen"] == [42, [1, 2]]
    produce = log.steps["produce"]
    assert produce.user_defined_metrics == {"loss": 0.5, "acc": {"1": 0.1, "2": 0.2}}
    assert {"meta.json", "data/made.txt"} <= {e.name for e in produce.data_catalog}
    consume = log.steps["consume"]
    assert ("data/made.txt", "get") in {(e.name, e.stage) for e in consume.data_catalog}
    identity = produce.code_identities[0]
    assert identity.code_identifier_type in ("git", "unknown")


def test_task_api_outside_a_step_explains() -> None:
    from magnus_render import get_parameter
    from magnus_render.errors import MagnusError

    with pytest.raises(MagnusError, match="inside a running step"):
        get_parameter("x")


def test_mocked_executor_patches(tmp_path: Path) -> None:
    config = """
executor:
  type: mocked
  config:
    patches:
      double:
        command: samples.functions.recover
"""
    code, log = execute_in_process("hello", tmp_path, "mock", config)
    assert code == 0
    assert log.steps["initialize"].mock and log.steps["train"].mock
    assert not log.steps["double"].mock
    assert log.parameters == {"recovered": True}
    bad = "executor:\n  type: mocked\n  config:\n    patches:\n      nope: {command: a.b}\n"
    from magnus_render.errors import ConfigError

    with pytest.raises(ConfigError, match="nope"):
        execute_in_process("hello", tmp_path / "bad", "bad", bad)


def test_node_triggering_executor_gives_the_local_run_log(tmp_path: Path) -> None:
    config = "executor:\n  type: local-subprocess\n"
    code, through = execute_in_process("parallel", tmp_path / "sub", "sub", config)
    assert code == 0
    _, local = execute_in_process("parallel", tmp_path / "local", "local")
    assert normalize(through) == normalize(local)


RENDEZVOUS = """
import time
from pathlib import Path

def meet(me: str, other: str):
    Path(f"meet/here-{me}").write_text("")  # meet/ exists: shared by parallel branches
    deadline = time.time() + 20
    while not Path(f"meet/here-{other}").exists():
        if time.time() > deadline:
            raise RuntimeError("branches did not run at the same time")
        time.sleep(0.02)
    return {me: os_pid()}

def os_pid():
    import os
    return os.getpid()
"""
RENDEZVOUS_PIPELINE = """
dag:
  start_at: both
  steps:
    both:
      type: parallel
      next: success
      branches:
        a:
          start_at: m
          steps:
            m: {type: task, command: t_meet.meet_a, next: success}
            success: {type: success}
            fail: {type: fail}
        b:
          start_at: m
          steps:
            m: {type: task, command: t_meet.meet_b, next: success}
            success: {type: success}
            fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""


def test_parallel_executor_really_runs_branches_at_once(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    tasks = RENDEZVOUS + (
        "\ndef meet_a():\n    return meet('a', 'b')\n\ndef meet_b():\n    return meet('b', 'a')\n"
    )
    (work / "t_meet.py").write_text(tasks)
    (work / "meet").mkdir()
    (work / "p.yaml").write_text(RENDEZVOUS_PIPELINE)
    config = "executor:\n  type: local\n  config:\n    enable_parallel: true\n    max_workers: 2\n"
    code, log = execute_in_process("p.yaml", work, "par", config)
    assert code == 0, log.steps["both"].message
    assert log.parameters["a"] != log.parameters["b"] != os.getpid()


def test_show_and_runs(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    assert run_magnus(["execute", "samples/map.yaml", "--run-id", "m1"], work).returncode == 0
    shown = run_magnus(["show", "m1"], work)
    assert shown.returncode == 0
    assert "each.part-1" in shown.stdout and "summarize" in shown.stdout
    assert "SUCCESS" in shown.stdout
    as_json = json.loads(run_magnus(["show", "m1", "--json"], work).stdout)
    assert as_json["parameters"]["total"] == 180
    runs = run_magnus(["runs"], work)
    assert runs.stdout.startswith("m1  SUCCESS")
    missing = run_magnus(["show", "nope"], work)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_plain_progress_lines_and_no_git(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    env = {"PATH": os.path.dirname(sys.executable) + ":/nonexistent"}  # no git on PATH
    proc = run_magnus(["execute", "samples/hello.yaml", "--run-id", "plain"], work, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "✓ train" in proc.stderr and "run plain succeeded" in proc.stderr
    log = load_run_log(work, "plain")
    assert log.steps["train"].code_identities[0].code_identifier_type == "unknown"


ENV_TASKS = """
import json
import os


def py():
    assert json.loads(os.environ["MAGNUS_PRM_n"]) == 2
    os.environ["MAGNUS_PRM_via_env"] = "[1, 2]"
    os.environ["MAGNUS_TRACK_py_metric"] = "0.5"
"""
ENV_PIPELINE = """
dag:
  start_at: sh
  steps:
    sh:
      type: task
      command_type: shell
      command: "export MAGNUS_PRM_n=2 MAGNUS_TRACK_sh_metric=42"
      next: py
    py: {type: task, command: t_env.py, next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_magnus_05_environment_conventions(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    (work / "t_env.py").write_text(ENV_TASKS)
    (work / "p.yaml").write_text(ENV_PIPELINE)
    code, log = execute_in_process("p.yaml", work, "env")
    assert code == 0, log.steps["py"].message
    assert log.parameters == {"n": 2, "via_env": [1, 2]}
    assert log.steps["sh"].user_defined_metrics == {"sh_metric": 42}
    assert log.steps["py"].user_defined_metrics == {"py_metric": 0.5}
    assert "MAGNUS_PRM_via_env" not in os.environ and "MAGNUS_TRACK_py_metric" not in os.environ
