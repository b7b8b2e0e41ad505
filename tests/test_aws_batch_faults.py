"""The aws-batch executor when things go wrong: throttling, a job that never starts, a
driver killed mid-run and restarted, Ctrl-C, and configurations jobs could not work with."""

from __future__ import annotations

import itertools
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.batch_harness import (
    LAUNCH_FAILURE,
    BatchServer,
    Driver,
    batch_server,
    local_run,
    write_config,
)
from tests.helpers.deps import require
from tests.helpers.runlog import magnus_env, prepare_workdir, run_magnus

require("moto")

TINY = """
dag:
  start_at: one
  steps:
    one:
      type: task
      command: samples.functions.initialize
      next: two
    two:
      type: task
      command_type: shell
      command: "while [ ! -f go ]; do sleep 0.1; done"
      overrides: {aws-batch: slow}
      next: three
    three:
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
"""
DRIVER = [sys.executable, "-m", "magnus_render.runtime.executors.aws_batch"]


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchServer]:
    with batch_server(tmp_path_factory.mktemp("batch")) as server:
        yield server


@pytest.fixture
def batch(shared_server: BatchServer, tmp_path: Path) -> Iterator[BatchServer]:
    shared_server.workdir = workdir = prepare_workdir(tmp_path / "work")
    shared_server.runs.clear()
    shared_server.max_running = 0
    (workdir / "tiny.yaml").write_text(TINY)
    (workdir / "go").touch()
    yield shared_server
    # a test that failed while a job was held (no ``go``) must not leave the job's
    # process waiting for ever: released, it finishes on its own
    (workdir / "go").touch()


def _slow_override(**extra: Any) -> dict[str, Any]:
    return {"overrides": {"slow": {"memory": 1024, **extra}}}


class Throttle:
    """A botocore before-send hook: the first ``count`` Batch calls get a 400
    ThrottlingException (as the real service sends), then calls pass."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.seen: list[str] = []

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if self.left <= 0:
            return None
        self.left -= 1
        self.seen.append(request.url.rsplit("/", 1)[-1])
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'

        class Raw:
            def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
                yield body

        headers = {"x-amzn-ErrorType": "ThrottlingException", "content-type": "application/json"}
        return AWSResponse(request.url, 400, headers, Raw())


def test_throttling_is_retried(batch: BatchServer) -> None:
    code, local = local_run(batch.workdir, "tiny.yaml")
    # api_retries 1: botocore tries twice, so 3 throttles also exercise the driver's backoff
    config = write_config(batch, api_retries=1, **_slow_override())
    throttle = Throttle(3)
    driver = Driver(batch, "tiny.yaml", config, "throttled")
    code_batch = driver.run(
        hook=lambda ex: ex.client.meta.events.register("before-send.batch", throttle)
    )
    assert throttle.left == 0 and len(throttle.seen) == 3, throttle.seen
    assert (code_batch, driver.run_log()) == (code, local)
    assert [r["name"] for r in batch.runs] == ["throttled-one", "throttled-two"]


def test_throttling_beyond_the_retries_is_a_clear_error(batch: BatchServer) -> None:
    config = write_config(batch, api_retries=0, **_slow_override())
    throttle = Throttle(100)
    driver = Driver(batch, "tiny.yaml", config, "throttled-out")
    from magnus_render.errors import MagnusError

    with pytest.raises(MagnusError, match=r"AWS Batch list_jobs failed: .*ThrottlingException"):
        driver.run(hook=lambda ex: ex.client.meta.events.register("before-send.batch", throttle))
    assert not batch.runs


def test_polling_backs_off_to_its_bound(batch: BatchServer) -> None:
    """While a job runs, DescribeJobs pauses double from 0.05 s up to 0.4 s: no tight loop."""
    (batch.workdir / "go").unlink()
    config = write_config(batch, **_slow_override())
    calls: list[tuple[float, bytes]] = []
    go = batch.workdir / "go"

    def record(request: Any, **_: Any) -> None:
        calls.append((time.monotonic(), bytes(request.body or b"")))
        if len(calls) >= 12 and not go.exists():  # held for a count of polls, not a time
            go.touch()

    timer = threading.Timer(120.0, go.touch)  # only if polling never happens at all
    timer.start()
    try:
        driver = Driver(batch, "tiny.yaml", config, "polled")
        code = driver.run(
            hook=lambda ex: ex.client.meta.events.register("before-send.batch.DescribeJobs", record)
        )
    finally:
        timer.cancel()
    assert code == 0
    # the job held for 12 polls is the one polled most; later jobs start their own backoff
    held = Counter(body for _, body in calls if b'"jobs"' in body).most_common(1)[0][0]
    job_two = [t for t, body in calls if body == held]
    gaps = [b - a for a, b in itertools.pairwise(job_two)]
    assert len(calls) < 60, len(calls)  # ~4 s of job two at most every 0.4 s, plus job one
    # the pause doubled up to its 0.4 s bound and stayed there while the job ran (a resent
    # request after a connection hiccup may add a short gap; a tight loop adds many)
    assert sum(g >= 0.35 for g in gaps) >= 3, gaps
    assert sum(g < 0.04 for g in gaps) <= 2, gaps


def test_unknown_queue_is_a_clear_error(batch: BatchServer) -> None:
    config = write_config(batch, job_queue="no-such-queue", **_slow_override())
    proc = _start_driver(batch, config, "no-queue")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert "no-such-queue" in out and "Traceback" not in out
    assert not batch.runs


def test_job_that_never_starts_fails_the_step_and_routes(batch: BatchServer) -> None:
    env = {LAUNCH_FAILURE: "3"}
    config = write_config(batch, **_slow_override(environment=env))
    driver = Driver(batch, "tiny.yaml", config, "no-start")
    assert driver.run() == 1
    log = driver.run_log()
    assert log["status"] == "FAIL"
    assert log["steps"]["one"]["status"] == "SUCCESS"
    assert log["steps"]["two"]["status"] == "FAIL"
    assert "three" not in log["steps"] and log["steps"]["fail"]["status"] == "SUCCESS"
    from tests.helpers.runlog import load_run_log

    raw = load_run_log(batch.workdir, "no-start", config)
    message = raw.steps["two"].message
    assert "no-start-two" in message and "CannotPullContainerError" in message
    # the step's environment override reached the job (only there)
    assert driver.requests[1]["containerOverrides"]["environment"] == [
        {"name": LAUNCH_FAILURE, "value": "3"}
    ]
    assert "environment" not in driver.requests[0]["containerOverrides"]
    assert driver.requests[1]["containerOverrides"]["resourceRequirements"] == [
        {"type": "MEMORY", "value": "1024"}
    ]


def _start_driver(batch: BatchServer, config: Path, run_id: str) -> subprocess.Popen[str]:
    argv = [*DRIVER, "--file", "tiny.yaml", "--config-file", str(config), "--run-id", run_id]
    return subprocess.Popen(
        argv,
        cwd=batch.workdir,
        env=magnus_env(batch.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_two_runs(batch: BatchServer, proc: subprocess.Popen[str]) -> None:
    """Until step one's job finished and step two's job is running (held: no ``go``)."""
    deadline = time.monotonic() + 120
    while not (batch.running == 1 and [r["name"] for r in batch.runs] == [proc.args[-1] + "-one"]):
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "step two's job never started"
        time.sleep(0.1)


def _read_until(proc: subprocess.Popen[str], text: str, timeout: float = 120) -> list[str]:
    """The process's output lines up to the first containing ``text`` (fails on timeout)."""
    found: queue.Queue[str] = queue.Queue()
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                found.put(line)
                return
        found.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.get(timeout=timeout), "".join(lines)
    except queue.Empty:
        proc.kill()
        raise AssertionError(f"no {text!r} within {timeout} s:\n{''.join(lines)}") from None
    return lines


def test_restarted_driver_resumes_without_rerunning(batch: BatchServer) -> None:
    code, local = local_run(batch.workdir, "tiny.yaml")
    (batch.workdir / "go").unlink()
    config = write_config(batch, **_slow_override())
    first = _start_driver(batch, config, "resumed")
    _wait_until_two_runs(batch, first)
    first.kill()  # the driver dies; its job for step two keeps running
    first.wait(timeout=30)
    second = _start_driver(batch, config, "resumed")
    lines = _read_until(second, "adopting Batch job resumed-two")
    (batch.workdir / "go").touch()  # only now may step two's job finish
    rest, _ = second.communicate(timeout=180)
    out = "".join(lines) + rest
    assert second.returncode == code, out
    assert "resuming" in out and "adopting Batch job resumed-two" in out
    names = [r["name"] for r in batch.runs]
    assert names == ["resumed-one", "resumed-two"]  # nothing ran twice
    assert Driver(batch, "tiny.yaml", config, "resumed").run_log() == local


def test_ctrl_c_terminates_started_jobs(batch: BatchServer) -> None:
    (batch.workdir / "go").unlink()
    config = write_config(batch, **_slow_override())
    proc = _start_driver(batch, config, "interrupted")
    _wait_until_two_runs(batch, proc)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # failing: not left running behind the suite
            proc.kill()
    assert proc.returncode == 130, out
    assert "terminated 1 Batch job" in out and "Traceback" not in out
    deadline = time.monotonic() + 30
    while len(batch.runs) < 2:
        assert time.monotonic() < deadline, "the job was not terminated"
        time.sleep(0.1)
    assert batch.runs[1]["name"] == "interrupted-two" and batch.runs[1]["terminated"]


# -- configurations the jobs could not work with: exit 2, file:line, no traceback --------
def _config_error(tmp_path: Path, text: str) -> str:
    workdir = prepare_workdir(tmp_path / "work")
    (workdir / "tiny.yaml").write_text(TINY)
    (workdir / "cfg.yaml").write_text(text)
    proc = run_magnus(["execute", "tiny.yaml", "--config-file", "cfg.yaml"], workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


BASE = "executor:\n  type: aws-batch\n  config:\n    job_queue: q\n    job_definition: d\n"
FS = BASE + "    shared_filesystem: true\n"
SLOW = "    overrides:\n      slow: {memory: 1024}\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (BASE + SLOW + "run_log_store:\n  type: buffered\n", 8, "buffered"),
        (BASE + SLOW + "run_log_store:\n  type: file-system\n", 8, "shared_filesystem"),
        (BASE + "    vcpu: 2\n" + SLOW, 6, "vcpu: unknown setting"),
        (FS + "    overrides:\n      slow: {memory: 1}\n", 8, "overrides.slow.memory:"),
        (FS + "    overrides:\n      slow: {parallelism: 3}\n", 8, "slow.parallelism: cannot"),
        (FS + "    overrides:\n      other: {}\n", None, "'slow'"),
        (BASE + SLOW, 1, "the default when no run_log_store"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    err = _config_error(tmp_path, text)
    assert words in err
    if line is not None:
        assert f"cfg.yaml:{line}" in err


def test_shared_filesystem_allows_a_mounted_store(tmp_path: Path) -> None:
    from magnus_render.config import load_config
    from magnus_render.runtime.driver import drive
    from magnus_render.runtime.executors.aws_batch import AwsBatchExecutor

    assert drive is not None
    text = BASE + "    shared_filesystem: true\n" + SLOW
    text += "run_log_store:\n  type: chunked-fs\ncatalog:\n  type: file-system\n"
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    (tmp_path / "tiny.yaml").write_text(TINY)
    config = load_config(path)
    assert config.executor.type == "aws-batch"
    from magnus_render.runtime.entrypoints import _context

    ctx = _context(tmp_path / "tiny.yaml", path, None, "fs-run")
    AwsBatchExecutor(ctx).validate()  # no error


def test_job_names_are_legal_unique_and_stable() -> None:
    import re

    from magnus_render.runtime.executors.aws_batch import job_name

    legal = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
    names = [
        job_name("run-1", "hello"),
        job_name("run-1", "par.branch_a.step"),
        job_name("run-1", "par-branch_a-step"),
        job_name("run-1", 'each.{"i": 1}.train'),
        job_name("run-1", 'each.{"i": 2}.train'),
        job_name("run-1", "x" * 300),
        job_name("run-1", "x" * 301),
        job_name("_r", "s"),
    ]
    assert all(legal.match(n) for n in names), names
    assert len(set(names)) == len(names)
    assert names[0] == "run-1-hello"  # unchanged names stay readable, without a hash
    assert job_name("run-1", "par.branch_a.step") == names[1]  # stable
    assert names[1].startswith("run-1-par-branch_a-step-")
    assert yaml.safe_dump(names)  # plain strings
