"""The ``subprocess-pool`` executor, installed with pip and chosen by a config file:
``magnus execute -c pool.yaml`` runs every node as its own ``magnus execute_single_node``
process and leaves the run log ``magnus execute`` with the local executor leaves."""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path

import pytest
from conftest import console_script

from tests.helpers.runlog import execute_in_process, load_run_log, magnus_env
from tests.test_shell_conformance import SAMPLE_NAMES, assert_same_run, own_workdir


def magnus(workdir: Path, *args: str):
    """``magnus ARGS``: the console script pip installed, as a real process."""
    import subprocess

    return subprocess.run(
        [*console_script("magnus"), *args],
        cwd=workdir,
        env=magnus_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def pool_config(workdir: Path, extra: str = "") -> str:
    (workdir / "pool.yaml").write_text(
        f"executor:\n  type: subprocess-pool\n  config:\n    workers: 2\n{extra}",
        encoding="utf-8",
    )
    return "pool.yaml"


def test_the_plugin_registers_the_executor() -> None:
    assert distribution("magnus-make").entry_points.select(group="magnus_render.executors")


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_through_the_pool_matches_magnus_execute(sample: str, tmp_path: Path) -> None:
    local_code, local_log = execute_in_process(sample, own_workdir(tmp_path / "local"))
    workdir = own_workdir(tmp_path / "pool")
    config = pool_config(workdir)
    result = magnus(workdir, "execute", f"samples/{sample}.yaml", "-c", config, "--run-id", "p1")
    assert result.returncode == local_code, result.stderr
    assert_same_run(local_log, load_run_log(workdir, "p1", config))


def test_a_node_past_its_timeout_fails_the_step_and_the_run(tmp_path: Path) -> None:
    """The killed node never wrote its outcome: the executor records why, and the run
    ends FAIL through the fail node (never left PROCESSING)."""
    workdir = own_workdir(tmp_path / "w")
    (workdir / "slow.yaml").write_text(
        "dag:\n  start_at: nap\n  steps:\n"
        "    nap:\n      type: task\n      command_type: shell\n      command: sleep 60\n"
        "      next: success\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    config = pool_config(workdir, "    timeout_seconds: 2\n")
    result = magnus(workdir, "execute", "slow.yaml", "-c", config, "--run-id", "t1")
    assert result.returncode == 1, result.stderr
    log = load_run_log(workdir, "t1", config)
    assert log.status == "FAIL"
    nap = log.steps["nap"]
    assert nap.status == "FAIL"
    assert "longer than 2.0 s" in nap.message
    assert log.steps["fail"].status == "SUCCESS"


def test_unknown_setting_exits_2_naming_the_config(tmp_path: Path) -> None:
    workdir = own_workdir(tmp_path / "w")
    config = pool_config(workdir, "    wrokers: 3\n")
    result = magnus(workdir, "execute", "samples/hello.yaml", "-c", config)
    assert result.returncode == 2
    assert "pool.yaml" in result.stderr and "wrokers" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_other_processes_cannot_share_is_refused(tmp_path: Path) -> None:
    """Nodes run in other processes, so the in-memory store is refused before any run."""
    workdir = own_workdir(tmp_path / "w")
    (workdir / "pool.yaml").write_text(
        "executor:\n  type: subprocess-pool\nrun_log_store:\n  type: buffered\n", encoding="utf-8"
    )
    result = magnus(workdir, "execute", "samples/hello.yaml", "-c", "pool.yaml")
    assert result.returncode == 2
    assert "pool.yaml:3:" in result.stderr and "buffered" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
