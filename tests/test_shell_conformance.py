"""Conformance: a sample run through the rendered shell script (real bash, real `magnus`
subprocesses) leaves the same run log as `magnus execute`, timestamps aside.

Also the hostile pipeline end to end: names, file name, parameters and map items built to
inject shell run through both paths, agree, and create nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.shell import ShellRenderer
from magnus_render.runtime.entrypoints import execute_pipeline
from tests.conftest import SAMPLES
from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    magnus_env,
    normalize,
    prepare_workdir,
)
from tests.test_shell_script import hostile_pipeline

#: every runnable sample, relative to samples/ without .yaml (the notebook one included)
SAMPLE_NAMES = sorted([p.stem for p in SAMPLES.glob("*.yaml")] + ["notebooks/notebook"])
#: samples whose branches run two at a time through the script (the rest one by one)
CONCURRENT = {"parallel", "nested"}


def render_script(
    workdir: Path,
    pipeline: Path,
    pipeline_word: str,
    max_parallel: int = 1,
    parameters_file: str | None = None,
) -> Path:
    """The shell script for ``pipeline``, using this interpreter's magnus."""
    settings = {
        "max_parallel": max_parallel,
        "magnus_command": [sys.executable, "-m", "magnus_render.cli"],
        "python_command": [sys.executable],
    }
    config = MagnusConfig.model_validate({"executor": {"type": "shell", "config": settings}})
    options = RenderOptions(pipeline_file=pipeline_word, parameters_file=parameters_file)
    text = ShellRenderer(load_pipeline(pipeline), config, options).render().text
    script = workdir / "wf.sh"
    script.write_text(text, encoding="utf-8")
    return script


def run_script(workdir: Path, script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    scratch = workdir / "scratch"
    scratch.mkdir(exist_ok=True)
    result = subprocess.run(
        ["bash", str(script), *args],
        cwd=workdir,
        env=magnus_env({"TMPDIR": str(scratch)}),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert list(scratch.iterdir()) == [], "the script left scratch files behind"
    return result


def own_workdir(path: Path) -> Path:
    """A working directory with its own copy of samples/: runs write next to their inputs
    (the notebook sample saves its executed copy beside the notebook), never into the repo."""
    path.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("golden", "sdk", "__pycache__", "*_out.ipynb")
    shutil.copytree(SAMPLES, path / "samples", ignore=ignore)
    return prepare_workdir(path)


def _unhash_notebooks(value: Any) -> Any:
    """An executed notebook embeds execution times, so two local runs already differ in its
    bytes: compare its catalog entry by name and stage only."""
    if isinstance(value, dict):
        return {k: _unhash_notebooks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [
            (v[0], v[1], None)
            if isinstance(v, tuple) and len(v) == 3 and str(v[0]).endswith(".ipynb")
            else _unhash_notebooks(v)
            for v in value
        ]
    return value


def assert_same_run(local: Any, through_shell: Any) -> None:
    expected = _unhash_notebooks(normalize(local))
    actual = _unhash_notebooks(normalize(through_shell))
    assert actual == expected, (
        "run logs differ:\n"
        f"magnus execute: {json.dumps(expected, indent=1, sort_keys=True)}\n"
        f"shell script:   {json.dumps(actual, indent=1, sort_keys=True)}"
    )


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_through_shell_matches_magnus_execute(sample: str, tmp_path: Path) -> None:
    local = own_workdir(tmp_path / "local")
    local_code, local_log = execute_in_process(sample, local, run_id="local-run")

    workdir = own_workdir(tmp_path / "shell")
    script = render_script(
        workdir,
        SAMPLES / f"{sample}.yaml",
        f"samples/{sample}.yaml",
        max_parallel=2 if sample in CONCURRENT else 1,
    )
    result = run_script(workdir, script, "shell-run")
    assert result.returncode == local_code, result.stderr
    assert_same_run(local_log, load_run_log(workdir, "shell-run"))


@pytest.mark.parametrize("sample", ["failing", pytest.param("map", marks=pytest.mark.slow)])
def test_use_cached_rerun_matches(sample: str, tmp_path: Path) -> None:
    """A re-run reusing an earlier run's successes: same run log through both paths."""
    workdir = own_workdir(tmp_path / "w")
    first_code, _ = execute_in_process(sample, workdir, run_id="original")
    local_code, local_log = execute_in_process(
        sample, workdir, run_id="local-rerun", use_cached="original"
    )
    script = render_script(workdir, SAMPLES / f"{sample}.yaml", f"samples/{sample}.yaml")
    result = run_script(workdir, script, "--use-cached", "original", "shell-rerun")
    assert result.returncode == local_code, result.stderr
    shell_log = load_run_log(workdir, "shell-rerun")
    assert shell_log.use_cached and shell_log.original_run_id == "original"
    assert any(step.mock for step in shell_log.steps.values()), "nothing was reused"
    assert_same_run(local_log, shell_log)
    assert first_code == local_code


def test_hostile_pipeline_runs_through_shell_and_creates_nothing(tmp_path: Path) -> None:
    workdir = tmp_path / "w"
    workdir.mkdir()
    pipeline = hostile_pipeline(workdir / "in $(touch PWNED12)")
    values = [
        'it\'s "quoted"',
        "$(touch PWNED6) `touch PWNED7`",
        "two\nlines; touch PWNED8",
        "ü ✓ \\",
    ]
    params = workdir / "params $(touch PWNED13).yaml"
    params.write_text(json.dumps({"values": values, "evil": "$(touch PWNED14)"}), "utf-8")
    relative = str(pipeline.relative_to(workdir))

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        local_code = execute_pipeline(relative, None, params.name, run_id="local-run", quiet=True)
    finally:
        os.chdir(cwd)
    script = render_script(workdir, pipeline, relative, max_parallel=3, parameters_file=params.name)
    result = run_script(workdir, script, "shell-run")
    assert local_code == 0
    assert result.returncode == 0, result.stderr

    local_log = load_run_log(workdir, "local-run")
    shell_log = load_run_log(workdir, "shell-run")
    assert_same_run(local_log, shell_log)
    map_step = next(s for s in shell_log.steps.values() if s.step_type == "map")
    assert len(map_step.branches) == len(values)
    assert list(tmp_path.rglob("PWNED*")) == []


def test_config_file_reaches_every_call(tmp_path: Path) -> None:
    """-c CONFIG: the script's settings come from it and every magnus call gets it, so the
    run lands in the store it names (chunked-fs here), with the same run log."""
    _, local_log = execute_in_process("parallel", own_workdir(tmp_path / "l"), run_id="local-run")
    workdir = own_workdir(tmp_path / "shell")
    config = workdir / "shell config.yaml"
    python = json.dumps(sys.executable)
    config.write_text(
        "executor:\n  type: shell\n  config:\n    max_parallel: 2\n"
        f"    magnus_command: [{python}, -m, magnus_render.cli]\n"
        f"    python_command: [{python}]\n"
        "run_log_store:\n  type: chunked-fs\n",
        encoding="utf-8",
    )
    from magnus_render.render import render_text

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        text, warnings = render_text(Path("samples/parallel.yaml"), "shell", Path(config.name))
    finally:
        os.chdir(cwd)
    assert warnings == []
    assert "MAX_PARALLEL=2\n" in text
    script = workdir / "wf.sh"
    script.write_text(text, encoding="utf-8")
    result = run_script(workdir, script, "shell-run")
    assert result.returncode == 0, result.stderr
    assert_same_run(local_log, load_run_log(workdir, "shell-run", config))
    assert (workdir / ".run_log_store" / "shell-run" / "run.json").is_file()  # chunked-fs
    assert not (workdir / ".run_log_store" / "shell-run.jsonl").exists()  # file-system
