"""The ``make`` target, installed with pip and used through ``magnus-render --target make``:
for every sample, running the rendered Makefile with GNU make leaves the run log that
``magnus execute`` leaves (the project's conformance check, as for the shell target)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
from conftest import console_script

from tests.helpers.runlog import execute_in_process, load_run_log, magnus_env
from tests.test_shell_conformance import SAMPLE_NAMES, assert_same_run, own_workdir

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def render(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``magnus-render ARGS``: the console script pip installed, as a real process."""
    return subprocess.run(
        [*console_script("magnus-render"), *args],
        cwd=workdir,
        env=magnus_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def make_config(workdir: Path, max_parallel: int = 1) -> str:
    python = json.dumps(sys.executable)
    (workdir / "make.yaml").write_text(
        "executor:\n  type: make\n  config:\n"
        f"    max_parallel: {max_parallel}\n"
        f"    magnus_command: [{python}, -m, magnus_render.cli]\n"
        f"    python_command: [{python}]\n",
        encoding="utf-8",
    )
    return "make.yaml"


def run_make(workdir: Path, makefile: str, *args: str) -> subprocess.CompletedProcess[str]:
    scratch = workdir / "scratch"
    scratch.mkdir(exist_ok=True)
    result = subprocess.run(
        ["make", "-f", makefile, *args],
        cwd=workdir,
        env=magnus_env({"TMPDIR": str(scratch)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert list(scratch.iterdir()) == [], "the Makefile left scratch files behind"
    return result


def test_the_plugin_is_installed_and_listed(tmp_path: Path) -> None:
    assert distribution("magnus-make").entry_points.select(group="magnus_render.targets")
    result = render(tmp_path, "--list-targets")
    assert result.returncode == 0, result.stderr
    assert "make" in result.stdout.split()


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_through_make_matches_magnus_execute(sample: str, tmp_path: Path) -> None:
    local_code, local_log = execute_in_process(sample, own_workdir(tmp_path / "local"))

    workdir = own_workdir(tmp_path / "make")
    config = make_config(workdir, max_parallel=2 if sample in ("parallel", "nested", "map") else 1)
    rendered = render(
        workdir, "--target", "make", f"samples/{sample}.yaml", "-c", config, "-o", "wf.mk"
    )
    assert rendered.returncode == 0, rendered.stderr
    result = run_make(workdir, "wf.mk", "RUN_ID=make-run")
    # make reports a failed recipe as 2: 0 exactly when the run succeeded
    assert result.returncode == (0 if local_code == 0 else 2), result.stderr
    assert_same_run(local_log, load_run_log(workdir, "make-run", config))


@pytest.mark.parametrize("sample", ["parallel", "nested"])
def test_branch_steps_run_without_make_jobserver_warnings(sample: str, tmp_path: Path) -> None:
    """Branches run under ``make -j max_parallel``; each step's sub-make is not a ``$(MAKE)``
    line (so ``make -n`` stays dry), so it must not inherit that jobserver: GNU make warned
    ``jobserver unavailable: using -j1.  Add '+' to parent make rule`` for every step."""
    workdir = own_workdir(tmp_path / "w")
    config = make_config(workdir, max_parallel=2)
    rendered = render(
        workdir, "--target", "make", f"samples/{sample}.yaml", "-c", config, "-o", "wf.mk"
    )
    assert rendered.returncode == 0, rendered.stderr
    result = run_make(workdir, "wf.mk", "RUN_ID=make-run", "TAG=a b")
    assert result.returncode == 0, result.stderr
    assert "jobserver" not in result.stderr and "warning" not in result.stderr, result.stderr
    assert load_run_log(workdir, "make-run", config).tag == "a b"


def test_use_cached_and_tag_reach_every_call(tmp_path: Path) -> None:
    workdir = own_workdir(tmp_path / "w")
    execute_in_process("failing", workdir, run_id="original")
    local_code, local_log = execute_in_process(
        "failing", workdir, run_id="local-rerun", use_cached="original"
    )
    config = make_config(workdir)
    rendered = render(workdir, "--target", "make", "samples/failing.yaml", "-c", config)
    (workdir / "wf.mk").write_text(rendered.stdout, encoding="utf-8")
    result = run_make(workdir, "wf.mk", "RUN_ID=make-rerun", "USE_CACHED=original", "TAG=t1")
    assert result.returncode == 2 and local_code == 1, result.stderr
    make_log = load_run_log(workdir, "make-rerun", config)
    assert make_log.use_cached and make_log.original_run_id == "original"
    assert make_log.tag == "t1"
    assert any(step.mock for step in make_log.steps.values()), "nothing was reused"
    assert_same_run(local_log.model_copy(update={"tag": "t1"}), make_log)


def test_hostile_file_name_stays_literal(tmp_path: Path) -> None:
    """``$``, quotes and backticks in a path reach magnus as one word, never make or bash."""
    workdir = own_workdir(tmp_path / "w")
    name = "in $(touch PWNED1) `touch PWNED2` 'q' $$HOME.yaml"
    shutil.copy(workdir / "samples" / "hello.yaml", workdir / name)
    config = make_config(workdir)
    rendered = render(workdir, "--target", "make", name, "-c", config, "-o", "wf.mk")
    assert rendered.returncode == 0, rendered.stderr
    result = run_make(workdir, "wf.mk", "RUN_ID=make-run")
    assert result.returncode == 0, result.stderr
    assert load_run_log(workdir, "make-run", config).status == "SUCCESS"
    assert list(tmp_path.rglob("PWNED*")) == []


def test_bad_setting_exits_2_naming_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "executor:\n  type: make\n  config:\n    max_parallel: 0\n", encoding="utf-8"
    )
    hello = str(Path(__file__).resolve().parents[4] / "samples" / "hello.yaml")
    result = render(tmp_path, "--target", "make", hello, "-c", "bad.yaml")
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "max_parallel" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    workdir = own_workdir(tmp_path / "w")
    first = render(workdir, "--target", "make", "samples/nested.yaml")
    second = render(workdir, "--target", "make", "samples/nested.yaml")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout


def test_make_n_is_a_dry_run(tmp_path: Path) -> None:
    """Sub-makes are not `$(MAKE)` recipe lines, so `make -n` prints and runs nothing."""
    workdir = own_workdir(tmp_path / "w")
    config = make_config(workdir)
    rendered = render(workdir, "--target", "make", "samples/hello.yaml", "-c", config)
    (workdir / "wf.mk").write_text(rendered.stdout, encoding="utf-8")
    result = run_make(workdir, "wf.mk", "-n", "RUN_ID=dry")
    assert result.returncode == 0, result.stderr
    assert "MK_ROUTE=" in result.stdout
    assert not (workdir / ".run_log_store").exists()


def test_a_line_break_in_a_path_is_refused(tmp_path: Path) -> None:
    """A recipe cannot hold a line break: exit 2 with a message, nothing written."""
    workdir = own_workdir(tmp_path / "w")
    name = "two\nlines.yaml"
    shutil.copy(workdir / "samples" / "hello.yaml", workdir / name)
    result = render(workdir, "--target", "make", name, "-o", "wf.mk")
    assert result.returncode == 2
    assert "line break" in result.stderr and "Traceback" not in result.stderr
    assert not (workdir / "wf.mk").exists()
