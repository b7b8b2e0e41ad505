"""The project's static guards, run by the test command: the import layering of DESIGN.md
(import-linter contracts in pyproject.toml), mypy with zero errors, ruff lint and format,
and the laziness of every container's start (no heavy library on a plain import).

Each guard runs the real tool as a subprocess over this checkout and, when it fails,
shows the tool's own report: it names the file, the line and the rule to fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

#: libraries a container's `magnus execute_single_node` must not pay for on import
HEAVY = ("boto3", "botocore", "kubernetes", "jinja2", "rich", "typer", "mlflow")


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def report(what: str, fix: str, done: subprocess.CompletedProcess[str]) -> str:
    return f"{what} failed (exit {done.returncode}). {fix}\n\n{done.stdout}\n{done.stderr}"


def test_import_layers_and_no_cycles() -> None:
    """`lint-imports`: the contracts of [tool.importlinter] in pyproject.toml."""
    done = run_tool("-c", "from importlinter.cli import lint_imports_command as c; c()")
    assert done.returncode == 0, report(
        "lint-imports",
        "An import breaks the layering (see 'Broken contracts' and its guidance below).",
        done,
    )


def test_mypy_has_no_errors() -> None:
    """`mypy` over magnus_render/ with the [tool.mypy] config of pyproject.toml."""
    done = run_tool("-m", "mypy")
    assert done.returncode == 0, report(
        "mypy",
        "Fix each error below (file:line: message [code]); an ignore needs its code and a "
        "reason, e.g. `# type: ignore[attr-defined]  # why`.",
        done,
    )


@pytest.mark.parametrize(
    "argv",
    [["check", "."], ["format", "--check", "."]],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(argv: list[str]) -> None:
    done = run_tool("-m", "ruff", *argv)
    assert done.returncode == 0, report(
        f"ruff {' '.join(argv)}", "Run `ruff check --fix . && ruff format .` and commit.", done
    )


def test_container_start_imports_no_heavy_library() -> None:
    """Importing every runtime module and the `magnus` entry leaves boto3, kubernetes,
    jinja2, rich, typer and mlflow unimported: they load inside the functions using them."""
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "import magnus_render.container_cli, magnus_render.runtime as rt\n"
        "names = [m.name for m in pkgutil.walk_packages(rt.__path__, rt.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "print(json.dumps({'modules': names, 'loaded': loaded}))\n"
    )
    done = run_tool("-c", probe)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "magnus_render.runtime.executors.k8s_api" in result["modules"]  # it did look
    assert result["loaded"] == [], (
        f"a top-level import of {result['loaded']} in magnus_render.runtime or container_cli: "
        "import it inside the function that needs it (every container pays for it otherwise)"
    )


#: the project's rule: small modules with one job
MAX_MODULE_LINES = 400


def test_every_module_is_under_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((ROOT / "magnus_render").rglob("*.py"))
    }
    assert len(sizes) > 50  # it did look
    big = {name: lines for name, lines in sizes.items() if lines >= MAX_MODULE_LINES}
    assert not big, (
        f"modules of {MAX_MODULE_LINES} lines or more: {big}; split each by job (move whole "
        "functions or classes into a new module beside it)"
    )
