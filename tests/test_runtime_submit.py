"""The container protocol's re-run and submit-time options, as real processes.

``--use-cached`` is a property of the run: a node called without it still reuses from the
run log's original run (Step Functions passes it to the first container only).
``--param NAME=JSON`` / ``--params-json OBJECT`` give initial parameters the values
given at submit; the run log records where each value came from; bad ones exit 2.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.runlog import load_run_log, prepare_workdir, run_magnus

THREE = """
dag:
  start_at: a
  steps:
    a: {type: task, command_type: shell, command: "echo x >> ran-a", next: b}
    b: {type: task, command_type: shell, command: "echo x >> ran-b", next: c}
    c:
      type: task
      command_type: shell
      command: 'echo x >> ran-c; test -f fixed; export MAGNUS_PRM_seen="$MAGNUS_PRM_n"'
      next: success
    success: {type: success}
    fail: {type: fail}
"""


def _node(work: Path, run_id: str, step: str, *options: str) -> int:
    args = ["execute_single_node", "--file", "three.yaml", "-p", "p.yaml", *options]
    proc = run_magnus([*args, "--", run_id, step], work)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode


def _workdir(tmp_path: Path) -> Path:
    work = prepare_workdir(tmp_path)
    (work / "three.yaml").write_text(THREE, encoding="utf-8")
    (work / "p.yaml").write_text("n: 1\nm: keep\n", encoding="utf-8")
    return work


def test_only_the_first_node_is_told_to_reuse(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    assert [_node(work, "old", s) for s in "abc"] == [0, 0, 1]
    (work / "fixed").write_text("")
    assert _node(work, "new", "a", "--use-cached", "old") == 0
    assert _node(work, "new", "b") == 0  # not told: the run log says it is a re-run
    assert _node(work, "new", "c") == 0
    assert [(work / f"ran-{s}").read_text().count("x") for s in "abc"] == [1, 1, 2]
    log = load_run_log(work, "new")
    assert log.steps["a"].mock and log.steps["b"].mock and not log.steps["c"].mock
    assert log.steps["b"].message == "succeeded in run old, attempt 1"
    assert log.run_config["parameter_sources"] == {"m": "run old", "n": "run old"}


def test_values_given_at_submit_and_their_sources(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    (work / "fixed").write_text("")
    # the rendered default (the file's value) is not a value given at submit
    given = ["--param", "n=5", "--param", "m=keep", "--params-json", '{"extra": [1]}']
    assert _node(work, "r1", "a", *given) == 0
    log = load_run_log(work, "r1")
    assert log.parameters == {"n": 5, "m": "keep", "extra": [1]}
    assert log.run_config["parameter_sources"] == {
        "extra": "submit",
        "m": "parameters_file",
        "n": "submit",
    }
    assert _node(work, "r1", "b", "--param", "n=7") == 0  # the run log exists: ignored
    assert _node(work, "r1", "c") == 0
    assert load_run_log(work, "r1").parameters["seen"] == 5


def test_bad_values_given_at_submit_exit_2_before_anything_runs(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    for options, needle in (
        (["--param", "n"], "--param 'n': write NAME=JSON"),
        (["--param", "1x=2"], "'1x' is not a Python identifier"),
        (["--params-json", "[1]"], "--params-json must be a JSON object"),
        (["--params-json", "{"], "--params-json is not a JSON object"),
        (["--params-json", '{"x": NaN}'], "--params-json is not a JSON object"),
    ):
        args = ["execute_single_node", "--file", "three.yaml", *options, "--", "bad", "a"]
        proc = run_magnus(args, work)
        assert proc.returncode == 2, (options, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (work / "ran-a").exists()
    assert not list((work / ".run_log_store").glob("bad*"))


PARALLEL = """
dag:
  start_at: par
  steps:
    par:
      type: parallel
      next: last
      branches:
        x:
          start_at: step
          steps:
            step: {type: task, command_type: shell, command: "echo x >> ran-x", next: success}
            success: {type: success}
            fail: {type: fail}
        y:
          start_at: step
          steps:
            step: {type: task, command_type: shell, command: "echo x >> ran-y", next: success}
            success: {type: success}
            fail: {type: fail}
    last: {type: task, command_type: shell, command: "test -f fixed", next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_parallel_branches_are_reused_through_the_protocol(tmp_path: Path) -> None:
    from tests.helpers.protocol import drive

    work = prepare_workdir(tmp_path)
    (work / "par.yaml").write_text(PARALLEL, encoding="utf-8")
    assert drive("par.yaml", "old", work) == 1
    (work / "fixed").write_text("")
    assert drive("par.yaml", "new", work, extra=["--use-cached", "old"]) == 0
    assert [(work / f"ran-{b}").read_text() for b in "xy"] == ["x\n", "x\n"]
    branches = load_run_log(work, "new").steps["par"].branches
    assert {n: b.steps[f"{n}.step"].mock for n, b in branches.items()} == {
        "par.x": True,
        "par.y": True,
    }
