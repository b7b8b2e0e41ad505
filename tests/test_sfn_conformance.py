"""Conformance: each sample's state machine, run by a real ASL interpreter (moto 5.2.5's
Step Functions execution mode) with its Batch tasks run as local containers-as-processes
against a moto S3 server on 127.0.0.1, leaves in S3 the run log the local run leaves."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.runlog import execute_in_process, normalize, prepare_workdir
from tests.sfn_harness import MotoServer, moto_server, run_execution

BUCKET = "magnus-conformance"
ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"

#: sample -> (execution status, words the Fail state's cause must hold)
EXPECTED = {
    "hello": ("SUCCEEDED", None),
    "shell": ("SUCCEEDED", None),
    "parallel": ("SUCCEEDED", None),
    "map": ("SUCCEEDED", None),
    "include": ("SUCCEEDED", None),
    "on_failure": ("SUCCEEDED", None),
    "failing": ("FAILED", "step broken failed"),
    "retry": ("SUCCEEDED", None),
    "catalog": ("SUCCEEDED", None),
    "nested": ("SUCCEEDED", None),
}
SLOW = {"nested"}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, Path]]:
    workdir = prepare_workdir(tmp_path_factory.mktemp("sfn-containers"))
    with moto_server(route_tasks=True, workdir=workdir) as server:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server, workdir


def write_config(server: MotoServer, workdir: Path, name: str, extra: str = "") -> str:
    config = workdir / f"{name}.config.yaml"
    config.write_text(
        "executor:\n  type: stepfunctions\n  config:\n"
        f"    items_bucket: {BUCKET}\n    state_machine_name: {name}\n"
        f"    state_machine_arn_prefix: '{ARN_PREFIX}'\n{extra}"
        f"run_log_store:\n  type: s3\n  config: {{bucket: {BUCKET}, endpoint_url: "
        f"'{server.endpoint}', prefix: runs}}\n"
        f"catalog:\n  type: s3\n  config: {{bucket: {BUCKET}, endpoint_url: "
        f"'{server.endpoint}'}}\n",
        encoding="utf-8",
    )
    return config.name


def render_in(workdir: Path, pipeline: str, config: str, name: str) -> dict[str, dict[str, Any]]:
    """Render as a user would, from the directory the containers run in; machines by name
    (one, or the parts of a split definition, the main one first)."""
    from magnus_render.render import render_text

    old = os.getcwd()
    os.chdir(workdir)
    try:
        text, _ = render_text(Path(pipeline), "stepfunctions", Path(config))
    finally:
        os.chdir(old)
    document = json.loads(text)
    return document.get("StateMachines") or {name: document}


def s3_run_log(server: MotoServer, run_id: str) -> Any:
    from magnus_render.stores.s3_run_log import S3RunLogStore

    store = S3RunLogStore({"bucket": BUCKET, "endpoint_url": server.endpoint, "prefix": "runs"})
    return store.get_run_log(run_id)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(EXPECTED)],
)
def test_sample_through_step_functions_equals_local_run(
    aws: tuple[MotoServer, Path], tmp_path: Path, name: str
) -> None:
    server, workdir = aws
    machine = f"magnus-{name.replace('_', '-')}"
    config = write_config(server, workdir, machine)
    machines = render_in(workdir, f"samples/{name}.yaml", config, machine)
    run_id = f"sfn-{name.replace('_', '-')}"
    described = run_execution(server, machines, run_id, timeout=900 if name in SLOW else 300)
    status, cause = EXPECTED[name]
    assert described["status"] == status, described
    if status == "SUCCEEDED":  # the payload is bookkeeping only: no run parameters in it
        output = json.loads(described["output"])
        assert set(output) <= {"run_id", "failed_step", "error", "use_cached", "parameters"}
        assert output["parameters"] == "{}"  # only the (empty) values given at submit
    if cause is not None:
        assert described["error"] == "magnus.PipelineFailed"
        assert cause in described["cause"] and run_id in described["cause"]
    through_sfn = s3_run_log(server, run_id)
    local_code, local = execute_in_process(name, tmp_path)
    assert local_code == (0 if status == "SUCCEEDED" else 1)
    assert normalize(through_sfn) == normalize(local)
    ran = [t for t in server.tasks() if t["command"][-2] == run_id]  # "--" RUN_ID NAME
    assert ran and all(t["exit"] in (0, 1) for t in ran), ran


@pytest.mark.slow
def test_split_machine_runs_like_the_whole(aws: tuple[MotoServer, Path], tmp_path: Path) -> None:
    """A definition forced over its size budget becomes nested machines (parts started
    with startExecution.sync:2); executed, it leaves the same run log."""
    server, workdir = aws
    name = "magnus-split"
    config = write_config(server, workdir, name, "    max_definition_bytes: 10000\n")
    machines = render_in(workdir, "samples/map.yaml", config, name)
    assert len(machines) > 1 and next(iter(machines)) == name
    described = run_execution(server, machines, "sfn-split")
    assert described["status"] == "SUCCEEDED", described
    _, local = execute_in_process("map", tmp_path)
    assert normalize(s3_run_log(server, "sfn-split")) == normalize(local)


BRANCH_FAILURE = """\
dag:
  description: A failing parallel branch routes the parallel step to its on_failure
  start_at: both
  steps:
    both:
      type: parallel
      next: success
      on_failure: recover
      branches:
        good:
          start_at: fine
          steps:
            fine:
              type: stub
              next: success
            success:
              type: success
            fail:
              type: fail
        bad:
          start_at: broken
          steps:
            broken:
              type: task
              command: samples.functions.fail_always
              next: success
            success:
              type: success
            fail:
              type: fail
    recover:
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
"""


def test_failing_branch_on_ecs_routes_like_local(
    aws: tuple[MotoServer, Path], tmp_path: Path
) -> None:
    """ECS tasks; a branch fails: it still ends normally, `fan --mode in` exits 1 and the
    Parallel's Catch-routed fan-in takes the step's on_failure, as the local run does."""
    server, workdir = aws
    (workdir / "branch_failure.yaml").write_text(BRANCH_FAILURE, encoding="utf-8")
    name = "magnus-branch-failure"
    config = write_config(server, workdir, name, "    launch: ecs\n    subnets: [subnet-0a1b]\n")
    machines = render_in(workdir, "branch_failure.yaml", config, name)
    main = next(iter(machines.values()))
    assert main["States"]["both.fan-out"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    described = run_execution(server, machines, "sfn-branch-failure")
    assert described["status"] == "SUCCEEDED", described
    (tmp_path / "branch_failure.yaml").write_text(BRANCH_FAILURE, encoding="utf-8")
    _, local = execute_in_process("branch_failure.yaml", tmp_path)
    through_sfn = s3_run_log(server, "sfn-branch-failure")
    assert normalize(through_sfn) == normalize(local)
    assert through_sfn.steps["both"].status.value == "FAIL"
    assert through_sfn.steps["recover"].status.value == "SUCCESS"


def many_branches(path: Path, branches: int) -> None:
    lines = ["dag:", "  start_at: par", "  steps:", "    par:", "      type: parallel"]
    lines += ["      next: success", "      branches:"]
    for i in range(branches):
        lines += [f"        b{i}:", "          start_at: say", "          steps:"]
        lines += ["            say: {type: task, command_type: shell, command: 'echo b"]
        lines[-1] += f"{i}', next: success}}"
        lines += ["            success: {type: success}", "            fail: {type: fail}"]
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_parallel_split_into_groups_runs_like_the_whole(
    aws: tuple[MotoServer, Path], tmp_path: Path
) -> None:
    """A Parallel too big for one machine: its branches are packed into group machines
    (each a Parallel started with startExecution.sync:2) and the run log is unchanged."""
    server, workdir = aws
    many_branches(workdir / "many.yaml", 12)
    name = "magnus-groups"
    config = write_config(server, workdir, name, "    max_definition_bytes: 10000\n")
    machines = render_in(workdir, "many.yaml", config, name)
    assert len(machines) > 2 and any("magnus.group" in json.dumps(m) for m in machines.values())
    described = run_execution(server, machines, "sfn-groups", timeout=600)
    assert described["status"] == "SUCCEEDED", described
    many_branches(tmp_path / "many.yaml", 12)
    _, local = execute_in_process("many.yaml", tmp_path)
    assert normalize(s3_run_log(server, "sfn-groups")) == normalize(local)
