"""Rendering is deterministic: separate processes (different hash seeds) give the same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

RENDER = "from magnus_render.cli import render_main; render_main()"


def render_in_process(sample: str, seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", RENDER, "--target", "shell", f"samples/{sample}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("sample", ["nested.yaml", "include.yaml"])
def test_two_processes_render_identical_bytes(sample: str) -> None:
    first = render_in_process(sample, "1")
    second = render_in_process(sample, "2")
    assert first, "nothing rendered"
    assert first == second
    golden = ROOT / "samples" / "golden" / "shell" / sample.replace(".yaml", ".sh")
    assert first == golden.read_bytes()
