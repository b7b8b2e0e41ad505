"""kill -9 at random points of a run, then `--use-cached`: the killed run's log stays
readable, and the re-run finishes with the same parameters as an uninterrupted run,
reusing what had succeeded. Seeds are fixed so a failure reproduces; CI runs a few, the
rest run with --runslow."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.runlog import load_run_log, magnus_env

STEPS = 12
TASKS = """
from pathlib import Path


def step(x: int) -> dict:
    with open("ran.txt", "a") as log:
        log.write(f"step {x}\\n")
    return {"x": x + 1}


def work(item: int, x: int) -> None:
    with open("ran.txt", "a") as log:
        log.write(f"item {item}\\n")
"""


def pipeline() -> str:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(STEPS):
        nxt = f"s{i + 1}" if i + 1 < STEPS else "each"
        lines.append(f"    s{i}: {{type: task, command: k_tasks.step, next: {nxt}}}")
    lines += [
        "    each:",
        "      type: map",
        "      iterate_on: items",
        "      iterate_as: item",
        "      next: last",
        "      branch:",
        "        start_at: w",
        "        steps:",
        "          w: {type: task, command: k_tasks.work, next: success}",
        "          success: {type: success}",
        "          fail: {type: fail}",
        "    last: {type: task, command: k_tasks.step, next: success}",
        "    success: {type: success}",
        "    fail: {type: fail}",
    ]
    return "\n".join(lines) + "\n"


#: run `magnus` with a hook that dies like kill -9 (os._exit, no cleanup) at one point
CRASHING_MAGNUS = """
import os, sys
from magnus_render.runtime import nodes
point, step = os.environ["CRASH_AT"].split(":")
if point == "after-parameters":
    original = nodes.parameters.write
    def write(store, run_id, resolved, outputs, *a, **k):
        original(store, run_id, resolved, outputs, *a, **k)
        if resolved == step:
            os._exit(137)
    nodes.parameters.write = write
else:
    import magnus_render.stores.run_log_chunked
    import magnus_render.stores.run_log_fs
    from magnus_render.stores.run_log_base import RunLogStore
    for cls in [RunLogStore, *RunLogStore.__subclasses__()]:
        if "put_step_log" in vars(cls):
            def wrap(original):
                def put(self, run_id, step_log, *a, **k):
                    original(self, run_id, step_log, *a, **k)
                    if step_log.internal_name == step and step_log.status.value == "SUCCESS":
                        os._exit(137)
                return put
            cls.put_step_log = wrap(vars(cls)["put_step_log"])
from magnus_render.cli import magnus_main
sys.argv[0] = "magnus"
magnus_main()
"""

STORES = {"file-system": "", "chunked-fs": "run_log_store:\n  type: chunked-fs\n"}


def setup(work: Path, store: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "k_tasks.py").write_text(TASKS)
    (work / "p.yaml").write_text(pipeline())
    (work / "params.yaml").write_text("x: 0\nitems: [1, 2, 3, 4]\n")
    (work / "config.yaml").write_text(STORES[store] or "executor: {type: local}\n")


def execute(work: Path, run_id: str, *extra: str, crash_at: str = "") -> subprocess.Popen[bytes]:
    entry = ["-c", CRASHING_MAGNUS] if crash_at else ["-m", "magnus_render.cli"]
    cmd = [sys.executable, *entry, "execute", "p.yaml", "-c", "config.yaml"]
    cmd += ["-p", "params.yaml", "--run-id", run_id, *extra]
    env = magnus_env({"PYTHONPATH": f"{work}{os.pathsep}{magnus_env()['PYTHONPATH']}"})
    env["CRASH_AT"] = crash_at
    return subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def run_log_exists(work: Path, run_id: str) -> bool:
    folder = work / ".run_log_store"
    return folder.is_dir() and any(p.name.startswith(run_id) for p in folder.iterdir())


def kill_then_rerun(work: Path, seed: int, store: str) -> None:
    setup(work, store)
    rng = random.Random(seed)
    # `with`: the stderr pipe is closed and the process reaped whatever happens
    with execute(work, "killed") as proc:
        try:
            deadline = time.monotonic() + 60
            while not run_log_exists(work, "killed"):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the run log never appeared"
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 2.5))  # somewhere in the run (it takes ~2-4 s here)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    check_rerun(work)


def check_rerun(work: Path) -> None:
    """Re-run the killed run with --use-cached; it must finish as an uninterrupted run.

    No kill point is excused: the runtime writes a step's SUCCESS log (with its outputs)
    before the parameters, so a kill between the two leaves nothing to repair
    (``after-parameters:s5`` below proves that window deterministically)."""
    killed = load_run_log(work, "killed", work / "config.yaml")  # readable after kill -9
    done = {name for name, s in killed.steps.items() if s.status.value == "SUCCESS"}
    rerun = execute(work, "again", "--use-cached", "killed")
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()
    log = load_run_log(work, "again", work / "config.yaml")
    assert log.status.value == "SUCCESS"
    assert log.parameters["x"] == STEPS + 1
    for name in done:
        if killed.steps[name].step_type == "task":
            assert log.steps[name].mock, f"{name} succeeded before the kill but ran again"
    ran = (work / "ran.txt").read_text().split("\n")
    # every linear step ran at least once in all, and those reused ran exactly once
    for i in range(STEPS):
        assert f"step {i}" in ran
    reused = [n for n in done if n.startswith("s") and n[1:].isdigit()]
    for name in reused:
        assert ran.count(f"step {int(name[1:])}") == 1, name


@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize(
    "crash_at",
    [
        "after-step-log:s5",
        "after-step-log:last",
        # fixed in the runtime: the SUCCESS step log (with its outputs) is written first
        "after-parameters:s5",
    ],
)
def test_crash_at_exact_points_then_use_cached(store: str, crash_at: str, tmp_path: Path) -> None:
    """Dying (as kill -9 does) right after a given write, then re-running: deterministic."""
    setup(tmp_path, store)
    proc = execute(tmp_path, "killed", crash_at=crash_at)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 137, err.decode()
    check_rerun(tmp_path)


@pytest.mark.parametrize(("store", "seed"), [("file-system", 1), ("chunked-fs", 2)])
def test_kill_9_then_use_cached(store: str, seed: int, tmp_path: Path) -> None:
    kill_then_rerun(tmp_path, seed, store)


@pytest.mark.slow
@pytest.mark.parametrize("store", sorted(STORES))
@pytest.mark.parametrize("seed", range(10, 18))
def test_kill_9_then_use_cached_many(store: str, seed: int, tmp_path: Path) -> None:
    kill_then_rerun(tmp_path, seed, store)
