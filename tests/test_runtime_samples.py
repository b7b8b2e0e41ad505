"""Every sample runs locally and its run log holds what the sample promises, for the
sequential and the parallel local executor alike (and both give the same run log)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.runlog import execute_in_process, normalize

PARALLEL = """
executor:
  type: local
  config:
    enable_parallel: true
    max_workers: 2
"""
CHUNKED = """
run_log_store:
  type: chunked-fs
"""

EXECUTORS = {"sequential": None, "parallel": PARALLEL}


def statuses(steps: dict[str, Any]) -> dict[str, str]:
    return {name: step.status.value for name, step in steps.items()}


def check_hello(code: int, log: Any) -> None:
    assert code == 0 and log.status.value == "SUCCESS"
    assert list(log.steps) == ["initialize", "double", "train", "report", "success"]
    assert log.parameters["x"] == 6 and log.parameters["score"] == 1.2
    assert log.steps["train"].user_defined_metrics == {"score": 1.2}
    assert log.steps["double"].attempts[0].parameters["x"] == 3


def check_shell(code: int, log: Any) -> None:
    assert code == 0
    assert log.parameters == {"count": 3, "word": "spam", "total": 6}
    names = [e.name for e in log.steps["repeat"].data_catalog]
    assert names == ["repeat.attempt-1.execution.log"]


def check_parallel(code: int, log: Any) -> None:
    assert code == 0
    both = log.steps["both"]
    assert both.status.value == "SUCCESS"
    assert sorted(both.branches) == ["both.python_branch", "both.shell_branch"]
    assert both.branches["both.python_branch"].parameters == {"x": 6}
    assert statuses(both.branches["both.shell_branch"].steps) == {
        "both.shell_branch.echo": "SUCCESS",
        "both.shell_branch.wait": "SUCCESS",
        "both.shell_branch.success": "SUCCESS",
    }
    assert log.parameters["x"] == 6  # merged up at fan-in


def check_map(code: int, log: Any) -> None:
    assert code == 0
    assert sorted(log.steps["each"].branches) == ["each.part-0", "each.part-1", "each.part-2"]
    assert log.parameters["processed"] == ["part-0x10", "part-1x10", "part-2x10"]
    assert log.parameters["size"] == [60, 60, 60]
    assert log.parameters["total"] == 180
    branch = log.steps["each"].branches["each.part-1"]
    assert branch.map_variable == {"chunk": "part-1"}
    assert branch.parameters == {"processed": "part-1x10", "size": 60}


def check_nested(code: int, log: Any) -> None:
    assert code == 0
    assert log.parameters["fitted"] == [["eu-1", "eu-2"], ["us-1", "us-2"]]
    assert log.parameters["evaluated"] == [["eu:1", "eu:2"], ["us:1", "us:2"]]
    region = log.steps["regions"].branches["regions.us"]
    work = region.steps["regions.us.work"]
    seeds = work.branches["regions.us.work.evaluation"].steps["regions.us.work.evaluation.seeds"]
    step = seeds.branches["regions.us.work.evaluation.seeds.2"].steps[
        "regions.us.work.evaluation.seeds.2.evaluate"
    ]
    assert step.user_defined_metrics == {"quality": 1.0}
    assert step.attempts[0].parameters["region"] == "us"


def check_include(code: int, log: Any) -> None:
    assert code == 0
    assert list(log.steps["training"].branches) == ["training.dag"]
    assert log.parameters["score"] == 1.2


def check_on_failure(code: int, log: Any) -> None:
    assert code == 0 and log.status.value == "SUCCESS"
    assert statuses(log.steps) == {"risky": "FAIL", "recover": "SUCCESS", "success": "SUCCESS"}
    assert "fails on purpose" in log.steps["risky"].message
    assert log.parameters == {"recovered": True}


def check_failing(code: int, log: Any) -> None:
    assert code == 1 and log.status.value == "FAIL"
    assert statuses(log.steps) == {"prepare": "SUCCESS", "broken": "FAIL", "fail": "SUCCESS"}


def check_retry(code: int, log: Any) -> None:
    assert code == 0
    attempts = log.steps["flaky"].attempts
    assert [(a.attempt_number, a.status.value) for a in attempts] == [
        (1, "FAIL"),
        (2, "FAIL"),
        (3, "SUCCESS"),
    ]
    assert log.parameters == {"attempts_needed": 3}


def check_catalog(code: int, log: Any) -> None:
    assert code == 0
    write = {(e.name, e.stage) for e in log.steps["write"].data_catalog}
    assert {("data/raw.txt", "put"), ("data/meta.json", "put")} <= write
    read = {(e.name, e.stage) for e in log.steps["read"].data_catalog}
    assert {("data/raw.txt", "get"), ("data/meta.json", "get"), ("data/result.txt", "put")} <= read
    # files just fetched and unchanged are not put back
    assert ("data/raw.txt", "put") not in read
    assert log.parameters == {"rows": 3}


CHECKS = {
    "hello": check_hello,
    "shell": check_shell,
    "parallel": check_parallel,
    "map": check_map,
    "nested": check_nested,
    "include": check_include,
    "on_failure": check_on_failure,
    "failing": check_failing,
    "retry": check_retry,
    "catalog": check_catalog,
}


@pytest.mark.parametrize("sample", sorted(CHECKS))
def test_sample_sequential_and_parallel(sample: str, tmp_path) -> None:
    logs = {}
    for executor, config in EXECUTORS.items():
        code, log = execute_in_process(sample, tmp_path / executor, f"run-{executor}", config)
        CHECKS[sample](code, log)
        logs[executor] = normalize(log)
    assert logs["sequential"] == logs["parallel"]


@pytest.mark.parametrize("sample", ["map", "nested", "retry"])
def test_sample_with_chunked_store(sample: str, tmp_path) -> None:
    config = CHUNKED + (PARALLEL if sample == "nested" else "")
    code, log = execute_in_process(sample, tmp_path, "run-chunked", config)
    CHECKS[sample](code, log)
    _, seq = execute_in_process(sample, tmp_path / "fs", "run-fs")
    assert normalize(log) == normalize(seq)
