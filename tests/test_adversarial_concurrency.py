"""Map branches as separate `magnus execute_single_node` processes, all at once, as pods
of an orchestrator would run them: on chunked-fs and on s3 (a moto server on 127.0.0.1)
no branch, step, attempt or output is lost. CI runs 8 (chunked-fs) and 4 (s3) branches;
--runslow runs 100 on each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env

TASKS = """
def work(item: int) -> dict:
    return {"square": item * item}
"""
PIPELINE = """
dag:
  start_at: each
  steps:
    each:
      type: map
      iterate_on: items
      iterate_as: item
      next: success
      branch:
        start_at: w
        steps:
          w: {type: task, command: c_tasks.work, next: success}
          success: {type: success}
          fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""
MAGNUS = [sys.executable, "-m", "magnus_render.cli"]


def magnus(work: Path, env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [*MAGNUS, *args, "--file", "p.yaml", "-c", "config.yaml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (args, result.stderr)


def fan_out_run_in(work: Path, config: str, branches: int, extra_env: dict[str, str]) -> None:
    """fan out, every branch's nodes in its own processes (all branches at once), fan in."""
    (work / "c_tasks.py").write_text(TASKS)
    (work / "p.yaml").write_text(PIPELINE)
    (work / "config.yaml").write_text(config)
    (work / "params.yaml").write_text(json.dumps({"items": list(range(branches))}))
    env = magnus_env({"PYTHONPATH": f"{work}{os.pathsep}{magnus_env()['PYTHONPATH']}"})
    env.update(extra_env)
    run = "conc"
    magnus(
        work,
        env,
        "fan",
        run,
        "each",
        "--mode",
        "out",
        "-p",
        "params.yaml",
        "--items-file",
        "items.json",
    )
    items = json.loads((work / "items.json").read_text())
    assert len(items) == branches

    def branch(item: str) -> None:
        for node in ("each.{map}.w", "each.{map}.success"):
            magnus(work, env, "execute_single_node", run, node, "--map-variable", item)

    with ThreadPoolExecutor(max_workers=branches) as pool:
        list(pool.map(branch, items))
    magnus(work, env, "fan", run, "each", "--mode", "in")
    magnus(work, env, "execute_single_node", run, "success")


def assert_nothing_lost(log: object, branches: int) -> None:
    each = log.steps["each"]  # type: ignore[attr-defined]
    assert log.status.value == "SUCCESS"  # type: ignore[attr-defined]
    assert each.status.value == "SUCCESS"
    assert len(each.branches) == branches, sorted(each.branches)
    squares = []
    for branch in each.branches.values():
        assert branch.status.value == "SUCCESS", branch
        steps = {s.name: s for s in branch.steps.values()}
        assert set(steps) == {"w", "success"}, steps
        attempts = steps["w"].attempts
        assert [a.status.value for a in attempts] == ["SUCCESS"]
        squares.append(branch.parameters.get("square"))
    assert sorted(squares) == sorted(i * i for i in range(branches))


@pytest.mark.parametrize(
    "branches", [8, pytest.param(100, marks=pytest.mark.slow)], ids=lambda n: f"{n}-branches"
)
def test_concurrent_branches_on_chunked_fs(branches: int, tmp_path: Path) -> None:
    config = "run_log_store:\n  type: chunked-fs\n"
    fan_out_run_in(tmp_path, config, branches, {})
    assert_nothing_lost(load_run_log(tmp_path, "conc", tmp_path / "config.yaml"), branches)


@pytest.mark.parametrize(
    "branches", [4, pytest.param(100, marks=pytest.mark.slow)], ids=lambda n: f"{n}-branches"
)
def test_concurrent_branches_on_s3(
    branches: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sfn_harness import moto_server

    with moto_server() as server:
        server.client("s3").create_bucket(Bucket="runs")
        config = (
            "run_log_store:\n  type: s3\n  config:\n    bucket: runs\n"
            f"    endpoint_url: {server.endpoint}\n"
        )
        fan_out_run_in(tmp_path, config, branches, server.env())
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        log = load_run_log(tmp_path, "conc", tmp_path / "config.yaml")
    assert_nothing_lost(log, branches)
