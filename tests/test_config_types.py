"""An unknown ``type`` for the executor, run log store, catalog, secrets or experiment
tracker is bad input
(exit 2, the config file's line and the valid choices) for every render target and for
every runtime command, before anything is rendered, run or written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.errors import ConfigError
from magnus_render.render import render_text
from magnus_render.renderers import list_targets
from tests.conftest import ROOT, SAMPLES

BUILTIN_TARGETS = ["argo", "dot", "k8s-jobs", "mermaid", "shell", "stepfunctions"]
#: section -> (a known choice, the line of ``SECTION:`` in the config below)
SECTIONS = {
    "executor": ("local", 1),
    "run_log_store": ("chunked-fs", 3),
    "catalog": ("file-system", 5),
    "secrets": ("dotenv", 7),
    "experiment_tracker": ("mlflow", 9),
}


def config_with(tmp_path: Path, bad: str, value: str = "nope") -> Path:
    """A config naming valid types everywhere except ``bad``."""
    lines = []
    for section in SECTIONS:
        kind = {"executor": "shell", "run_log_store": "file-system", "catalog": "file-system",
                "secrets": "env", "experiment_tracker": "do-nothing"}[section]  # fmt: skip
        lines += [f"{section}:", f"  type: {value if section == bad else kind}"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_builtin_targets_are_all_covered() -> None:
    assert set(BUILTIN_TARGETS) <= set(list_targets())


@pytest.mark.parametrize("section", sorted(SECTIONS))
@pytest.mark.parametrize("target", BUILTIN_TARGETS)
def test_render_refuses_an_unknown_type(tmp_path: Path, target: str, section: str) -> None:
    config = config_with(tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        render_text(SAMPLES / "hello.yaml", target, config, image="i")
    choice, line = SECTIONS[section]
    message = str(caught.value)
    assert f"{config}:{line}: {section}: unknown type 'nope'; choose one of: " in message
    assert choice in message


def test_render_accepts_every_target_name_as_executor_type(tmp_path: Path) -> None:
    """A config made for another target (executor.type: argo) still renders the shell one."""
    config = config_with(tmp_path, "executor", "argo")
    text, _ = render_text(SAMPLES / "hello.yaml", "shell", config)
    assert text.startswith("#!/usr/bin/env bash")


def test_render_reports_every_unknown_type_at_once(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("catalog:\n  type: s4\nexecutor:\n  type: argoo\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        render_text(SAMPLES / "hello.yaml", "argo", config)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"{config}:1: catalog: unknown type 's4'")
    assert lines[1].startswith(f"{config}:3: executor: unknown type 'argoo'")
    assert "argo" in lines[1] and "local" in lines[1]


def run(*args: str, cwd: Path, render: bool = False) -> subprocess.CompletedProcess[str]:
    main = "render_main" if render else "magnus_main"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", f"from magnus_render.cli import {main}; {main}()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_render_cli_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    config = config_with(tmp_path, "secrets", "vault")
    out = tmp_path / "wf.yaml"
    pipeline = str(SAMPLES / "hello.yaml")
    result = run("--target", "k8s-jobs", "-c", str(config), "-o", str(out), pipeline,
                 cwd=tmp_path, render=True)  # fmt: skip
    assert result.returncode == 2
    assert f"{config}:7: secrets: unknown type 'vault'; choose one of:" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.mark.parametrize(
    "section,command",
    [
        ("run_log_store", ["execute", "samples/hello.yaml"]),
        ("executor", ["execute_single_node", "r1", "initialize", "--file", "samples/hello.yaml"]),
        ("executor", ["fan", "r1", "each", "--mode", "out", "--file", "samples/map.yaml"]),
    ],
)
def test_runtime_commands_refuse_an_unknown_type(
    tmp_path: Path, section: str, command: list[str]
) -> None:
    """Also a container's ``execute_single_node``, which never builds an executor and so
    used to run a node with any executor type."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "samples").symlink_to(SAMPLES)
    config = config_with(tmp_path, section)
    result = run(*command, "-c", str(config), cwd=work)
    _, line = SECTIONS[section]
    assert result.returncode == 2, result.stderr
    assert f"{config}:{line}: {section}: unknown type 'nope'; choose one of:" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in work.iterdir()) == ["samples"], "something was written"


def test_a_container_accepts_the_render_target_as_executor_type(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "samples").symlink_to(SAMPLES)
    config = config_with(tmp_path, "executor", "argo")
    node = ["execute_single_node", "r1", "initialize", "--file", "samples/hello.yaml"]
    result = run(*node, "-c", str(config), cwd=work)
    assert result.returncode == 0, result.stderr
