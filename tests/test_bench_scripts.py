"""The bench scripts still run (issue 18 keeps its figures in bench/): each at a tiny size,
so a change that breaks a bench (a refused config, a moved module) fails here, not on the
day someone needs the figure. Nothing here is timed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "gitops_check.py": (["4"], "--check on a current tree"),
    "runtime_startup.py": (["--repeat", "1", "--steps", "20"], "one step / import yaml"),
    "render_sfn_branches.py": (["20", "40"], "branches"),
    "render_shell.py": (["20", "40"], "40"),
    "render_sfn.py": (["--sizes", "10,20", "--repeat", "1"], "20"),
    "load.py": (["--sizes", "10,20", "--repeats", "1"], "20"),
    "scale.py": (["--sizes", "10", "20"], "magnus show"),
    "render_argo.py": ([], "whole magnus-render"),
    "render_k8s.py": ([], "executor overhead per node Job"),
}


@pytest.mark.parametrize("script", sorted(CASES))
def test_the_bench_script_runs_at_a_tiny_size(script: str, tmp_path: Path) -> None:
    args, expected = CASES[script]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env["MAGNUS_PIPELINE_CACHE_DIR"] = str(tmp_path / "pipelines")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]
    assert "Traceback" not in done.stderr
