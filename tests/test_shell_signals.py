"""Ctrl-C and SIGTERM during a rendered shell-target script (real bash, real magnus): the
running magnus commands get the signal and stop their tasks, the script marks the rest of
the run FAIL "interrupted (SIG...)" and exits 130 / 143 like `magnus execute`; no process
a task started survives; `bash wf.sh --use-cached OLD` resumes. Bounded waits only."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runlog import magnus_env
from tests.helpers.signals import (
    Terminal,
    finish,
    kill_pids,
    markers,
    share_test_folder,
)
from tests.test_runtime_signals import (
    assert_interrupted,
    parallel_pipeline,
    sequential_pipeline,
    workdir,
)
from tests.test_shell_conformance import render_script


@pytest.fixture(autouse=True)
def _shared_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    share_test_folder(monkeypatch, tmp_path)


def script(tmp_path: Path, pipeline: str, max_parallel: int = 1) -> Path:
    workdir(tmp_path, pipeline)
    return render_script(tmp_path, tmp_path / "p.yaml", "p.yaml", max_parallel=max_parallel)


def start(tmp_path: Path, path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", str(path), *args],
        cwd=tmp_path,
        env=magnus_env({"TMPDIR": str(tmp_path)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signal_stops_concurrent_branches_and_resumes(tmp_path: Path, signum: int) -> None:
    """SIGTERM/SIGINT to the script alone (bash would wait for a foreground node before
    running its trap): the magnus commands running in both branches stop their tasks."""
    wf = script(tmp_path, parallel_pipeline(), max_parallel=2)
    proc = start(tmp_path, wf, "old")
    held = ["both.sh.hold", "both.py.hold"]
    try:
        markers(tmp_path, ["started-sh", "started-py"], proc)
        proc.send_signal(signum)
        code, err = finish(proc)
        assert code == 128 + signum, err
        assert "Traceback" not in err
        assert_interrupted(tmp_path, "old", [*held, "both"], signal.Signals(signum).name)
    finally:
        kill_pids(tmp_path)
    (tmp_path / "fast").touch()
    code, err = finish(start(tmp_path, wf, "--use-cached", "old", "new"))
    assert code == 0, err
    from tests.helpers.runlog import load_run_log

    log = load_run_log(tmp_path, "new")
    assert log.status.value == "SUCCESS" and log.steps["first"].mock
    for name in ("sh", "py"):
        step = log.steps["both"].branches[f"both.{name}"].steps[f"both.{name}.hold"]
        assert step.status.value == "SUCCESS" and not step.mock


@pytest.mark.parametrize("kind", ["shell", "python"])
def test_sigterm_stops_a_foreground_node(tmp_path: Path, kind: str) -> None:
    wf = script(tmp_path, sequential_pipeline(kind))
    proc = start(tmp_path, wf, "old")
    try:
        markers(tmp_path, ["started-sh" if kind == "shell" else "started-py"], proc)
        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
        assert code == 143, err
        assert_interrupted(tmp_path, "old", ["hold"], "SIGTERM")
    finally:
        kill_pids(tmp_path)


def test_ctrl_c_on_a_terminal(tmp_path: Path) -> None:
    """On a pty Ctrl-C reaches bash and the magnus command at once: one FAIL record."""
    wf = script(tmp_path, sequential_pipeline("python"))
    term = Terminal(["bash", str(wf), "tty"], tmp_path, magnus_env({"TMPDIR": str(tmp_path)}))
    try:
        markers(tmp_path, ["started-py"], term.proc)
        term.ctrl_c()
        code = term.wait()
        assert code == 130, term.output
        assert "Traceback" not in term.output
        assert_interrupted(tmp_path, "tty", ["hold"], "SIGINT")
    finally:
        kill_pids(tmp_path)


def test_interrupted_marks_what_is_left_of_a_run(tmp_path: Path) -> None:
    """`magnus interrupted` (what the script runs last) on a run whose composite and
    branches were left PROCESSING; a run that does not exist is not an error."""
    from tests.helpers.runlog import load_run_log

    workdir(tmp_path, parallel_pipeline())
    base = [sys.executable, "-m", "magnus_render.cli"]
    env = magnus_env()

    def magnus(*args: str) -> None:
        subprocess.run([*base, *args], cwd=tmp_path, env=env, check=True, timeout=120)

    magnus("execute_single_node", "r", "first", "--file", "p.yaml")
    magnus("fan", "r", "both", "--mode", "out", "--file", "p.yaml")
    magnus("interrupted", "r", "--signal", "TERM")
    magnus("interrupted", "no-such-run", "--signal", "INT")
    log = load_run_log(tmp_path, "r")
    assert log.status.value == "FAIL" and log.message == "interrupted (SIGTERM)"
    assert log.steps["first"].status.value == "SUCCESS"
    both = log.steps["both"]
    assert both.status.value == "FAIL" and both.message == "interrupted (SIGTERM)"
    assert [b.status.value for b in both.branches.values()] == ["FAIL", "FAIL"]
    shown = subprocess.run(
        [*base, "show", "r"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.splitlines()[:2] == ["run r  FAIL", "  message: interrupted (SIGTERM)"]
