"""The snippets a new user copies from README.md and docs/ keep working.

Each test takes a fenced block out of the document as it is written, puts it into a scratch
project (a copy of the samples, as a user has them) and runs it through the real CLI or
Python, so a doc that drifts from the tool fails here instead of on a user's first day.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RENDER = "from magnus_render.cli import render_main; render_main()"


def fenced_block(document: str, language: str, marker: str) -> str:
    """The one block of `language` in docs/README `document` that holds `marker`."""
    text = (ROOT / document).read_text(encoding="utf-8")
    blocks = [body for lang, body in FENCE.findall(text) if lang == language and marker in body]
    assert len(blocks) == 1, f"{document}: {len(blocks)} {language} blocks hold {marker!r}"
    return blocks[0]


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )


def scratch_project(root: Path) -> Path:
    """A user's folder holding the repository's samples (code, pipelines, golden configs)."""
    project = root / "project"
    shutil.copytree(SAMPLES, project / "samples", ignore=shutil.ignore_patterns("__pycache__"))
    return project


def test_readme_python_snippet_runs_and_renders(tmp_path: Path) -> None:
    project = scratch_project(tmp_path)
    snippet = fenced_block("README.md", "python", "pipeline.render(")
    (project / "snippet.py").write_text(snippet, encoding="utf-8")
    result = run(project, sys.executable, "snippet.py")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (project / "pipeline.yaml").is_file()


@pytest.mark.parametrize(
    ("document", "marker"), [("README.md", "# render.yaml"), ("docs/gitops.md", "# render.yaml")]
)
def test_manifest_example_renders_and_checks_clean(
    tmp_path: Path, document: str, marker: str
) -> None:
    """The manifest as shown, over two pipelines with the configs and parameters it names."""
    project = scratch_project(tmp_path)
    (project / "render.yaml").write_text(fenced_block(document, "yaml", marker), encoding="utf-8")
    (project / "pipelines").mkdir()
    (project / "configs").mkdir()
    (project / "params").mkdir()
    argo_config = SAMPLES / "golden" / "argo" / "config.yaml"
    for name in ("hello", "map"):
        shutil.copy(SAMPLES / f"{name}.yaml", project / "pipelines" / f"{name}.yaml")
        shutil.copy(argo_config, project / "configs" / f"{name}.yaml")
        (project / "params" / f"{name}.yaml").write_text("x: 1\n", encoding="utf-8")
    shutil.copy(argo_config, project / "configs" / "argo.yaml")
    sfn_config = SAMPLES / "golden" / "stepfunctions" / "config.yaml"
    shutil.copy(sfn_config, project / "configs" / "sfn.yaml")

    rendered = run(project, sys.executable, "-c", RENDER, "--manifest", "render.yaml")
    assert rendered.returncode == 0, rendered.stderr
    assert (project / "deploy" / "argo" / "hello.yaml").is_file()
    assert (project / "deploy" / "argo" / "kustomization.yaml").is_file()
    check = run(project, sys.executable, "-c", RENDER, "--manifest", "render.yaml", "--check")
    assert check.returncode == 0, check.stderr + check.stdout


def test_sdk_page_snippet_builds_a_valid_pipeline(tmp_path: Path) -> None:
    """docs/sdk.md's example (its task modules are the reader's own: building and writing
    the pipeline imports none of them) gives YAML that `magnus validate` accepts."""
    snippet = fenced_block("docs/sdk.md", "python", "Pipeline(steps=")
    script = snippet + '\npipeline.to_yaml("pipeline.yaml")\n'
    (tmp_path / "snippet.py").write_text(script, encoding="utf-8")
    built = run(tmp_path, sys.executable, "snippet.py")
    assert built.returncode == 0, built.stderr
    validate = "from magnus_render.container_cli import main; main()"
    checked = run(tmp_path, sys.executable, "-c", validate, "validate", "pipeline.yaml")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "(6 steps)" in checked.stdout
