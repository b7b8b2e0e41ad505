"""A representative sample of the malformed corpus through the real commands: exit 2, a
`file:line:` message on stderr, nothing on stdout and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.adversarial.cases import HERE, Case, all_config_cases, all_pipeline_cases
from tests.conftest import SAMPLES

#: hand-written files covering each family of breakage
PIPELINE_FILES = [
    "billion_laughs.yaml",
    "deep_lists.yaml",
    "deep_parallels.yaml",
    "cyclic_alias.yaml",
    "merge_brings_unknown_field.yaml",
    "two_documents.yaml",
    "tab_indent.yaml",
    "crlf_dangling.yaml",
    "bom_bad_top.yaml",
    "unicode_step_dangling.yaml",
    "huge_step_name.yaml",
    "unclosed_quote.yaml",
    "python_object_tag.yaml",
    "dag_definition_self.yaml",
    "ansi_escape_name.yaml",
]
#: generated cases, written to a temporary file
GENERATED = [
    "first.max_attempts=huge",
    "duplicate first.next",
    "catalog=get_int",
    "name shell=dot",
]
CONFIG_FILES = ["billion_laughs.yaml", "python_tag.yaml", "unknown_section.yaml", "tab_indent.yaml"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def _render(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from magnus_render.cli import render_main; sys.argv[0]='magnus-render'; "
    return subprocess.run(
        [sys.executable, "-c", code + "render_main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def _case(name: str, cases: list[Case]) -> Case:
    return next(c for c in cases if c.name == name)


def assert_refused(result: subprocess.CompletedProcess[str], path: Path, line: int) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{path}:{line}: " in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("name", PIPELINE_FILES)
def test_validate_refuses_hand_written(name: str, tmp_path: Path) -> None:
    path = HERE / "pipelines" / name
    case = _case(name, all_pipeline_cases())
    assert_refused(_run("validate", str(path), cwd=tmp_path), path, case.line)


@pytest.mark.parametrize("name", GENERATED)
def test_validate_refuses_generated(name: str, tmp_path: Path) -> None:
    case = _case(name, all_pipeline_cases())
    path = tmp_path / "pipeline.yaml"
    path.write_text(case.text, encoding="utf-8")
    assert_refused(_run("validate", "--file", str(path), cwd=tmp_path), path, case.line)


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_render_refuses_bad_config(name: str, tmp_path: Path) -> None:
    """A bad config stops `magnus-render` (here the mermaid target) with the config's line."""
    path = HERE / "configs" / name
    case = _case(name, all_config_cases())
    result = _render(
        str(SAMPLES / "hello.yaml"), "--target", "mermaid", "--config-file", str(path), cwd=tmp_path
    )
    assert_refused(result, path, case.line)
