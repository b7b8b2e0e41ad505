"""`magnus-render` as a process: exit codes, stderr, --list-targets, -o, --image, --check.

A tiny third-party target (installed through the entry point group from a throwaway
dist-info on PYTHONPATH) stands in for a container target, so image selection is checked
through the same plugin path a real extension would use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.renderers.base import PLACEHOLDER_IMAGE
from tests.conftest import ROOT, SAMPLES

RENDER = "from magnus_render.cli import render_main; render_main()"

PLUGIN = """
from magnus_render.renderers.base import Renderer, RenderResult, TargetSettings


class Settings(TargetSettings):
    image: str | None = None


class ImageRenderer(Renderer):
    name = "imagetest"
    settings_model = Settings

    def render(self):
        image = self.resolve_image(self.settings().image)
        return RenderResult(f"image: {image}\\n", self.warnings)
"""


def run_render(*args: str, cwd: Path = ROOT, pythonpath: Path | None = None):
    env = dict(os.environ)
    paths = [str(ROOT)] + ([str(pythonpath)] if pythonpath else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return subprocess.run(
        [sys.executable, "-c", RENDER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    (root / "imagetest_target.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "imagetest_target-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: imagetest-target\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[magnus_render.targets]\nimagetest = imagetest_target:ImageRenderer\n", encoding="utf-8"
    )
    return root


def test_list_targets_includes_builtins_and_plugins(plugin_path: Path) -> None:
    result = run_render("--list-targets", pythonpath=plugin_path)
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    assert names == sorted(names)
    assert {"shell", "mermaid", "dot", "imagetest"} <= set(names)


def test_unknown_target_exits_2_with_the_choices() -> None:
    result = run_render("--target", "nope", str(SAMPLES / "hello.yaml"))
    assert result.returncode == 2
    assert "unknown target 'nope'" in result.stderr
    assert "shell" in result.stderr and "mermaid" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_pipeline_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: task\n"
        "      command: samples.functions.initialize\n      next: nowhere\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n",
        encoding="utf-8",
    )
    result = run_render("--target", "shell", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:7:" in result.stderr, result.stderr
    assert "nowhere" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_shell_setting_exits_2_naming_config_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "executor:\n  type: shell\n  config:\n    max_parallel: 2\n    max_paralel: 3\n",
        encoding="utf-8",
    )
    result = run_render("--target", "shell", "-c", str(config), str(SAMPLES / "hello.yaml"))
    assert result.returncode == 2
    assert f"{config}:5:" in result.stderr, result.stderr
    assert "max_paralel" in result.stderr and "unknown setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_output_is_written_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out" / "wf.sh"
    out.parent.mkdir()
    out.write_text("old\n", encoding="utf-8")
    inode = out.stat().st_ino
    result = run_render("--target", "shell", "-o", str(out), str(SAMPLES / "hello.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    assert out.stat().st_ino != inode, "the file was rewritten in place, not replaced"
    assert sorted(p.name for p in out.parent.iterdir()) == ["wf.sh"]

    good = out.read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_text("dag: [", encoding="utf-8")
    failed = run_render("--target", "shell", "-o", str(out), str(bad))
    assert failed.returncode == 2
    assert out.read_bytes() == good, "a failed render touched the output"
    assert sorted(p.name for p in out.parent.iterdir()) == ["wf.sh"]


def test_check_reports_drift(tmp_path: Path) -> None:
    committed = tmp_path / "wf.sh"
    pipeline = str(SAMPLES / "hello.yaml")
    assert run_render("--target", "shell", "-o", str(committed), pipeline).returncode == 0

    same = run_render("--target", "shell", "--check", str(committed), pipeline)
    assert same.returncode == 0, same.stderr
    assert "up to date" in same.stderr
    assert same.stdout == ""

    committed.write_text(
        committed.read_text(encoding="utf-8").replace("MAX_PARALLEL=1", "MAX_PARALLEL=9"),
        encoding="utf-8",
    )
    drift = run_render("--target", "shell", "--check", str(committed), pipeline)
    assert drift.returncode == 1
    assert "-MAX_PARALLEL=9" in drift.stdout and "+MAX_PARALLEL=1" in drift.stdout
    assert "out of date" in drift.stderr

    both = run_render("-t", "shell", "--check", str(committed), "-o", str(committed), pipeline)
    assert both.returncode == 2 and "drop --output" in both.stderr

    missing = run_render("--target", "shell", "--check", str(tmp_path / "nope.sh"), pipeline)
    assert missing.returncode == 2
    assert "nope.sh" in missing.stderr and "Traceback" not in missing.stderr


def test_image_from_flag_then_config_then_placeholder(tmp_path: Path, plugin_path: Path) -> None:
    pipeline = str(SAMPLES / "hello.yaml")
    config = tmp_path / "config.yaml"
    config.write_text(
        "executor:\n  type: imagetest\n  config:\n    image: registry/from-config:1\n",
        encoding="utf-8",
    )
    both = run_render(
        "-t", "imagetest", "-c", str(config), "--image", "cli:2", pipeline, pythonpath=plugin_path
    )
    assert both.returncode == 0, both.stderr
    assert both.stdout == "image: cli:2\n"
    assert both.stderr == ""

    from_config = run_render("-t", "imagetest", "-c", str(config), pipeline, pythonpath=plugin_path)
    assert from_config.stdout == "image: registry/from-config:1\n"
    assert from_config.stderr == ""

    neither = run_render("-t", "imagetest", pipeline, pythonpath=plugin_path)
    assert neither.returncode == 0, neither.stderr
    assert neither.stdout == f"image: {PLACEHOLDER_IMAGE}\n"
    assert "warning:" in neither.stderr and PLACEHOLDER_IMAGE in neither.stderr


def test_shell_target_ignores_image_and_says_so() -> None:
    pipeline = str(SAMPLES / "hello.yaml")
    plain = run_render("--target", "shell", pipeline)
    assert plain.returncode == 0
    assert plain.stderr == "", "the shell target needs no image, so no placeholder warning"
    flagged = run_render("--target", "shell", "--image", "some/image:1", pipeline)
    assert flagged.returncode == 0
    assert flagged.stdout == plain.stdout
    assert "--image is ignored by the shell target" in flagged.stderr


def test_validate_checks_the_shell_script() -> None:
    ok = run_render("--target", "shell", "--validate", str(SAMPLES / "nested.yaml"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("#!/usr/bin/env bash")


def test_shell_validate_rejects_a_broken_script() -> None:
    from magnus_render.config import MagnusConfig
    from magnus_render.errors import MagnusError
    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.renderers.shell import ShellRenderer

    renderer = ShellRenderer(
        load_pipeline(SAMPLES / "hello.yaml"), MagnusConfig(), RenderOptions("hello.yaml")
    )
    text = renderer.render().text
    renderer.validate(text)
    with pytest.raises(MagnusError, match="fails bash"):
        renderer.validate(text + "\nif true; then\n")
    with pytest.raises(MagnusError, match="fails shellcheck"):
        renderer.validate(text + "\necho $UNQUOTED_VARIABLE\n")
