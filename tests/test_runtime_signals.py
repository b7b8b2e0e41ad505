"""Ctrl-C and SIGTERM during `magnus execute` (sequential and with worker processes, and
on a terminal): the running task's processes are stopped, the step and the run are FAIL
"interrupted (SIG...)", no process the task started survives, the exit code is 128 + the
signal (130 / 143), and `--use-cached` resumes: the interrupted step runs again, the
earlier ones are reused. Each task writes its pids and a "started" marker first; every
wait is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env
from tests.helpers.signals import (
    PY_TASKS,
    SHELL_HOLD,
    Terminal,
    finish,
    kill_pids,
    markers,
    orphans,
    share_test_folder,
    wait_for,
)

PARALLEL_CONFIG = "executor:\n  type: local\n  config: {enable_parallel: true}\n"


@pytest.fixture(autouse=True)
def _shared_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    share_test_folder(monkeypatch, tmp_path)


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.strip().splitlines())


def sequential_pipeline(kind: str) -> str:
    """first (quick) -> hold (a shell or python task that waits) -> success."""
    if kind == "shell":
        hold = "      command_type: shell\n      command: |\n" + _indent(SHELL_HOLD, 8)
    else:
        hold = "      command: sig_tasks.hold\n"
    return (
        "dag:\n  start_at: first\n  steps:\n"
        "    first: {type: task, command_type: shell, command: echo one, next: hold}\n"
        "    hold:\n      type: task\n" + hold + "      next: success\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )


def parallel_pipeline() -> str:
    """A parallel step whose branches hold a shell task and a python task."""
    return (
        "dag:\n  start_at: first\n  steps:\n"
        "    first: {type: task, command_type: shell, command: echo one, next: both}\n"
        "    both:\n      type: parallel\n      next: success\n      branches:\n"
        "        sh:\n          start_at: hold\n          steps:\n"
        "            hold:\n              type: task\n              command_type: shell\n"
        "              command: |\n" + _indent(SHELL_HOLD, 16) + "              next: success\n"
        "            success: {type: success}\n            fail: {type: fail}\n"
        "        py:\n          start_at: hold\n          steps:\n"
        "            hold: {type: task, command: sig_tasks.hold, next: success}\n"
        "            success: {type: success}\n            fail: {type: fail}\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )


def workdir(tmp_path: Path, pipeline: str, parallel: bool = False) -> list[str]:
    (tmp_path / "sig_tasks.py").write_text(PY_TASKS, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(pipeline, encoding="utf-8")
    args = ["execute", "p.yaml"]
    if parallel:
        (tmp_path / "c.yaml").write_text(PARALLEL_CONFIG, encoding="utf-8")
        args += ["-c", "c.yaml"]
    return args


def start(tmp_path: Path, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", *args],
        cwd=tmp_path,
        env=magnus_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def config_of(tmp_path: Path) -> Path | None:
    return tmp_path / "c.yaml" if (tmp_path / "c.yaml").exists() else None


def assert_interrupted(tmp_path: Path, run_id: str, steps: list[str], signame: str) -> None:
    """The run and each of ``steps`` FAIL "interrupted (SIGNAME)", one attempt each;
    nothing left PROCESSING; no process a task started still runs."""
    log = load_run_log(tmp_path, run_id, config_of(tmp_path))
    message = f"interrupted ({signame})"
    assert log.status.value == "FAIL" and log.message == message
    assert log.steps["first"].status.value == "SUCCESS"
    found = {}
    todo = list(log.steps.values())
    while todo:
        step = todo.pop()
        assert step.status.value != "PROCESSING", step.internal_name
        found[step.internal_name] = step
        for branch in step.branches.values():
            assert branch.status.value != "PROCESSING", branch.internal_name
            todo.extend(branch.steps.values())
    for name in steps:
        step = found[name]
        assert step.status.value == "FAIL" and step.message == message, name
        assert [(a.status.value, a.message) for a in step.attempts] == [("FAIL", message)]
    assert "success" not in found
    assert orphans(tmp_path) == []


def rerun(tmp_path: Path, args: list[str], old: str, new: str, held: list[str]) -> None:
    """`--use-cached OLD` reuses `first` and runs the held steps again (now quickly)."""
    (tmp_path / "fast").touch()
    proc = start(tmp_path, [*args, "--run-id", new, "--use-cached", old])
    code, err = finish(proc)
    assert code == 0, err
    log = load_run_log(tmp_path, new, config_of(tmp_path))
    assert log.status.value == "SUCCESS"
    assert log.steps["first"].mock
    steps = {s.internal_name: s for s in log.steps.values()}
    for branch_step in list(steps.values()):
        for branch in branch_step.branches.values():
            steps.update({s.internal_name: s for s in branch.steps.values()})
    for name in held:
        assert steps[name].status.value == "SUCCESS" and not steps[name].mock, name


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize("kind", ["shell", "python"])
def test_signal_stops_a_sequential_run(tmp_path: Path, kind: str, signum: int) -> None:
    args = workdir(tmp_path, sequential_pipeline(kind))
    proc = start(tmp_path, [*args, "--run-id", "old"])
    try:
        markers(tmp_path, ["started-sh" if kind == "shell" else "started-py"], proc)
        proc.send_signal(signum)
        code, err = finish(proc)
        assert code == 128 + signum, err
        assert "Traceback" not in err
        name = signal.Signals(signum).name
        assert f"interrupted ({name})" in err
        assert_interrupted(tmp_path, "old", ["hold"], name)
    finally:
        kill_pids(tmp_path)
    rerun(tmp_path, args, "old", "new", ["hold"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_signal_stops_branches_in_worker_processes(tmp_path: Path, signum: int) -> None:
    args = workdir(tmp_path, parallel_pipeline(), parallel=True)
    proc = start(tmp_path, [*args, "--run-id", "old"])
    held = ["both.sh.hold", "both.py.hold"]
    try:
        markers(tmp_path, ["started-sh", "started-py"], proc)
        proc.send_signal(signum)  # to magnus only: it passes the signal on to its workers
        code, err = finish(proc)
        assert code == 128 + signum, err
        assert "Traceback" not in err
        assert_interrupted(tmp_path, "old", [*held, "both"], signal.Signals(signum).name)
    finally:
        kill_pids(tmp_path)
    rerun(tmp_path, args, "old", "new", held)


@pytest.mark.parametrize("parallel", [False, True], ids=["sequential", "workers"])
def test_ctrl_c_on_a_terminal(tmp_path: Path, parallel: bool) -> None:
    """On a pty Ctrl-C reaches the whole foreground process group (magnus, its workers,
    a python task's children) at once: still one FAIL record per step, no traceback."""
    pipeline = parallel_pipeline() if parallel else sequential_pipeline("shell")
    args = workdir(tmp_path, pipeline, parallel)
    term = Terminal(
        [sys.executable, "-m", "magnus_render.cli", *args, "--run-id", "tty"],
        tmp_path,
        magnus_env(),
    )
    held = ["both.sh.hold", "both.py.hold", "both"] if parallel else ["hold"]
    try:
        markers(tmp_path, ["started-sh", "started-py"] if parallel else ["started-sh"], term.proc)
        term.ctrl_c()
        code = term.wait()
        assert code == 130, term.output
        assert "Traceback" not in term.output
        assert_interrupted(tmp_path, "tty", held, "SIGINT")
    finally:
        kill_pids(tmp_path)


CLEANUP_SLOWLY = """
stop() {
  touch cleaning
  for i in $(seq 600); do [ -f release ] && break; sleep 0.05; done
  exit 1
}
trap stop TERM
echo $$ >> pids
touch started-sh
while true; do sleep 0.05; done
"""


def test_second_ctrl_c_while_cleaning_up(tmp_path: Path) -> None:
    """The task takes its time to stop; a second Ctrl-C meanwhile does not cut magnus's
    clean-up short: the run still ends FAIL, never PROCESSING."""
    pipeline = sequential_pipeline("shell").replace(
        _indent(SHELL_HOLD, 8), _indent(CLEANUP_SLOWLY, 8)
    )
    args = workdir(tmp_path, pipeline)
    proc = start(tmp_path, [*args, "--run-id", "twice"])
    try:
        markers(tmp_path, ["started-sh"], proc)
        proc.send_signal(signal.SIGINT)
        markers(tmp_path, ["cleaning"], proc)  # magnus is now waiting for the task to stop
        proc.send_signal(signal.SIGINT)
        (tmp_path / "release").touch()
        code, err = finish(proc)
        assert code == 130, err
        assert "Traceback" not in err
        assert_interrupted(tmp_path, "twice", ["hold"], "SIGINT")
    finally:
        kill_pids(tmp_path)


def test_signal_outside_a_task_waits_for_the_bookkeeping() -> None:
    """In magnus's own bookkeeping a signal only becomes pending (raised at the next
    checkpoint); inside an interruptible region (a task) it raises at once; a second
    signal is ignored; the guard restores the handlers it replaced."""
    from magnus_render.runtime import interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(interrupt.Interrupted) as raised, interrupt.guard():
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for("the handler", lambda: interrupt.pending() is not None)
        assert interrupt.pending() == signal.SIGTERM  # not raised here
        os.kill(os.getpid(), signal.SIGINT)  # a second one: noted, ignored
        with pytest.raises(interrupt.Interrupted):
            interrupt.checkpoint()
    assert raised.value.exit_code == 143 and raised.value.message == "interrupted (SIGTERM)"
    assert signal.getsignal(signal.SIGTERM) is before
    stopped = pytest.raises(interrupt.Interrupted)
    with stopped as inside, interrupt.guard(), interrupt.interruptible():
        os.kill(os.getpid(), signal.SIGINT)
        wait_for("the handler", lambda: False)  # never reached: the signal raises
    assert inside.value.exit_code == 130


SELF_TERM = """
import os, signal, subprocess, time


def stop_me() -> None:
    child = subprocess.Popen(["sleep", "300"])
    with open("pids", "a") as pids:
        pids.write(f"{child.pid}\\n")
    os.kill(os.getpid(), signal.SIGTERM)  # as if `kill` came now: the handler raises
    time.sleep(300)
"""


def test_in_process_run_stops_only_what_the_task_started(tmp_path: Path) -> None:
    """Through the SDK a run shares its process with the caller: SIGTERM stops the task's
    children but not the caller's own older ones, and raises KeyboardInterrupt."""
    from magnus_render.runtime.interrupt import Interrupted
    from tests.helpers.runlog import execute_in_process
    from tests.helpers.signals import running

    (tmp_path / "self_term.py").write_text(SELF_TERM, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        "dag:\n  start_at: t\n  steps:\n"
        "    t: {type: task, command: self_term.stop_me, next: success}\n"
        "    success: {type: success}\n    fail: {type: fail}\n",
        encoding="utf-8",
    )
    elder = subprocess.Popen(["sleep", "300"])
    # the caller's child must be older than the task by more than the tolerance procs
    # allows for /proc's whole clock ticks (else it counts as the task's own child)
    from magnus_render.runtime import procs

    started = procs.boot_clock()
    wait_for(
        "the clock to pass the start-time tolerance", lambda: procs.boot_clock() > started + 0.1
    )
    try:
        with pytest.raises(KeyboardInterrupt) as raised:
            execute_in_process("p.yaml", tmp_path, run_id="sdk")
        assert isinstance(raised.value, Interrupted) and raised.value.exit_code == 143
        assert orphans(tmp_path) == []
        assert running(elder.pid)
        log = load_run_log(tmp_path, "sdk")
        assert log.status.value == "FAIL" and log.message == "interrupted (SIGTERM)"
        assert log.steps["t"].message == "interrupted (SIGTERM)"
    finally:
        elder.kill()
        elder.wait()
        kill_pids(tmp_path)


def test_interrupted_command_rejects_an_unknown_signal(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "magnus_render.cli", "interrupted", "r", "--signal", "FOO"],
        cwd=tmp_path,
        env=magnus_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and "unknown signal 'FOO'" in proc.stderr
    assert "Traceback" not in proc.stderr
