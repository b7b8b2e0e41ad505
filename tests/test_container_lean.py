"""What a stub step's container leaves unloaded (issue 18): modules only a rare path needs
(a shell task's temporary folder, a new run id, a failed task's traceback, a plugin's
entry points, a catalog copied for a re-run) are imported where they are used."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.helpers.pipelines import STUB

ROOT = Path(__file__).resolve().parent.parent
#: never loaded by a stub step (bz2 and lzma come with shutil, random with tempfile and
#: secrets, email with importlib.metadata; subprocess only for a shell task or git)
RARE = (
    "subprocess",
    "shutil",
    "tempfile",
    "secrets",
    "random",
    "shlex",
    "traceback",
    "bz2",
    "lzma",
    "importlib.metadata",
    "email",
    "pydantic",
)


#: the installed libraries without the site module: an interpreter's `.pth` files (a
#: certifi hook, an editable finder) may import shutil or tempfile before any of our code
#: runs, which would hide or fake what a container step itself loads
_PATHS = os.pathsep.join(
    dict.fromkeys([str(ROOT), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
)


def _python(cwd: Path, code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": _PATHS, "MAGNUS_PIPELINE_CACHE_DIR": str(cwd / "c")}
    return subprocess.run(
        [sys.executable, "-S", "-c", code, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _loaded(names: tuple[str, ...]) -> str:
    return f"print(sorted(m for m in {names!r} if m in sys.modules))\n"


def _loaded_by_msgspec_alone(cwd: Path) -> list[str]:
    """The RARE modules `import msgspec` loads by itself on this interpreter: on Python
    3.10 its uuid import brings platform, which imports subprocess at its top (3.11 made
    that lazy). No code of ours can avoid those; on 3.11+ the list is empty."""
    done = _python(cwd, "import sys\nimport msgspec\n" + _loaded(RARE))
    assert done.returncode == 0, done.stderr
    return list(ast.literal_eval(done.stdout.strip()))


def test_the_container_argument_parser_asks_no_terminal_size(tmp_path: Path) -> None:
    """argparse's help formatter asks the terminal's width through shutil (bz2, lzma)
    once per argument; the container parser prints no help."""
    code = (
        "import sys\n"
        "from magnus_render.container_cli import _parser\n"
        "_parser('execute_single_node').parse_args(['r1', 's0', '-f', 'p.yaml'])\n"
        "_parser('fan').parse_args(['r1', 'p', '--mode', 'out', '-f', 'p.yaml'])\n"
    ) + _loaded(("shutil", "bz2", "lzma"))
    done = _python(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_stub_step_loads_no_rare_path_module(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(STUB, encoding="utf-8")
    code = (
        "import sys\n"
        "from magnus_render.container_cli import dispatch\n"
        "assert dispatch(sys.argv[1:]) == 0\n"
    ) + _loaded(RARE)
    argv = ("execute_single_node", "r1", "s0", "--file", "p.yaml")
    warm = _python(tmp_path, code, *argv)  # compiles the pipeline (the YAML front end)
    assert warm.returncode == 0, warm.stderr
    done = _python(tmp_path, code, *argv[:1], "r2", *argv[2:])  # reads it back
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(_loaded_by_msgspec_alone(tmp_path))


MAP_AND_AS_IS = """\
dag:
  start_at: each
  steps:
    each:
      type: map
      iterate_on: xs
      iterate_as: x
      next: legacy
      branch:
        start_at: s
        steps:
          s: {type: stub, next: success}
          success: {type: success}
          fail: {type: fail}
    legacy: {type: as-is, command: ignored, next: success}
    success: {type: success}
    fail: {type: fail}
"""


def test_map_iterations_and_as_is_steps_skip_typer_and_executor_models(tmp_path: Path) -> None:
    """Airflow's mapped iterations (`--iteration`) and the as-is steps of every rendered
    target (`--as-is`) are container commands too: argparse, not typer (which loads
    pydantic), and the iteration walks its branch without an executor's settings."""
    (tmp_path / "p.yaml").write_text(MAP_AND_AS_IS, encoding="utf-8")
    (tmp_path / "params.yaml").write_text("xs: [1, 2]\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from magnus_render.container_cli import dispatch\n"
        "print(dispatch(sys.argv[1:]))\n"
    ) + _loaded(("typer", "click", "magnus_render.cli", "magnus_render.runtime.executors.base"))
    node = ("--file", "p.yaml")
    steps = [
        ("fan", "r1", "each", "--mode", "out", *node, "--parameters-file", "params.yaml"),
        ("execute_single_node", "r1", "each", *node, "--iteration", "--map-variable", '{"x":1}'),
        ("execute_single_node", "r1", "each", *node, "--map-variable", '{"x": 2}', "--iteration"),
        ("fan", "r1", "each", "--mode", "in", *node),
        ("execute_single_node", "r1", "legacy", *node, "--as-is", "echo legacy-ran"),
    ]
    for argv in steps:
        done = _python(tmp_path, code, *argv)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-2:] == ["0", "[]"], (argv, done.stdout)
    assert "legacy-ran" in done.stdout
    log = (tmp_path / ".run_log_store" / "r1.jsonl").read_text(encoding="utf-8")
    assert '"internal_name":"each.1.s"' in log.replace(" ", "")
    assert '"internal_name":"each.2.s"' in log.replace(" ", "")
