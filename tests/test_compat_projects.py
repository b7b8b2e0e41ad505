"""magnus 0.5 projects (tests/compat/*) run unchanged: the commands a magnus 0.5 user
types, then the run log is checked against magnus 0.5's documented behaviour for that
concept. The first test runs real subprocesses (the `magnus` console script, `python
pipeline.py`); the others run the same CLI app and scripts in this process, set up as a
fresh process would be, because a subprocess per project costs seconds."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import shutil
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.deps import require
from tests.helpers.runlog import magnus_env, normalize

COMPAT = Path(__file__).parent / "compat"


def project(name: str, tmp_path: Path) -> Path:
    """A scratch copy of tests/compat/<name>."""
    return Path(shutil.copytree(COMPAT / name, tmp_path / name))


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(workdir: Path, argv: list[str], env: dict[str, str] | None = None) -> Result:
    """A real subprocess, exactly as a user runs it."""
    proc = subprocess.run(
        argv,
        cwd=workdir,
        env=magnus_env(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def magnus_subprocess(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The ``magnus`` console script, as a magnus 0.5 user runs it."""
    script = shutil.which("magnus") or ""
    argv = [script] if script else [sys.executable, "-m", "magnus_render.cli"]
    return run(workdir, [*argv, *args], env)


def python_subprocess(workdir: Path, script: str, env: dict[str, str] | None = None) -> Result:
    return run(workdir, [sys.executable, script], env)


@contextlib.contextmanager
def inside(workdir: Path, env: dict[str, str] | None) -> Iterator[None]:
    """This process, set up as a fresh one started in ``workdir`` would be: its cwd, its
    own ``functions`` module, no MAGNUS_* variables but ``env``. Everything is restored."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_argv = list(sys.argv)
    for key in [k for k in os.environ if k.startswith("MAGNUS_")]:
        del os.environ[key]
    os.environ.update(env or {})
    sys.modules.pop("functions", None)
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        sys.argv[:] = saved_argv
        sys.modules.pop("functions", None)
        os.environ.clear()
        os.environ.update(saved_env)


def magnus(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """``magnus ARGS`` through the same CLI app, in this process (much faster)."""
    from typer.testing import CliRunner

    from magnus_render.cli import app

    with inside(workdir, env):
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def python(workdir: Path, script: str, env: dict[str, str] | None = None) -> Result:
    """``python SCRIPT`` in this process: run as __main__, output captured."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with inside(workdir, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        sys.argv[:] = [script]
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            traceback.print_exc()
            code = 1
    return Result(code, out.getvalue(), err.getvalue())


def run_logs(workdir: Path, config_file: str | None = None) -> dict[str, Any]:
    """Every run in the project's run log store (as configured), by run id."""
    from magnus_render.config import load_config
    from magnus_render.runtime.context import build_services

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        store = build_services(load_config(config_file))[0]
        return {run_id: store.get_run_log(run_id) for run_id in store.list_run_ids()}
    finally:
        os.chdir(cwd)


def only_run(workdir: Path, config_file: str | None = None) -> Any:
    logs = run_logs(workdir, config_file)
    assert len(logs) == 1, list(logs)
    return next(iter(logs.values()))


def statuses(log: Any) -> dict[str, str]:
    return {name: step.status.value for name, step in log.steps.items()}


# -- simple -------------------------------------------------------------------------------
def test_simple_yaml_and_sdk_give_the_same_run(tmp_path: Path) -> None:
    from_yaml = project("simple", tmp_path / "yaml")
    proc = magnus_subprocess(from_yaml, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "Hello World!" in proc.stdout + proc.stderr
    yaml_log = only_run(from_yaml)
    assert statuses(yaml_log) == {"hello": "SUCCESS", "shell": "SUCCESS", "success": "SUCCESS"}

    from_sdk = project("simple", tmp_path / "sdk")
    proc = python_subprocess(from_sdk, "pipeline.py")
    assert proc.returncode == 0, proc.stderr
    assert normalize(only_run(from_sdk)) == normalize(yaml_log)


# -- traversal ----------------------------------------------------------------------------
def test_traversal_on_failure(tmp_path: Path) -> None:
    workdir = project("traversal", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert log.status.value == "SUCCESS"
    assert statuses(log) == {
        "step_1": "SUCCESS",
        "step_2": "FAIL",
        "step_4": "SUCCESS",
        "success": "SUCCESS",
    }
    assert "This step fails on purpose" in log.steps["step_2"].attempts[0].message


def test_traversal_sdk_custom_terminals(tmp_path: Path) -> None:
    workdir = project("traversal", tmp_path)
    proc = python(workdir, "pipeline.py")
    # magnus 0.5's SDK returned the failed log (exit 0); here execute() raises
    # ExecutionFailedError, as magnus 0.5's `magnus execute` did: the script exits 1
    assert proc.returncode == 1, proc.stderr
    assert "ExecutionFailedError" in proc.stderr and "'step_3'" in proc.stderr
    log = only_run(workdir)
    assert log.status.value == "FAIL"
    assert statuses(log) == {
        "step_1": "SUCCESS",
        "step_2": "SUCCESS",
        "step_3": "FAIL",
        "step_4": "SUCCESS",
        "broken": "SUCCESS",
    }


# -- parameters ---------------------------------------------------------------------------
def test_parameters_as_function_arguments(tmp_path: Path) -> None:
    workdir = project("parameters_args", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml", "--parameters-file", "parameters.yaml")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert log.parameters == {"simple": 2, "inner": {"x": 20, "y": "hello world"}, "checked": True}
    assert log.steps["modify"].attempts[0].parameters == {
        "simple": 1,
        "inner": {"x": 10, "y": "hello"},
    }


def test_parameters_through_the_environment(tmp_path: Path) -> None:
    workdir = project("parameters_env", tmp_path)
    proc = magnus(
        workdir, "execute", "-f", "pipeline.yaml", env={"MAGNUS_PRM_greeting": "hi there"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.status.value == "SUCCESS"
    assert log.parameters["y"] == "from shell" and log.parameters["z"] == 2


def test_parameters_in_os_environ_of_python_tasks(tmp_path: Path) -> None:
    """magnus 0.5 also put parameters in os.environ for python tasks, and published the
    MAGNUS_PRM_ variables a task set there."""
    workdir = project("parameters_env_python", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert log.parameters["from_env"] == "via the environment"


def test_parameters_through_the_api(tmp_path: Path) -> None:
    workdir = project("parameters_api", tmp_path)
    proc = python(workdir, "pipeline.py")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert statuses(log) == dict.fromkeys(
        ["set_params", "get_params", "missing", "success"], "SUCCESS"
    )
    assert log.parameters == {"simple": 2, "inner": {"x": 20, "y": "hello"}}


# -- catalog ------------------------------------------------------------------------------
def test_catalog_by_config_and_api(tmp_path: Path) -> None:
    workdir = project("catalog", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml", "--run-id", "cat-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.status.value == "SUCCESS"

    def entries(step: str) -> set[tuple[str, str]]:
        return {
            (e.name, e.stage)
            for e in log.steps[step].data_catalog
            if not e.name.endswith(".execution.log")
        }

    assert entries("create") == {("data/hello.txt", "put"), ("data/sub/nested.csv", "put")}
    assert entries("copy") >= {
        ("data/hello.txt", "get"),
        ("data/sub/nested.csv", "get"),
        ("data/world.txt", "put"),
    }
    use_api = entries("use_api")
    assert ("data/api.txt", "put") in use_api and ("data/world.txt", "get") in use_api
    stored = workdir / ".catalog" / "cat-run" / "data"
    assert (stored / "api.txt").read_text() == "put through the API\n"
    assert (stored / "sub" / "nested.csv").is_file()


def test_catalog_objects(tmp_path: Path) -> None:
    workdir = project("catalog_objects", tmp_path)
    proc = python(workdir, "pipeline.py")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert statuses(log) == dict.fromkeys(["put_objects", "get_objects", "success"], "SUCCESS")
    names = {e.name for e in log.steps["put_objects"].data_catalog}
    assert {"eggs.pickle", "python_types.pickle"} <= names


# -- map, parallel, nesting ------------------------------------------------------------------
def test_map(tmp_path: Path) -> None:
    workdir = project("map", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.parameters["total"] == 60
    assert sorted(log.steps["map_state"].branches) == [
        "map_state.1",
        "map_state.2",
        "map_state.3",
    ]


def test_parallel_sdk(tmp_path: Path) -> None:
    workdir = project("parallel", tmp_path)
    proc = python(workdir, "pipeline.py")
    assert proc.returncode == 0, proc.stderr
    log = only_run(workdir)
    assert log.status.value == "SUCCESS"
    assert sorted(log.steps["both"].branches) == ["both.cubes", "both.squares"]
    assert log.parameters["squared"] == 4 and log.parameters["cubed"] == 8


def test_nesting_map_parallel_dag(tmp_path: Path) -> None:
    workdir = project("nesting", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.parameters["model"] == ["model-eu", "model-us"]
    assert log.parameters["trained"] == ["EU", "US"]
    region = log.steps["each_region"].branches["each_region.us"]
    work = region.steps["each_region.us.work"]
    assert sorted(work.branches) == [
        "each_region.us.work.modelling",
        "each_region.us.work.training",
    ]


# -- notebooks, secrets, tracking ------------------------------------------------------------
def test_notebook_task(tmp_path: Path) -> None:
    require("ploomber_engine")
    workdir = project("notebooks", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.parameters["greeting"] == "hello magnus"
    assert log.steps["notebook"].user_defined_metrics == {"cells": 6}
    names = {e.name for e in log.steps["notebook"].data_catalog}
    assert "notebook_out.ipynb" in names


def test_secrets_from_dotenv(tmp_path: Path) -> None:
    workdir = project("secrets", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert only_run(workdir).status.value == "SUCCESS"
    for path in (workdir / ".run_log_store").rglob("*"):
        if path.is_file():
            assert "top secret value" not in path.read_text(errors="replace")


def test_experiment_tracking_with_track_this(tmp_path: Path) -> None:
    workdir = project("tracking", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = only_run(workdir).steps["train"].user_defined_metrics
    assert metrics == {"accuracy": 0.9, "model": "forest", "loss": {"1": 0.5, "2": 0.25}}


def test_experiment_tracking_through_environment(tmp_path: Path) -> None:
    """magnus 0.5: MAGNUS_TRACK_<name> exported by a task is tracked."""
    workdir = project("tracking_env", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    metrics = only_run(workdir).steps["shell"].user_defined_metrics
    assert metrics == {"answer": 42}


# -- executors and config ------------------------------------------------------------------
def test_mocked_executor_with_patches(tmp_path: Path) -> None:
    workdir = project("mocked", tmp_path)
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml", "-c", "mocked-config.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir, "mocked-config.yaml")
    assert log.status.value == "SUCCESS"
    assert {n: s.mock for n, s in log.steps.items()} == {
        "expensive": True,
        "shell": True,
        "real": False,
        "success": False,
    }
    assert log.parameters == {"patched": True}


def test_config_defaults_run_id_and_tag(tmp_path: Path) -> None:
    """magnus-config.yaml with a `defaults:` wrapper is picked up from the working folder."""
    workdir = project("config_defaults", tmp_path)
    proc = magnus(
        workdir, "execute", "-f", "pipeline.yaml", "--run-id", "compat-run", "--tag", "nightly"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = only_run(workdir)
    assert log.run_config["run_log_store"]["type"] == "chunked-fs"
    assert log.parameters == {"seen_run_id": "compat-run"}
    assert (workdir / "my-catalog" / "compat-run").is_dir()


def test_env_secrets_manager_name(tmp_path: Path) -> None:
    """magnus 0.5 called the environment secrets backend `env-secrets-manager`."""
    workdir = project("secrets", tmp_path)
    (workdir / "magnus-config.yaml").write_text("secrets:\n  type: env-secrets-manager\n")
    proc = magnus(workdir, "execute", "-f", "pipeline.yaml", env={"shh": "top secret value"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert only_run(workdir).run_config["secrets"]["type"] == "env-secrets-manager"


def test_interactive_session(tmp_path: Path) -> None:
    workdir = project("interactive", tmp_path)
    proc = python(workdir, "session.py")
    assert proc.returncode == 0, proc.stderr
    assert "session done" in proc.stdout
    log = only_run(workdir)
    assert log.run_id == "interactive-run" and log.status.value == "SUCCESS"
    assert log.parameters == {"x": 5, "y": 10}
    step = log.steps["interactive"]
    assert step.user_defined_metrics == {"exploration": 1.5}
    assert {e.name for e in step.data_catalog} == {"numbers.pickle"}
    assert json.loads(json.dumps(step.attempts[0].parameters)) == {"x": 5}
