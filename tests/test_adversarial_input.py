"""Hostile input at the boundaries of a run (issue 14): YAML tags, parameter names and
values from a parameters file, the environment or a task, a malformed dotenv file.

Before a run starts the answer is exit 2 with file:line (nothing written); once it runs, the
step and the run FAIL with a message naming the parameter, the step's log is kept, and a
re-run with ``--use-cached`` works. Never a Python traceback of magnus's own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from magnus_render.pipeline.yaml_source import load_yaml_text
from tests.helpers.runlog import load_run_log, prepare_workdir, run_magnus

PIPELINE = """\
dag:
  start_at: produce
  steps:
    produce: {type: task, command: COMMAND, command_type: TYPE, next: consume}
    consume:
      type: task
      command_type: shell
      command: 'env | grep -c MAGNUS_PRM_ || true'
      next: success
    success: {type: success}
    fail: {type: fail}
"""

TAGS = {
    "timestamp": "!!timestamp 2024-01-01",
    "binary": "!!binary aGVsbG8=",
    "set": "!!set {a: null}",
    "omap": "!!omap [{a: 1}]",
    "python": "!!python/object/apply:os.system [echo hi]",
    "local": "!secret abc",
}


def _pipeline(work: Path, command: str, kind: str = "shell") -> Path:
    path = work / "p.yaml"
    text = PIPELINE.replace("COMMAND", json.dumps(command)).replace("TYPE", kind)
    path.write_text(text, encoding="utf-8")
    return path


def _refused(proc: subprocess.CompletedProcess[str], where: str, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"error: {where}" in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


# -- item 3: YAML tags ------------------------------------------------------------------
@pytest.mark.parametrize("tag", sorted(TAGS))
@pytest.mark.parametrize("where", ["pipeline", "config", "parameters"])
def test_a_yaml_tag_is_refused_with_file_and_line(tmp_path: Path, tag: str, where: str) -> None:
    work = prepare_workdir(tmp_path)
    _pipeline(work, "true")
    value = TAGS[tag]
    args = ["execute", "p.yaml", "--run-id", "r"]
    if where == "pipeline":
        text = (work / "p.yaml").read_text().replace("dag:\n", f"dag:\n  description: {value}\n")
        (work / "p.yaml").write_text(text)
        file, line = "p.yaml", 2
    elif where == "config":
        (work / "c.yaml").write_text(
            f"run_log_store:\n  type: file-system\n  config:\n    log_folder: {value}\n"
        )
        args += ["-c", "c.yaml"]
        file, line = "c.yaml", 4
    else:
        (work / "params.yaml").write_text(f"ok: 1\nvalue: {value}\n")
        args += ["-p", "params.yaml"]
        file, line = "params.yaml", 2
    proc = run_magnus(args, work)
    _refused(proc, f"{file}:{line}: unsupported YAML tag '{value.split()[0]}'")
    assert not (work / ".run_log_store").exists()  # refused before the run started


def test_an_unquoted_date_stays_the_text_written() -> None:
    """YAML 1.1 would make these date/datetime objects, which JSON (the run log) cannot
    hold; YAML 1.2 has no timestamp type. Quoted or not, the value is the string."""
    data, _ = load_yaml_text("d: 2024-01-01\nt: 2024-01-01 10:00:00\nq: '2024-01-01'\n", "x")
    assert data == {"d": "2024-01-01", "t": "2024-01-01 10:00:00", "q": "2024-01-01"}


@pytest.mark.parametrize("text", ["0:\n!!int :\n", "a: !!float\n", "a: !!bool ''\n"])
def test_an_empty_tagged_value_is_an_invalid_value_with_its_line(text: str) -> None:
    """Found by the fuzz test: an explicitly tagged empty scalar crashed the loader."""
    from magnus_render.errors import PipelineError

    with pytest.raises(PipelineError) as caught:
        load_yaml_text(text, "x.yaml")
    assert str(caught.value).startswith(f"x.yaml:{text.count(chr(10), 0, text.index('!!')) + 1}: ")
    assert "invalid" in str(caught.value)


# -- item 2: parameters before the run --------------------------------------------------
BAD_FILE_PARAMETERS = {
    "nul": ('x: "a\\0b"', "parameter 'x': the value holds a NUL byte"),
    "equals": ('"a=b": 1', "parameter name 'a=b' is not a Python identifier"),
    "digit": ("1x: 1", "parameter name '1x' is not a Python identifier"),
    "empty": ('"": 1', "parameter name '' is not a Python identifier"),
    "int_name": ("1: 1", "parameter name 1 is not a Python identifier"),
    "nan": ("x: .nan", "parameter 'x': nan (NaN or infinity) cannot be stored as JSON"),
    "inf": ("x: [1, -.inf]", "parameter 'x': -inf (NaN or infinity) cannot be stored"),
    "int_key": ("x: {2: 3}", "parameter 'x': mapping key 2 is not a string"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILE_PARAMETERS))
def test_a_bad_parameter_in_the_file_is_refused_before_the_run(tmp_path: Path, case: str) -> None:
    work = prepare_workdir(tmp_path)
    _pipeline(work, "true")
    text, message = BAD_FILE_PARAMETERS[case]
    (work / "params.yaml").write_text(f"good: 1\n{text}\n")
    proc = run_magnus(["execute", "p.yaml", "-p", "params.yaml", "--run-id", "r"], work)
    _refused(proc, "params.yaml:2: ", message)
    assert not (work / ".run_log_store").exists()


BAD_ENV_PARAMETERS = {
    "MAGNUS_PRM_1x": ("1", "parameter name '1x' is not a Python identifier"),
    "MAGNUS_PRM_": ("1", "parameter name '' is not a Python identifier"),
    "MAGNUS_PRM_a-b": ("1", "parameter name 'a-b' is not a Python identifier"),
    "MAGNUS_PRM_x": ('"a\\u0000b"', "parameter 'x': the value holds a NUL byte"),
}


@pytest.mark.parametrize("name", sorted(BAD_ENV_PARAMETERS))
def test_a_bad_magnus_prm_variable_is_refused_before_the_run(tmp_path: Path, name: str) -> None:
    work = prepare_workdir(tmp_path)
    _pipeline(work, "true")
    value, message = BAD_ENV_PARAMETERS[name]
    proc = run_magnus(["execute", "p.yaml", "--run-id", "r"], work, env={name: value})
    _refused(proc, f"environment variable {name}: ", message)
    assert not (work / ".run_log_store").exists()


def test_nan_in_magnus_prm_is_the_string_not_a_float(tmp_path: Path) -> None:
    """``NaN`` is not JSON: like any non-JSON text it stays the raw string."""
    work = prepare_workdir(tmp_path)
    _pipeline(work, "true")
    proc = run_magnus(["execute", "p.yaml", "--run-id", "r"], work, env={"MAGNUS_PRM_x": "NaN"})
    assert proc.returncode == 0, proc.stderr
    assert load_run_log(work, "r").parameters == {"x": "NaN"}


# -- item 2: parameters a task produces ---------------------------------------------------
TASKS = """
import os

from magnus_render import set_parameter


def bad_name():
    return {"a=b": 1}


def digit_name():
    return {"1x": 1}


def nan():
    return {"x": float("nan")}


def nul():
    return {"x": "a\\0b"}


def a_set():
    return {"x": {1, 2}}


def exported():
    os.environ["MAGNUS_PRM_1x"] = "1"


def via_api():
    set_parameter(**{"a b": 1})
"""
TASK_CASES = {
    "bad_name": ("python", "in_tasks.bad_name", "parameter name 'a=b' is not a Python identifier"),
    "digit": ("python", "in_tasks.digit_name", "parameter name '1x'"),
    "nan": ("python", "in_tasks.nan", "parameter 'x': nan (NaN or infinity)"),
    "nul": ("python", "in_tasks.nul", "parameter 'x': the value holds a NUL byte"),
    "set": ("python", "in_tasks.a_set", "'x': set values cannot be stored as JSON"),
    "exported": ("python", "in_tasks.exported", "parameter name '1x'"),
    "api": ("python", "in_tasks.via_api", "parameter name 'a b'"),
    "shell_nul": (
        "shell",
        "echo producing; export MAGNUS_PRM_x='\"a\\u0000b\"'",
        "parameter 'x': the value holds a NUL byte",
    ),
    "shell_name": ("shell", "echo producing; export MAGNUS_PRM_1x=1", "parameter name '1x'"),
}


@pytest.mark.parametrize("case", sorted(TASK_CASES))
def test_a_task_producing_a_bad_parameter_fails_its_step(tmp_path: Path, case: str) -> None:
    work = prepare_workdir(tmp_path)
    (work / "in_tasks.py").write_text(TASKS)
    kind, command, message = TASK_CASES[case]
    _pipeline(work, command, kind)
    proc = run_magnus(["execute", "p.yaml", "--run-id", "r"], work)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "magnus_render/" not in proc.stderr, proc.stderr  # no frame of magnus's own
    log = load_run_log(work, "r")
    assert log.status.value == "FAIL"
    step = log.steps["produce"]
    assert step.status.value == "FAIL" and message in step.message
    assert "consume" not in log.steps
    kept = list((work / ".catalog" / "r").rglob("produce.attempt-1.execution.log"))
    assert len(kept) == 1
    if kind == "shell":
        assert "producing" in kept[0].read_text()

    # fixed, the run is re-run from the failed one: the failed step runs again
    _pipeline(work, "echo fixed", "shell")
    again = run_magnus(["execute", "p.yaml", "--run-id", "r2", "--use-cached", "r"], work)
    assert again.returncode == 0, again.stderr
    assert load_run_log(work, "r2").status.value == "SUCCESS"


# -- item 5: a malformed dotenv secrets file ------------------------------------------------
SECRET = "hunter2-d0tenv-VALUE"
SECRET_TASK = """
from magnus_render import get_secret


def use():
    get_secret("TOKEN")
"""


@pytest.mark.parametrize(
    "line, problem",
    [
        (f"TOKEN: {SECRET}", "no '=' in the line"),
        (f"MY-TOKEN={SECRET}", "the name before '=' is not a valid variable name"),
        (f'TOKEN="{SECRET}', "a quoted value without its closing quote"),
        (f'TOKEN="{SECRET}" trailing', "text after the closing quote"),
    ],
)
def test_a_malformed_dotenv_line_is_named_never_shown(
    tmp_path: Path, line: str, problem: str
) -> None:
    work = prepare_workdir(tmp_path)
    (work / "sec_task.py").write_text(SECRET_TASK)
    _pipeline(work, "sec_task.use", "python")
    (work / "secrets.env").write_text(f"# secrets\n{line}\n")
    (work / "c.yaml").write_text("secrets:\n  type: dotenv\n  config:\n    location: secrets.env\n")
    proc = run_magnus(["--debug", "execute", "p.yaml", "-c", "c.yaml", "--run-id", "r"], work)
    assert proc.returncode == 1, proc.stderr
    assert f"secrets.env:2: not a KEY=VALUE line: {problem}" in proc.stderr
    log = load_run_log(work, "r", "c.yaml")
    assert log.steps["produce"].status.value == "FAIL"
    assert "secrets.env:2" in log.steps["produce"].message
    written = b"".join(
        p.read_bytes()
        for d in (".run_log_store", ".catalog")
        for p in (work / d).rglob("*")
        if p.is_file()
    )
    for text in (proc.stdout, proc.stderr, written.decode("utf-8", "replace")):
        assert SECRET not in text
        assert SECRET[:7] not in text


def test_a_parameter_too_large_for_the_environment_fails_the_shell_step(tmp_path: Path) -> None:
    """bash cannot start with a 200 kB environment variable (E2BIG): the step fails naming
    the parameter, instead of the run dying PROCESSING."""
    work = prepare_workdir(tmp_path)
    _pipeline(work, "echo never")
    (work / "params.yaml").write_text("big: " + "a" * 200_000 + "\n")
    proc = run_magnus(["execute", "p.yaml", "-p", "params.yaml", "--run-id", "r"], work)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    message = "parameter 'big' is too large for a shell task"
    assert message in proc.stderr
    log = load_run_log(work, "r")
    assert log.status.value == "FAIL" and message in log.steps["produce"].message
    (kept,) = (work / ".catalog" / "r").rglob("produce.attempt-1.execution.log")
    assert message in kept.read_text()

    (work / "in_tasks.py").write_text("def ok(big: str):\n    print(len(big))\n")
    _pipeline(work, "in_tasks.ok", "python")
    again = run_magnus(["execute", "p.yaml", "--run-id", "r2", "--use-cached", "r"], work)
    assert again.returncode == 1  # the re-run runs the fixed step; consume is a shell step
    assert load_run_log(work, "r2").steps["produce"].status.value == "SUCCESS"
