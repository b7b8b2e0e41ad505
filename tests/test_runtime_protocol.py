"""The container protocol: execute_single_node and fan give the local run log, exit
0/1/2 as documented, pass map values of any JSON type intact, and honour re-runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.helpers.protocol import drive
from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    normalize,
    prepare_workdir,
    run_magnus,
)

SAMPLES = [
    "hello",
    "shell",
    "parallel",
    "map",
    "nested",
    "include",
    "on_failure",
    "failing",
    "retry",
    "catalog",
]


@pytest.mark.parametrize("sample", SAMPLES)
def test_protocol_run_log_equals_local(sample: str, tmp_path: Path) -> None:
    local_code, local = execute_in_process(sample, tmp_path / "local", "run-local")
    work = prepare_workdir(tmp_path / "proto")
    code = drive(f"samples/{sample}.yaml", "run-proto", work)
    assert code == local_code
    assert normalize(load_run_log(work, "run-proto")) == normalize(local)


def test_exit_codes_as_processes(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    unknown = run_magnus(
        ["execute_single_node", "r1", "nope", "--file", "samples/hello.yaml"], work
    )
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_json = run_magnus(
        [
            "execute_single_node",
            "r1",
            "each.{map}.process",
            "--file",
            "samples/map.yaml",
            "--map-variable",
            "{not json",
        ],
        work,
    )
    assert bad_json.returncode == 2 and "--map-variable" in bad_json.stderr
    assert "Traceback" not in bad_json.stderr
    missing = run_magnus(
        ["execute_single_node", "r1", "each.{map}.process", "--file", "samples/map.yaml"], work
    )
    assert missing.returncode == 2 and "map" in missing.stderr
    failed = run_magnus(
        ["execute_single_node", "r2", "broken", "--file", "samples/failing.yaml"], work
    )
    assert failed.returncode == 1
    fail_node = run_magnus(
        ["execute_single_node", "r2", "fail", "--file", "samples/failing.yaml"], work
    )
    assert fail_node.returncode == 0
    log = load_run_log(work, "r2")
    assert log.status.value == "FAIL"
    assert log.steps["broken"].status.value == "FAIL"


HOSTILE = """
dag:
  start_at: --help
  steps:
    --help:  # names that look like options reach the CLI after "--"
      type: task
      command: tasks.make
      next: each
    each:
      type: map
      iterate_on: items
      iterate_as: item
      next: success
      branch:
        start_at: -x $$
        steps:
          -x $$:
            type: task
            command: tasks.echo
            next: success
          success:
            type: success
          fail:
            type: fail
    success:
      type: success
    fail:
      type: fail
"""
TASKS = """
ITEMS = ["it\\'s \\"quoted\\"", "sp ace; $(touch PWNED) `x`", "new\\nline", "dot.ted/slash%",
         3, 2.5, True, {"k": [1, "two"]}, [1, 2], "ünïcødé", "{map}", "-x", "$(HOME) $$ {{a}}"]

def make():
    return {"items": ITEMS}

def echo(item):
    return {"seen": item}
"""


def test_map_values_of_any_json_type_pass_intact(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    (work / "tasks.py").write_text(TASKS, encoding="utf-8")
    (work / "hostile.yaml").write_text(HOSTILE, encoding="utf-8")
    code = drive("hostile.yaml", "run-h", work, subprocess=False)
    assert code == 0
    log = load_run_log(work, "run-h")
    import importlib.util

    spec = importlib.util.spec_from_file_location("hostile_tasks", work / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert log.parameters["seen"] == module.ITEMS
    assert not (work / "PWNED").exists()
    _, local = execute_in_process("hostile.yaml", work, "run-local")
    assert normalize(local) == normalize(log)


def test_fan_out_items_file_format(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    assert (
        run_magnus(
            ["execute_single_node", "r", "chunk", "--file", "samples/map.yaml"], work
        ).returncode
        == 0
    )
    items = work / "items.json"
    out = run_magnus(
        [
            "fan",
            "r",
            "each",
            "--mode",
            "out",
            "--file",
            "samples/map.yaml",
            "--items-file",
            str(items),
        ],
        work,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(items.read_text())
    assert data == [json.dumps({"chunk": f"part-{i}"}) for i in range(3)]
    # fan in before the iterations ran: the map failed
    assert (
        run_magnus(
            ["fan", "r", "each", "--mode", "in", "--file", "samples/map.yaml"], work
        ).returncode
        == 1
    )


def test_first_node_creates_run_log_race_safely(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    results: list[int] = []

    def go(step: str) -> None:
        proc = run_magnus(
            ["execute_single_node", "race", step, "--file", "samples/hello.yaml"], work
        )
        results.append(proc.returncode)

    threads = [threading.Thread(target=go, args=(s,)) for s in ("initialize", "initialize")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0]
    log = load_run_log(work, "race")
    assert log.steps["initialize"].status.value == "SUCCESS"
    assert log.parameters["x"] == 3


MARKER = """
from pathlib import Path

def first():
    Path("first-ran").write_text("x")
    return {"a": 1}

def second(a):
    if not Path("allow").exists():
        raise RuntimeError("not yet")
    return {"b": a + 1}
"""
TWO = """
dag:
  start_at: first
  steps:
    first: {type: task, command: marker.first, next: second}
    second: {type: task, command: marker.second, next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_use_cached_single_node_is_mocked(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    (work / "marker.py").write_text(MARKER, encoding="utf-8")
    (work / "two.yaml").write_text(TWO, encoding="utf-8")
    assert drive("two.yaml", "old", work) == 1
    (work / "first-ran").unlink()
    (work / "allow").write_text("")
    assert drive("two.yaml", "new", work, extra=["--use-cached", "old"]) == 0
    assert not (work / "first-ran").exists()  # mocked, not executed
    log = load_run_log(work, "new")
    assert log.steps["first"].mock and not log.steps["second"].mock
    assert log.parameters == {"a": 1, "b": 2}
    assert log.original_run_id == "old" and log.use_cached
