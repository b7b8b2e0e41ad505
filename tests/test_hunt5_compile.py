"""The compiled-pipeline cache given a pipeline that is not a regular file.

A pipe (``--file /dev/stdin``, ``--file <(...)``) can be read once: the cache read its
bytes for the key, then the builder found it empty, so `magnus execute_single_node`
refused a pipeline `magnus execute` runs, even with the cache turned off.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import magnus_env


def _magnus(
    args: list[str], workdir: Path, stdin: bytes, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=workdir,
        env=magnus_env(env),
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("cache", ["1", "0"], ids=["cache-on", "cache-off"])
def test_a_step_reads_its_pipeline_from_a_pipe(tmp_path: Path, cache: str) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    pipeline = (tmp_path / "samples" / "hello.yaml").read_bytes()
    args = ["execute_single_node", "r", "initialize", "--file", "/dev/stdin"]
    folder = tmp_path / "cache"
    env = {"MAGNUS_PIPELINE_CACHE": cache, "MAGNUS_PIPELINE_CACHE_DIR": str(folder)}
    proc = _magnus(args, tmp_path, pipeline, **env)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"hello from magnus-render" in proc.stdout + proc.stderr
    assert not folder.exists() or not list(folder.iterdir())  # a pipe has no entry


def test_compiling_a_pipe_says_what_to_compile_instead(tmp_path: Path) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    pipeline = (tmp_path / "samples" / "hello.yaml").read_bytes()
    folder = tmp_path / "cache"
    proc = _magnus(
        ["compile", "--file", "/dev/stdin"],
        tmp_path,
        pipeline,
        MAGNUS_PIPELINE_CACHE_DIR=str(folder),
    )
    assert proc.returncode == 2, proc.stderr.decode()
    assert b"/dev/stdin: not a regular file" in proc.stderr
    assert b"Traceback" not in proc.stderr
    assert not folder.exists() or not list(folder.iterdir())
    # a pipe carrying a broken pipeline reports the pipeline's error, as a file would
    proc = _magnus(
        ["compile", "--file", "/dev/stdin"],
        tmp_path,
        b"dag: [",
        MAGNUS_PIPELINE_CACHE_DIR=str(folder),
    )
    assert proc.returncode == 2 and b"/dev/stdin:2: YAML syntax" in proc.stderr, proc.stderr
