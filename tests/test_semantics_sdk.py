"""A pipeline built in Python whose run fails makes its script exit non-zero:
``Pipeline.execute()`` raises ExecutionFailedError (magnus 0.5's ``magnus execute``
exception) carrying the run log; ``raise_on_failure=False`` returns the failed log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runlog import magnus_env, prepare_workdir


def script(workdir: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"samples/sdk/{name}.py"],
        cwd=workdir,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_failing_sdk_script_exits_non_zero(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path)
    proc = script(workdir, "failing")
    assert proc.returncode == 1, proc.stderr
    assert "ExecutionFailedError" in proc.stderr
    assert "'broken' (shell command exited with code 1)" in proc.stderr


def test_a_succeeding_sdk_script_exits_zero(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path)
    proc = script(workdir, "hello")
    assert proc.returncode == 0, proc.stderr


def test_execute_raises_with_the_run_log_or_returns_it_when_asked(tmp_path: Path) -> None:
    from magnus import exceptions
    from magnus_render.sdk import ExecutionFailedError, Pipeline, Task

    assert exceptions.ExecutionFailedError is ExecutionFailedError
    boom = Task(name="boom", command_type="shell", command="exit 3", terminate_with_success=True)
    pipeline = Pipeline(steps=[boom])
    prepare_workdir(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(ExecutionFailedError, match="run 'r1' failed at step 'boom'") as info:
            pipeline.execute(run_id="r1", quiet=True)
        assert info.value.run_log.status.value == "FAIL" and info.value.exit_code == 1
        log = pipeline.execute(run_id="r2", quiet=True, raise_on_failure=False)
        assert log.status.value == "FAIL" and log.steps["boom"].status.value == "FAIL"
    finally:
        os.chdir(cwd)
