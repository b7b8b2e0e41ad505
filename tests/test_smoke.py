"""The package installs and its commands start."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SAMPLES


def test_validate_sample_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", "validate", str(SAMPLES / "hello.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
