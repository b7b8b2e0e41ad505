"""A step's code identity: git is asked only where a repository can be found (issue 18:
most images hold no ``.git``, and a git process per container is start-up paid for nothing)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from magnus_render.runtime import context


@pytest.fixture
def git_spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that records each call, then runs the real git."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True)
    assert real.returncode == 0, "these tests need git"
    bin_dir, calls = tmp_path / "spybin", tmp_path / "git-calls"
    bin_dir.mkdir()
    spy = bin_dir / "git"
    spy.write_text(f'#!/bin/sh\necho "$PWD" >> {calls}\nexec {real.stdout.strip()} "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.setattr(context, "_CODE_IDENTITY", {})
    return calls


def test_no_repository_up_the_tree_means_no_git_process(tmp_path: Path, git_spy: Path) -> None:
    work = tmp_path / "image" / "app"
    work.mkdir(parents=True)
    identity = context.code_identity(str(work))
    assert identity.code_identifier_type == "unknown"
    assert identity.code_identifier_message == "not a git repository (or no commit)"
    assert not git_spy.exists(), "git was started where no repository can be found"


def test_a_repository_in_a_parent_folder_is_still_asked(tmp_path: Path, git_spy: Path) -> None:
    repo = tmp_path / "repo"
    sub = repo / "pipelines" / "nested"
    sub.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for argv in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    git_spy.unlink()  # only the identity's own calls count
    identity = context.code_identity(str(sub))
    assert identity.code_identifier_type == "git"
    assert identity.code_identifier == head.stdout.strip()
    assert identity.code_identifier_dependable is True
    assert git_spy.read_text().strip() == str(sub)


def test_git_dir_in_the_environment_is_asked(tmp_path: Path, git_spy: Path, monkeypatch) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "no-such-repo.git"))
    identity = context.code_identity(str(work))
    assert identity.code_identifier_type == "unknown"
    assert git_spy.exists(), "with GIT_DIR set, git decides, not the folder walk"
