"""A broken plugin is the user's environment to fix: `magnus` and `magnus-render` exit 2
with a message naming the plugin package and its entry point, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELLO = str(ROOT / "samples" / "hello.yaml")

ENTRY_POINTS = """\
[magnus_render.targets]
gone = no_such_module_xyz:Renderer
notarenderer = json:dumps
[magnus_render.executors]
gone = no_such_module_xyz:Executor
[magnus_render.run_log_stores]
gone = no_such_module_xyz:Store
[magnus_render.catalogs]
wrongkind = json:JSONDecoder
[magnus_render.secrets]
raises = broken_plugin_mod:Secrets
"""


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken")
    (root / "broken_plugin_mod.py").write_text("raise RuntimeError('boom at import')\n", "utf-8")
    info = root / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return root


def run(plugin_path: Path, cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    code = f"import sys; from magnus_render.cli import {script}; sys.argv[0] = 'x'; {script}()"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{plugin_path}"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def assert_clear(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for needle in ("broken-plugin", *needles):
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("target", "why"),
    [("gone", "No module named 'no_such_module_xyz'"), ("notarenderer", "not a subclass")],
)
def test_broken_target(plugin_path: Path, tmp_path: Path, target: str, why: str) -> None:
    result = run(plugin_path, tmp_path, "render_main", "--target", target, HELLO)
    assert_clear(result, f"target {target!r}", why, "magnus_render.targets")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("section", "why"),
    [
        ("executor: {type: gone}", "No module named"),
        ("run_log_store: {type: gone}", "No module named"),
        ("catalog: {type: wrongkind}", "not a subclass"),
        ("secrets: {type: raises}", "RuntimeError: boom at import"),
    ],
)
def test_broken_backend_names_the_config_line(
    plugin_path: Path, tmp_path: Path, section: str, why: str
) -> None:
    (tmp_path / "c.yaml").write_text(f"# a plugin\n{section}\n", encoding="utf-8")
    result = run(plugin_path, tmp_path, "magnus_main", "execute", HELLO, "-c", "c.yaml")
    assert_clear(result, "c.yaml:2:", why)
    assert not (tmp_path / ".run_log_store").exists() or not any(
        (tmp_path / ".run_log_store").iterdir()
    )
