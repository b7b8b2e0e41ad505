"""The suite cannot quietly pass: no test skips because a dev-extra package is missing
(``pytest.importorskip``: a broken install would hide every test needing it), and no
test swallows every exception. Environment-only skips (no Graphviz ``dot``, no podman, no
tmpfs mount) name their reason and stay."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

TEST_FILES = sorted(
    p
    for p in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "examples").rglob("tests/*.py")]
    if "fixtures" not in p.parts and p.name != Path(__file__).name
)


def _calls(tree: ast.AST, name: str) -> list[int]:
    return [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and ast.unparse(n.func) in (name, f"pytest.{name}")
    ]


def _broad_handlers_that_drop_it(tree: ast.AST) -> list[int]:
    """``except Exception`` (or bare) whose body only passes, continues or returns."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ExceptHandler):
            continue
        broad = node.type is None or ast.unparse(node.type) in ("Exception", "BaseException")
        quiet = all(isinstance(s, ast.Pass | ast.Continue | ast.Return) for s in node.body)
        if broad and quiet:
            found.append(node.lineno)
    return found


def test_no_skip_on_a_missing_dev_dependency() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in TEST_FILES
        for line in _calls(ast.parse(p.read_text(encoding="utf-8")), "importorskip")
    ]
    assert TEST_FILES and not found, f"use tests.helpers.deps.require instead: {found}"


def test_no_handler_swallows_every_exception() -> None:
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in TEST_FILES
        for line in _broad_handlers_that_drop_it(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert TEST_FILES and not found, found


def test_children_start_with_the_default_sigint() -> None:
    """What the signal tests rely on: a process they start and send SIGINT to reacts."""
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr


def test_a_suite_started_with_sigint_ignored_still_gives_children_the_default() -> None:
    """``pytest &`` in a script starts the suite with SIGINT ignored (conftest undoes it)."""
    code = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'pytest', *sys.argv[1:]])\n"
    )
    test = f"{Path(__file__).relative_to(ROOT)}::test_children_start_with_the_default_sigint"
    argv = [sys.executable, "-c", code, "-q", "-p", "no:xdist", "-p", "no:cacheprovider", test]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
