"""The container commands start light: no CLI framework, renderer or cloud SDK imported,
the pipeline compiled once and read back (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = """\
dag:
  start_at: s
  steps:
    s: {type: stub, next: par}
    par:
      type: parallel
      next: success
      branches:
        a:
          start_at: x
          steps:
            x: {type: stub, next: success}
            success: {type: success}
            fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""
#: never imported by `magnus execute_single_node` / `magnus fan`
HEAVY = ("typer", "click", "rich", "jinja2", "boto3", "kubernetes", "magnus_render.renderers")
#: not imported either once the pipeline is compiled: the YAML front end
FRONT_END = ("yaml", "magnus_render.pipeline.build", "magnus_render.pipeline.spec")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MAGNUS_PIPELINE_CACHE_DIR": str(cache)}


def _imported(argv: list[str], cwd: Path, env: dict[str, str]) -> set[str]:
    """Modules a command imports (from ``python -X importtime``); the command must pass."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = done.stderr.splitlines()
    said = [line for line in lines if not line.startswith("import time:")]
    assert done.returncode == 0, [argv, *said]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in lines
        if line.startswith("import time:") and "|" in line
    }


def _heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize(
    "entry",
    [
        ["-m", "magnus_render.cli"],  # what the shell target's magnus_command may name
        ["-c", "from magnus_render.container_cli import main; main()"],  # the console script
    ],
    ids=["python-m", "console-script"],
)
def test_container_commands_import_budget(tmp_path: Path, entry: list[str]) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    env = _env(tmp_path / "cache")
    node = ["execute_single_node", "r1", "s", "--file", "p.yaml"]
    first = _imported([*entry, *node], tmp_path, env)
    assert _heavy(first, HEAVY) == []
    # the cache now holds the compiled pipeline: no YAML parsing either
    for argv in (
        ["execute_single_node", "r1", "s", "--file", "p.yaml"],
        ["fan", "r1", "par", "--mode", "out", "--file", "p.yaml"],
        ["--debug", "execute_single_node", "r1", "par.a.x", "-f", "p.yaml"],
        ["execute_single_node", "r1", "par.a.success", "-fp.yaml", "--debug"],
        ["fan", "r1", "par", "--mode=in", "--file=p.yaml", "--log-level", "INFO"],
    ):
        modules = _imported([*entry, *argv], tmp_path, env)
        assert _heavy(modules, HEAVY + FRONT_END) == [], argv


def test_other_commands_still_use_typer(tmp_path: Path) -> None:
    """`--help`, usage errors and other commands fall through to the typer app unchanged."""
    (tmp_path / "p.yaml").write_text(PIPELINE)
    env = _env(tmp_path / "cache")
    magnus = [sys.executable, "-c", "from magnus_render.container_cli import main; main()"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*magnus, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    helped = run("execute_single_node", "--help")
    assert helped.returncode == 0 and "--map-variable" in helped.stdout
    missing = run("execute_single_node", "r1", "s")  # no --file: typer's usage error
    assert missing.returncode == 2 and "--file" in missing.stderr
    unknown = run("fan", "r1", "par", "--mode", "out", "--file", "p.yaml", "--bogus")
    assert unknown.returncode == 2 and "--bogus" in unknown.stderr
    bad_mode = run("fan", "r1", "par", "--mode", "sideways", "--file", "p.yaml")
    assert bad_mode.returncode == 2
    assert "--mode must be 'in' or 'out', got 'sideways'" in bad_mode.stderr
    validated = run("validate", "p.yaml")
    assert validated.returncode == 0 and "valid" in validated.stdout


def test_container_command_errors_keep_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("dag:\n  start_at: s\n  steps:\n    s: {type: tsak}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "execute_single_node",
            "r1",
            "s",
            "-f",
            "bad.yaml",
        ],
        cwd=tmp_path,
        env=_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "bad.yaml:4:" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "cache").glob("*.pickle"))  # an invalid pipeline is not cached
