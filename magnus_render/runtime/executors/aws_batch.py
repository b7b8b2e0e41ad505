"""The ``aws-batch`` executor: traverse here, run each task node as an AWS Batch job.

Each task node becomes one ``SubmitJob`` whose ``containerOverrides.command`` is the
``magnus execute_single_node`` argv (an argv list: nothing is joined into a shell line).
The driver waits on ``DescribeJobs`` with bounded exponential backoff, prints where the
job's CloudWatch log stream is, reads the node's outcome from the run log and routes on it.
Stub, success and fail nodes have no user code: the driver records them itself.

Batch has no secrets field in ``containerOverrides``: jobs read secrets through the
config's secrets backend (e.g. ``aws-secrets-manager``), so only secret *names* travel.

Resuming (as in ``k8s-job``): a driver restarted with the same run id skips finished
nodes and adopts a job of the run that already exists (found by its name) instead of
submitting it again. ``python -m magnus_render.runtime.executors.aws_batch`` is the
driver's entry point. Ctrl-C terminates the jobs this driver started, then re-raises.
"""

from __future__ import annotations

import random
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from magnus_render.errors import MagnusError
from magnus_render.pipeline.ir import Node, resolve_name
from magnus_render.runtime import nodes
from magnus_render.runtime.executors.base import ExecutorSettings, NodeTriggeringExecutor
from magnus_render.runtime.executors.batch_api import (
    is_throttling,
    job_name,
    log_stream,
    make_batch_client,
)
from magnus_render.runtime.executors.k8s_job import K8sJobExecutor
from magnus_render.runtime.executors.remote import record_launch_failure
from magnus_render.stores.models import Status

EXECUTOR_TYPE = "aws-batch"
FINISHED_JOB = ("SUCCEEDED", "FAILED")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class JobSettings(BaseModel):
    """What a step may change through ``overrides`` (and the defaults for every step)."""

    model_config = ConfigDict(extra="forbid")

    job_queue: str = Field(min_length=1)
    job_definition: str = Field(min_length=1)
    environment: dict[str, str] = Field(default_factory=dict)
    vcpus: float | None = Field(default=None, gt=0)
    #: MiB
    memory: int | None = Field(default=None, ge=4)
    gpus: int | None = Field(default=None, ge=0)
    #: Batch retryStrategy.attempts (1-10); magnus's own max_attempts retries in the job
    retry_attempts: int | None = Field(default=None, ge=1, le=10)
    #: Batch timeout.attemptDurationSeconds (Batch's minimum is 60)
    timeout_seconds: int | None = Field(default=None, ge=60)
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> JobSettings:
        for name in self.environment:
            if not _ENV_NAME.match(name) or name.startswith("AWS_BATCH"):
                raise ValueError(f"environment: {name!r} is not a usable variable name")
        return self


class AwsBatchSettings(JobSettings, ExecutorSettings):
    """``executor.config`` when its type is ``aws-batch``."""

    region: str | None = None
    endpoint_url: str | None = None
    #: how many jobs of one parallel or map node run at once
    parallelism: int = Field(default=4, ge=1)
    #: DescribeJobs backoff: first wait, then doubled up to the bound (seconds)
    poll_initial_seconds: float = Field(default=2.0, gt=0)
    poll_max_seconds: float = Field(default=30.0, gt=0)
    #: botocore retry attempts and this driver's own retries of a throttled call
    api_retries: int = Field(default=8, ge=0, le=20)
    #: the job definition mounts the file-system run log store / catalog path
    shared_filesystem: bool = False
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bounds(self) -> AwsBatchSettings:
        if self.poll_max_seconds < self.poll_initial_seconds:
            raise ValueError("poll_max_seconds must not be below poll_initial_seconds")
        return self


class AwsBatchExecutor(K8sJobExecutor):
    """Reuses k8s-job's traversal (resume, bookkeeping nodes, bounded branch threads)."""

    name = EXECUTOR_TYPE
    settings_model = AwsBatchSettings  # type: ignore[assignment]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._started: dict[str, str] = {}  # job id -> name, jobs this driver submitted
        self._started_lock = threading.Lock()
        self._interrupted = threading.Event()
        self._entered = False

    # -- settings and checks -------------------------------------------------------------
    def job_settings(self, node: Node) -> JobSettings:
        """The step's settings with its override applied (validated)."""
        merged = self.step_settings(node)
        fields = JobSettings.model_fields
        return JobSettings.model_validate({k: v for k, v in merged.items() if k in fields})

    def validate(self) -> None:
        for node in self.ctx.pipeline.graph.walk():
            name = node.overrides.get(self.name)
            if name is not None and name not in self.settings.overrides:
                continue  # reported by the base check below
            try:
                if name is not None:
                    unknown = set(self.settings.overrides[name]) - set(JobSettings.model_fields)
                    if unknown:
                        raise ValueError(f"cannot be overridden per step: {sorted(unknown)}")
                self.job_settings(node)
            except (ValueError, ValidationError) as exc:
                text = str(exc)
                if isinstance(exc, ValidationError):
                    err = exc.errors()[0]
                    text = f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                raise self.ctx.config.error(
                    "executor",
                    f"override {name!r} (step {node.internal_name!r}): {text}",
                    "overrides",
                ) from None
        self._check_reachable()
        NodeTriggeringExecutor.validate(self)

    def _check_reachable(self) -> None:
        """Jobs run on other machines: the run log store and the catalog must be remote,
        or on a file system the job definition mounts (``shared_filesystem: true``)."""
        config = self.ctx.config
        for section, kind in (
            ("run_log_store", config.run_log_store.type),
            ("catalog", config.catalog.type),
        ):
            if kind in ("s3", "do-nothing"):
                continue
            if kind == "buffered":
                raise config.error(
                    section,
                    "the 'buffered' run log store lives in the driver's memory; AWS Batch jobs"
                    " cannot write it: use 's3'",
                )
            if kind in ("file-system", "chunked-fs") and self.settings.shared_filesystem:
                continue
            # an absent section (the default store) is reported at the executor's line
            where = section if config.line_of(section) is not None else "executor"
            what = f"the {kind!r} {section.replace('_', ' ')}"
            if where == "executor":
                what += f" (the default when no {section} is configured)"
            raise config.error(
                where,
                f"{what} is on this machine, which AWS Batch jobs cannot reach: use 's3', or"
                " set executor.config.shared_filesystem: true if the job definition mounts"
                " the same path",
            )

    # -- AWS calls -----------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                s = self.settings
                self._client = make_batch_client(s.endpoint_url, s.region, s.api_retries)
            return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One API call; throttling that outlasts botocore's retries is retried here."""
        delay = self.settings.poll_initial_seconds
        for attempt in range(self.settings.api_retries + 1):
            try:
                return getattr(self.client, operation)(**kwargs)
            except Exception as exc:  # botocore ClientError, connection errors
                if not is_throttling(exc) or attempt == self.settings.api_retries:
                    raise MagnusError(f"AWS Batch {operation} failed: {exc}") from None
            self._pause(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self.settings.poll_max_seconds)
        raise AssertionError("unreachable")

    def _pause(self, seconds: float) -> None:
        """Sleep, but wake (and stop) at once when the driver is interrupted."""
        if self._interrupted.wait(seconds):
            raise KeyboardInterrupt

    # -- one node, one job ---------------------------------------------------------------
    def submit_request(
        self, node: Node, map_variable: Mapping[str, Any], argv: list[str]
    ) -> dict[str, Any]:
        """The SubmitJob parameters for one node (checked against botocore's model)."""
        s = self.job_settings(node)
        resolved = resolve_name(node.internal_name, map_variable)
        overrides: dict[str, Any] = {"command": list(argv)}
        if s.environment:
            overrides["environment"] = [
                {"name": k, "value": v} for k, v in sorted(s.environment.items())
            ]
        resources = [
            {"type": kind, "value": value}
            for kind, value in (
                ("VCPU", None if s.vcpus is None else f"{s.vcpus:g}"),
                ("MEMORY", None if s.memory is None else str(s.memory)),
                ("GPU", None if s.gpus is None else str(s.gpus)),
            )
            if value is not None
        ]
        if resources:
            overrides["resourceRequirements"] = resources
        request: dict[str, Any] = {
            "jobName": job_name(self.ctx.run_id, resolved),
            "jobQueue": s.job_queue,
            "jobDefinition": s.job_definition,
            "containerOverrides": overrides,
            "tags": {
                **s.tags,
                "magnus-render/run-id": self.ctx.run_id[:256],
                "magnus-render/step": resolved[:256],
            },
            "propagateTags": False,
        }
        if s.retry_attempts is not None:
            request["retryStrategy"] = {"attempts": s.retry_attempts}
        if s.timeout_seconds is not None:
            request["timeout"] = {"attemptDurationSeconds": s.timeout_seconds}
        return request

    def _submit(self, request: dict[str, Any]) -> str:
        try:
            return str(self._call("submit_job", **request)["jobId"])
        except MagnusError as exc:
            raise MagnusError(
                f"{exc} (job {request['jobName']}, queue {request['jobQueue']!r}, "
                f"job definition {request['jobDefinition']!r})"
            ) from None

    def _existing_job(self, queue: str, name: str) -> dict[str, Any] | None:
        """A job of this run with this name, submitted before a driver restart."""
        token: str | None = None
        found: list[dict[str, Any]] = []
        while True:
            kwargs: dict[str, Any] = {
                "jobQueue": queue,
                "filters": [{"name": "JOB_NAME", "values": [name]}],
            }
            if token:
                kwargs["nextToken"] = token
            page = self._call("list_jobs", **kwargs)
            found += [j for j in page.get("jobSummaryList", []) if j.get("jobName") == name]
            token = page.get("nextToken")
            if not token:
                break
        if not found:
            return None
        return max(found, key=lambda j: j.get("createdAt", 0))

    def trigger_node(self, node: Node, map_variable: Mapping[str, Any], argv: list[str]) -> int:
        request = self.submit_request(node, map_variable, argv)
        name = request["jobName"]
        resolved = request["tags"]["magnus-render/step"]
        with self._slots:
            if self._interrupted.is_set():
                raise KeyboardInterrupt
            existing = self._existing_job(request["jobQueue"], name)
            if existing is not None:
                job_id = existing["jobId"]
                print(f"[{resolved}] adopting Batch job {name} ({job_id})", file=sys.stderr)
            else:
                job_id = self._submit(request)
                print(f"[{resolved}] submitted Batch job {name} ({job_id})", file=sys.stderr)
            with self._started_lock:
                self._started[job_id] = name
            job = self.wait(job_id, resolved)
            with self._started_lock:
                self._started.pop(job_id, None)
        if job["status"] == "SUCCEEDED":
            return 0
        reason = job.get("statusReason") or "failed"
        code = job.get("container", {}).get("exitCode")
        record_launch_failure(
            self.ctx, node, resolved, f"Batch job {name}: {reason} (exit code {code})"
        )
        return int(code) if code else 1

    def wait(self, job_id: str, label: str) -> dict[str, Any]:
        """Poll DescribeJobs until the job finished, doubling the pause up to a bound."""
        delay = self.settings.poll_initial_seconds
        shown: set[str] = set()
        while True:
            jobs = self._call("describe_jobs", jobs=[job_id]).get("jobs", [])
            if not jobs:
                raise MagnusError(f"Batch job {job_id} ({label}) disappeared")
            job = jobs[0]
            stream = log_stream(job)
            if stream and stream not in shown:
                shown.add(stream)
                print(f"[{label}] logs: CloudWatch /aws/batch/job {stream}", file=sys.stderr)
            if job["status"] in FINISHED_JOB:
                return job
            self._pause(delay)
            delay = min(delay * 2, self.settings.poll_max_seconds)

    def terminate_started(self, reason: str) -> list[str]:
        """TerminateJob for every job this driver is still waiting on."""
        with self._started_lock:
            started = dict(self._started)
        for job_id in started:
            try:
                self._call("terminate_job", jobId=job_id, reason=reason)
            except Exception as exc:  # keep terminating the others
                print(f"could not terminate Batch job {job_id}: {exc}", file=sys.stderr)
        return sorted(started)

    def interrupt(self) -> None:
        """Ctrl-C: stop waiting everywhere and terminate the jobs this driver started."""
        if self._interrupted.is_set():
            return
        self._interrupted.set()
        ids = self.terminate_started("magnus driver interrupted (Ctrl-C)")
        print(f"interrupted: terminated {len(ids)} Batch job(s)", file=sys.stderr)

    def execute_graph(self, graph: Any, map_variable: Mapping[str, Any] | None = None) -> Status:
        if self._entered or threading.current_thread() is not threading.main_thread():
            return super().execute_graph(graph, map_variable)
        self._entered = True
        try:
            return super().execute_graph(graph, map_variable)
        except KeyboardInterrupt:
            self.interrupt()
            raise
        finally:
            self._entered = False

    def run_branches(self, branches: Sequence[nodes.Branch]) -> None:
        """Branches in threads, at most ``parallelism`` at once; on Ctrl-C the jobs are
        terminated *before* waiting for the branch threads (which then stop polling)."""
        if len(branches) < 2:
            super().run_branches(branches)
            return
        workers = min(len(branches), self.settings.parallelism)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="branch")
        try:
            futures = [pool.submit(self.execute_graph, b.graph, b.map_variable) for b in branches]
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            self.interrupt()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)


if __name__ == "__main__":  # only as a script: the driver lives above the executors
    from magnus_render.runtime.driver import aws_batch_main

    sys.exit(aws_batch_main())
