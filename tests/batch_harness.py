"""Test-only: a moto server on 127.0.0.1 whose AWS Batch jobs run as local subprocesses.

moto 5.2.5 runs a submitted job in ``moto.batch.models.Job.run`` (a thread) with docker,
which is not available here. :func:`batch_server` replaces that method for the duration:
the job's ``containerOverrides.command`` (``magnus execute_single_node ...``) runs as
``python -m magnus_render.cli execute_single_node ...`` in the test's working directory,
with the job's environment overrides added, and the job becomes SUCCEEDED or FAILED from
the exit code. Output goes to the job's CloudWatch log stream, as Batch does.
TerminateJob kills the process. Every job run is recorded in :attr:`BatchServer.runs`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.runlog import magnus_env, normalize, run_magnus
from tests.sfn_harness import FAKE_ENV

QUEUE = "magnus-queue"
JOB_DEFINITION = "magnus-node"
BUCKET = "magnus-batch"
ROLE_ARN = "arn:aws:iam::123456789012:role/magnus-batch"
#: a job environment variable that makes the harness fail the job before it starts
LAUNCH_FAILURE = "HARNESS_LAUNCH_FAILURE"


@dataclass
class BatchServer:
    endpoint: str
    workdir: Path
    env: dict[str, str]
    runs: list[dict[str, Any]] = field(default_factory=list)
    running: int = 0
    max_running: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: set to hold every job before it starts its process (for interruption tests)
    hold: threading.Event = field(default_factory=threading.Event)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name="us-east-1"
        )


_ACTIVE: BatchServer | None = None


def _run_job(job: Any) -> None:
    """Replacement for moto's Job.run: the container command as a local process."""
    from moto.batch.models import JobStatus

    server = _ACTIVE
    try:
        job.advance()
        while job.status == JobStatus.SUBMITTED:
            time.sleep(0.02)
        for _ in range(3):  # PENDING -> RUNNABLE -> STARTING -> RUNNING
            job.advance()
        job.job_started_at = datetime.now()
        job._start_attempt()
        if server is None:
            raise RuntimeError("no batch_harness server is active")
        command = list(job.container_overrides.get("command") or [])
        while server.hold.is_set() and not job.stop:
            time.sleep(0.05)
        if job.stop or not command:
            job.exit_code = 137 if job.stop else 1
            job._mark_stopped(success=False)
            return
        overrides = {
            e["name"]: e["value"] for e in job.container_overrides.get("environment") or []
        }
        if LAUNCH_FAILURE in overrides:  # the container never starts (e.g. a bad image)
            job.exit_code = int(overrides[LAUNCH_FAILURE])
            job.job_stopped_reason = "CannotPullContainerError: harness"
            job._mark_stopped(success=False)
            with server.lock:
                server.runs.append({"name": job.job_name, "code": job.exit_code, "launch": True})
            return
        if command[0] == "magnus":
            command = [sys.executable, "-m", "magnus_render.cli", *command[1:]]
        env = dict(server.env)
        for item in job.container_overrides.get("environment") or []:
            env[item["name"]] = item["value"]
        env["AWS_BATCH_JOB_ID"] = job.job_id
        with server.lock:
            server.running += 1
            server.max_running = max(server.max_running, server.running)
        proc = subprocess.Popen(
            command,
            cwd=server.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while proc.poll() is None:
            if job.stop:
                proc.kill()
            time.sleep(0.05)
        output = proc.stdout.read() if proc.stdout else ""
        with server.lock:
            server.running -= 1
            server.runs.append(
                {
                    "name": job.job_name,
                    "command": command,
                    "environment": job.container_overrides.get("environment") or [],
                    "code": proc.returncode,
                    "terminated": bool(job.stop),
                }
            )
        job.exit_code = proc.returncode
        job.log_stream_name = job._stream_name
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in output.splitlines() if line]
        job._log_backend.ensure_log_group(job._log_group)
        job._log_backend.ensure_log_stream(job._log_group, job.log_stream_name)
        if events:
            job._log_backend.put_log_events(job._log_group, job.log_stream_name, events)
        job._mark_stopped(success=proc.returncode == 0 and not job.stop)
    except Exception as exc:  # pragma: no cover - surfaces as a FAILED job
        job.job_stopped_reason = f"harness: {exc}"
        job._mark_stopped(success=False)


def _create(call: Any, **kwargs: Any) -> Any:
    """Create a resource unless it exists: moto's state is per process, and a worker
    process may start this server again (another test module) with the old state."""
    try:
        return call(**kwargs)
    except Exception as exc:
        response = getattr(exc, "response", {}) or {}
        text = f"{response.get('Error', {}).get('Code', '')} {exc}"
        if "lready" not in text:  # EntityAlreadyExists, BucketAlreadyOwnedByYou, "already exists"
            raise
        return None


def _create_batch(server: BatchServer) -> None:
    iam = server.client("iam")
    _create(iam.create_role, RoleName="magnus-batch", AssumeRolePolicyDocument="{}")
    batch = server.client("batch")
    _create(
        batch.create_compute_environment,
        computeEnvironmentName="magnus-ce",
        type="UNMANAGED",
        serviceRole=ROLE_ARN,
    )
    env_arn = batch.describe_compute_environments(computeEnvironments=["magnus-ce"])[
        "computeEnvironments"
    ][0]["computeEnvironmentArn"]
    _create(
        batch.create_job_queue,
        jobQueueName=QUEUE,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}],
    )
    batch.register_job_definition(
        jobDefinitionName=JOB_DEFINITION,
        type="container",
        containerProperties={
            "image": "local/magnus:test",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "512"},
            ],
        },
    )
    _create(server.client("s3").create_bucket, Bucket=BUCKET)


@contextlib.contextmanager
def batch_server(workdir: Path) -> Iterator[BatchServer]:
    """A ThreadedMotoServer on 127.0.0.1 with a queue, a job definition and a bucket."""
    global _ACTIVE
    from moto.batch import models
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = magnus_env({**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint})
    server = BatchServer(endpoint=endpoint, workdir=workdir, env=env)
    original = models.Job.run
    models.Job.run = _run_job  # type: ignore[method-assign]
    _ACTIVE = server
    try:
        _create_batch(server)
        yield server
    finally:
        server.hold.clear()
        _ACTIVE = None
        models.Job.run = original  # type: ignore[method-assign]
        moto.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_config(server: BatchServer, name: str = "batch-config.yaml", **settings: Any) -> Path:
    executor = {
        "job_queue": QUEUE,
        "job_definition": JOB_DEFINITION,
        "endpoint_url": server.endpoint,
        "region": "us-east-1",
        "parallelism": 2,
        "poll_initial_seconds": 0.05,
        "poll_max_seconds": 0.4,
        **settings,
    }
    s3 = {"bucket": BUCKET, "endpoint_url": server.endpoint, "region": "us-east-1"}
    config = {
        "executor": {"type": "aws-batch", "config": executor},
        "run_log_store": {"type": "s3", "config": {**s3, "prefix": "run-logs"}},
        "catalog": {"type": "s3", "config": {**s3, "prefix": "catalog"}},
    }
    path = server.workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def local_run(workdir: Path, pipeline: str) -> tuple[int, dict[str, Any]]:
    from tests.helpers.runlog import load_run_log

    proc = run_magnus(["execute", pipeline, "--run-id", "local-run"], workdir)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, normalize(load_run_log(workdir, "local-run"))


class Driver:
    """The driver in this process, in the work directory; its executor stays inspectable."""

    def __init__(self, server: BatchServer, pipeline: str, config: Path, run_id: str) -> None:
        self.server, self.pipeline, self.config, self.run_id = server, pipeline, config, run_id
        self.requests: list[dict[str, Any]] = []
        self.executor: Any = None

    def run(self, hook: Any = None) -> int:
        from magnus_render.runtime.driver import drive
        from magnus_render.runtime.executors import aws_batch

        original = aws_batch.AwsBatchExecutor.submit_request
        driver = self

        def recording(executor: Any, *args: Any) -> dict[str, Any]:
            driver.executor = executor
            if hook is not None and not getattr(executor, "_hooked", False):
                executor._hooked = True
                hook(executor)
            request = original(executor, *args)
            driver.requests.append(request)
            return request

        cwd = os.getcwd()
        os.chdir(self.server.workdir)
        aws_batch.AwsBatchExecutor.submit_request = recording  # type: ignore[method-assign]
        try:
            return drive(self.pipeline, str(self.config), None, self.run_id)
        finally:
            aws_batch.AwsBatchExecutor.submit_request = original  # type: ignore[method-assign]
            os.chdir(cwd)

    def run_log(self) -> dict[str, Any]:
        from tests.helpers.runlog import load_run_log

        return normalize(load_run_log(self.server.workdir, self.run_id, self.config))
