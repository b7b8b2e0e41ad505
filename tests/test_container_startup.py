"""The container commands start light: no CLI framework, renderer or cloud SDK imported,
the pipeline compiled once and read back (issue 18)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = """\
dag:
  start_at: s
  steps:
    s: {type: stub, next: par}
    par:
      type: parallel
      next: success
      branches:
        a:
          start_at: x
          steps:
            x: {type: stub, next: success}
            success: {type: success}
            fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""
#: never imported by `magnus execute_single_node` / `magnus fan`
HEAVY = ("typer", "click", "rich", "jinja2", "boto3", "kubernetes", "magnus_render.renderers")
#: not imported either once the pipeline is compiled: the YAML front end (pydantic only
#: for its spec models: the run log, config and store settings are msgspec Structs)
FRONT_END = ("yaml", "pydantic", "magnus_render.pipeline.build", "magnus_render.pipeline.spec")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MAGNUS_PIPELINE_CACHE_DIR": str(cache)}


def _imported(argv: list[str], cwd: Path, env: dict[str, str]) -> set[str]:
    """Modules a command imports (from ``python -X importtime``); the command must pass."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = done.stderr.splitlines()
    said = [line for line in lines if not line.startswith("import time:")]
    assert done.returncode == 0, [argv, *said]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in lines
        if line.startswith("import time:") and "|" in line
    }


def _heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize(
    "entry",
    [
        ["-m", "magnus_render.cli"],  # what the shell target's magnus_command may name
        ["-c", "from magnus_render.container_cli import main; main()"],  # the console script
    ],
    ids=["python-m", "console-script"],
)
def test_container_commands_import_budget(tmp_path: Path, entry: list[str]) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    env = _env(tmp_path / "cache")
    node = ["execute_single_node", "r1", "s", "--file", "p.yaml"]
    first = _imported([*entry, *node], tmp_path, env)
    assert _heavy(first, HEAVY) == []
    # the cache now holds the compiled pipeline: no YAML parsing either
    for argv in (
        ["execute_single_node", "r1", "s", "--file", "p.yaml"],
        ["fan", "r1", "par", "--mode", "out", "--file", "p.yaml"],
        ["--debug", "execute_single_node", "r1", "par.a.x", "-f", "p.yaml"],
        ["execute_single_node", "r1", "par.a.success", "-fp.yaml", "--debug"],
        ["fan", "r1", "par", "--mode=in", "--file=p.yaml", "--log-level", "INFO"],
    ):
        modules = _imported([*entry, *argv], tmp_path, env)
        assert _heavy(modules, HEAVY + FRONT_END) == [], argv


def test_other_commands_still_use_typer(tmp_path: Path) -> None:
    """`--help`, usage errors and other commands fall through to the typer app unchanged."""
    (tmp_path / "p.yaml").write_text(PIPELINE)
    env = _env(tmp_path / "cache")
    magnus = [sys.executable, "-c", "from magnus_render.container_cli import main; main()"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*magnus, *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    helped = run("execute_single_node", "--help")
    assert helped.returncode == 0 and "--map-variable" in helped.stdout
    missing = run("execute_single_node", "r1", "s")  # no --file: typer's usage error
    assert missing.returncode == 2 and "--file" in missing.stderr
    unknown = run("fan", "r1", "par", "--mode", "out", "--file", "p.yaml", "--bogus")
    assert unknown.returncode == 2 and "--bogus" in unknown.stderr
    bad_mode = run("fan", "r1", "par", "--mode", "sideways", "--file", "p.yaml")
    assert bad_mode.returncode == 2
    assert "--mode must be 'in' or 'out', got 'sideways'" in bad_mode.stderr
    validated = run("validate", "p.yaml")
    assert validated.returncode == 0 and "valid" in validated.stdout


def test_container_command_errors_keep_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("dag:\n  start_at: s\n  steps:\n    s: {type: tsak}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "execute_single_node",
            "r1",
            "s",
            "-f",
            "bad.yaml",
        ],
        cwd=tmp_path,
        env=_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "bad.yaml:4:" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "cache").glob("*.pickle"))  # an invalid pipeline is not cached


def _compile(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "magnus_render.cli", "compile", *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)


def test_magnus_compile_fills_the_cache_the_containers_read(tmp_path: Path) -> None:
    """`magnus compile` (a Dockerfile's RUN line) leaves the pipeline compiled: the first
    container command already skips the YAML front end."""
    (tmp_path / "p.yaml").write_text(PIPELINE)
    env = _env(tmp_path / "cache")
    done = _compile(tmp_path, env, "--file", "p.yaml")
    assert done.returncode == 0, done.stderr
    entries = sorted((tmp_path / "cache").glob("*.pickle"))  # as given, and absolute
    assert len(entries) == 2 and all(str(e) in done.stdout for e in entries)
    assert str(tmp_path) in done.stdout
    modules = _imported(["-m", "magnus_render.cli", *NODE], tmp_path, env)
    assert _heavy(modules, HEAVY + FRONT_END) == []
    # the absolute spelling is used from any working directory
    (tmp_path / "elsewhere").mkdir()
    absolute = ["execute_single_node", "r2", "s", "--file", str(tmp_path / "p.yaml")]
    modules = _imported(["-m", "magnus_render.cli", *absolute], tmp_path / "elsewhere", env)
    assert _heavy(modules, HEAVY + FRONT_END) == []
    compiling = _imported(["-m", "magnus_render.cli", "compile", "-f", "p.yaml"], tmp_path, env)
    assert _heavy(compiling, HEAVY) == []  # no CLI framework either
    again = _compile(tmp_path, env, "-f", "p.yaml")  # nothing to do the second time
    assert again.returncode == 0 and again.stdout.count("already compiled") == 2
    assert sorted((tmp_path / "cache").glob("*.pickle")) == entries


NODE = ["execute_single_node", "r1", "s", "--file", "p.yaml"]


def test_magnus_compile_reports_pipeline_and_config_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("dag:\n  start_at: s\n  steps:\n    s: {type: tsak}\n")
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "c.yaml").write_text("executor:\n  type: local\nrun_log_store: {type: nowhere}\n")
    env = _env(tmp_path / "cache")
    for args, where in (
        (["--file", "bad.yaml"], "bad.yaml:4:"),
        (["--file", "missing.yaml"], "missing.yaml"),
        (["--file", "p.yaml", "--config-file", "c.yaml"], "c.yaml:3:"),
    ):
        done = _compile(tmp_path, env, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert where in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not list((tmp_path / "cache").glob("*.pickle"))
    off = _compile(tmp_path, {**env, "MAGNUS_PIPELINE_CACHE": "0"}, "--file", "p.yaml")
    assert off.returncode == 2 and "MAGNUS_PIPELINE_CACHE=0" in off.stderr
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache").chmod(0o777)  # a folder nobody may trust: say so, exit 2
    shared = _compile(tmp_path, env, "--file", "p.yaml")
    assert shared.returncode == 2 and "writable by group or others" in shared.stderr
    assert "Traceback" not in shared.stderr


def test_magnus_compile_help_and_usage_go_through_typer(tmp_path: Path) -> None:
    magnus = [sys.executable, "-c", "from magnus_render.container_cli import main; main()"]
    env = _env(tmp_path / "cache")
    helped = subprocess.run([*magnus, "compile", "--help"], env=env, capture_output=True, text=True)
    assert helped.returncode == 0 and "--config-file" in helped.stdout
    missing = subprocess.run([*magnus, "compile"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "--file" in missing.stderr


OTHER_UID = 65534  # nobody: an image baked as root, run as another user
#: as OTHER_UID, keeping only the right to read and search folders: this interpreter may
#: live below a folder private to root (pyenv in /root). Writing, and so the cache's
#: "never write a folder this user cannot write", is still OTHER_UID's alone; that entries
#: are readable by anyone is checked on their modes.
AS_OTHER = [
    "setpriv",
    f"--reuid={OTHER_UID}",
    f"--regid={OTHER_UID}",
    "--clear-groups",
    "--inh-caps=+dac_read_search",
    "--ambient-caps=+dac_read_search",
]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another uid can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="magnus-baked-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_other_uid(argv: list[str], cwd: Path, env: dict[str, str]) -> set[str]:
    """Modules ``argv`` imports when run as OTHER_UID (it must pass)."""
    probe = "import os; print(os.getuid())"
    whoami = subprocess.run([*AS_OTHER, sys.executable, "-c", probe], capture_output=True)
    assert whoami.stdout.strip() == str(OTHER_UID).encode()
    done = subprocess.run(
        [*AS_OTHER, sys.executable, "-X", "importtime", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    said = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert done.returncode == 0, said
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.skipif(
    os.getuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux) to bake as root and run as another uid",
)
def test_a_cache_baked_as_root_is_read_by_another_uid(shared_tmp: Path) -> None:
    """The image case: `magnus compile` as root into a folder the pod's uid cannot write;
    the pod loads the entry (no YAML front end) and writes nothing. Made group-writable,
    the folder is ignored: the pipeline is built from YAML, never an error."""
    work, cache = shared_tmp / "app", shared_tmp / "cache"
    work.mkdir()
    (work / "p.yaml").write_text(PIPELINE)
    env = _env(cache)
    done = _compile(work, env, "--file", "p.yaml")
    assert done.returncode == 0, done.stderr
    assert cache.stat().st_uid == 0 and stat.S_IMODE(cache.stat().st_mode) == 0o755
    for entry in cache.glob("*.pickle"):  # whatever the umask
        assert entry.stat().st_uid == 0 and stat.S_IMODE(entry.stat().st_mode) == 0o644
    os.chown(work, OTHER_UID, OTHER_UID)  # the run log is written here by the pod
    before = sorted((p.name, p.stat().st_mtime_ns) for p in cache.iterdir())

    modules = _as_other_uid(["-m", "magnus_render.cli", *NODE], work, env)
    assert _heavy(modules, FRONT_END) == []
    assert sorted((p.name, p.stat().st_mtime_ns) for p in cache.iterdir()) == before

    (work / "q.yaml").write_text(PIPELINE.replace("x:", "y:").replace("start_at: x", "start_at: y"))
    other = ["-m", "magnus_render.cli", "execute_single_node", "r3", "s", "--file", "q.yaml"]
    modules = _as_other_uid(other, work, env)  # not baked: built, and nothing written
    assert "magnus_render.pipeline.build" in modules
    assert sorted((p.name, p.stat().st_mtime_ns) for p in cache.iterdir()) == before

    cache.chmod(0o775)  # group-writable: not trusted, a miss
    again = ["-m", "magnus_render.cli", "execute_single_node", "r2", "s", "--file", "p.yaml"]
    modules = _as_other_uid(again, work, env)
    assert "magnus_render.pipeline.build" in modules
    assert sorted((p.name, p.stat().st_mtime_ns) for p in cache.iterdir()) == before
