"""CLI details that users hit: ``--debug`` before or after the subcommand, and the mode
and atomic replacement of ``magnus-render -o FILE``. Real processes, real files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

MAGNUS = "from magnus_render.cli import magnus_main; magnus_main()"
RENDER = "from magnus_render.cli import render_main; render_main()"


def run(code: str, *args: str, cwd: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MAGNUS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=env, umask=umask, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "code,args",
    [
        (MAGNUS, ["--debug", "execute", "bad.yaml"]),
        (MAGNUS, ["execute", "--debug", "bad.yaml"]),
        (MAGNUS, ["execute_single_node", "r1", "a", "--file", "bad.yaml", "--debug"]),
        (RENDER, ["--debug", "--target", "shell", "bad.yaml"]),
        (RENDER, ["--target", "shell", "bad.yaml", "--debug"]),
    ],
)
def test_debug_is_accepted_before_and_after_the_subcommand(
    tmp_path: Path, code: str, args: list[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("dag: [\n", encoding="utf-8")
    result = run(code, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "No such option" not in result.stderr
    assert "Traceback" in result.stderr and "bad.yaml:" in result.stderr


def test_without_debug_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("dag: [\n", encoding="utf-8")
    result = run(MAGNUS, "execute", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "bad.yaml:" in result.stderr


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o077, 0o600)])
def test_output_file_gets_the_users_umask(tmp_path: Path, umask: int, expected: int) -> None:
    out = tmp_path / "wf.sh"
    pipeline = str(SAMPLES / "hello.yaml")
    result = run(RENDER, "--target", "shell", "-o", str(out), pipeline, cwd=ROOT, umask=umask)
    assert result.returncode == 0, result.stderr
    assert mode_of(out) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["wf.sh"]


def test_existing_output_is_replaced_atomically_and_keeps_its_mode(tmp_path: Path) -> None:
    """A new inode (rename, not rewrite in place) with the old file's mode, like `> FILE`
    would keep it (a script made executable stays executable)."""
    out = tmp_path / "wf.sh"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o750)
    inode = out.stat().st_ino
    pipeline = str(SAMPLES / "hello.yaml")
    result = run(RENDER, "--target", "shell", "-o", str(out), pipeline, cwd=ROOT, umask=0o077)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_ino != inode
    assert out.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert mode_of(out) == 0o750


def test_failed_render_leaves_the_old_file_intact(tmp_path: Path) -> None:
    out = tmp_path / "wf.sh"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o640)
    (tmp_path / "bad.yaml").write_text("dag: [\n", encoding="utf-8")
    result = run(RENDER, "--target", "shell", "-o", str(out), "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert out.read_text(encoding="utf-8") == "old\n" and mode_of(out) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "wf.sh"]


def test_unwritable_output_exits_2_naming_the_file(tmp_path: Path) -> None:
    """The output's folder is a regular file: no traceback, the path and the reason."""
    (tmp_path / "file").write_text("", encoding="utf-8")
    out = tmp_path / "file" / "wf.sh"
    result = run(RENDER, "--target", "shell", "-o", str(out), str(SAMPLES / "hello.yaml"), cwd=ROOT)
    assert result.returncode == 2
    assert f"{out}: cannot write the output" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
