"""The k8s-job executor's calls to the Kubernetes API: create, wait (watch), logs, retries.

Kept apart from the executor so traversal logic never touches HTTP details. The
``kubernetes`` package is imported here only, when the first Job is launched, so nothing
else in magnus pays for it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from magnus_render.errors import RunError

T = TypeVar("T")

#: API statuses worth retrying (throttled, server-side trouble); others are final
RETRIABLE = frozenset({429, 500, 502, 503, 504})
#: seconds a watch stays open before it is re-established (server-side timeout)
WATCH_SECONDS = 60


@dataclass(frozen=True)
class JobOutcome:
    """How a Job ended: its exit code (0 complete, 1 failed) and why, if it failed."""

    code: int
    reason: str = ""
    vanished: bool = False


class KubeJobs:
    """Jobs in one namespace through the official client, retrying transient errors."""

    def __init__(self, namespace: str, retries: int, pool_size: int, out: Any = None) -> None:
        from kubernetes import client, config

        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            try:
                config.load_kube_config(client_configuration=configuration)
            except (config.ConfigException, OSError) as exc:
                raise RunError(
                    "k8s-job executor: no Kubernetes credentials (not in a pod, and no "
                    f"usable kubeconfig): {exc}"
                ) from None
        configuration.connection_pool_maxsize = max(4, pool_size)
        api_client = client.ApiClient(configuration)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.retries = retries
        self.out = out or sys.stdout
        self._out_lock = threading.Lock()

    # -- retries -----------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args)`` with exponential backoff on transient errors; RunError at the end.

        ApiException with a final status (404, 409, 422, ...) is raised as it is: callers
        decide what those mean.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                return fn(*args, **kwargs)
            except ApiException as exc:
                if exc.status not in RETRIABLE:
                    raise
                problem = f"HTTP {exc.status} {exc.reason}"
            except (HTTPError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt == self.retries:
                raise RunError(
                    f"Kubernetes API: {what} failed after {attempt + 1} tries: {problem}"
                )
            self.say(f"[k8s-job] {what}: {problem}; retrying in {delay:.1f}s")
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")

    def say(self, text: str) -> None:
        with self._out_lock:
            self.out.write(text + "\n")
            self.out.flush()

    # -- jobs --------------------------------------------------------------------------
    def create(self, body: dict[str, Any], owner: dict[str, str]) -> bool:
        """Create the Job; True if created, False if it already existed and is ours
        (a lost response retried, or a restarted driver): then it is adopted, not re-run."""
        from kubernetes.client.exceptions import ApiException

        name = body["metadata"]["name"]
        try:
            self.call(f"create Job {name}", self.batch.create_namespaced_job, self.namespace, body)
            return True
        except ApiException as exc:
            if exc.status == 409:
                existing = self.read(name)
                annotations = (existing or {}).get("metadata", {}).get("annotations") or {}
                if existing is not None and all(annotations.get(k) == v for k, v in owner.items()):
                    self.say(f"[k8s-job] Job {name} exists already; following it")
                    return False
                raise RunError(
                    f"Job {name!r} exists in namespace {self.namespace!r} and belongs to "
                    "another run or step; delete it or choose another run id"
                ) from None
            raise RunError(
                f"Kubernetes API refused Job {name!r}: HTTP {exc.status} {exc.reason}: "
                f"{_message(exc)}"
            ) from None

    def read(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            job = self.call(
                f"read Job {name}",
                self.batch.read_namespaced_job,
                name,
                self.namespace,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise RunError(f"Kubernetes API: read Job {name}: HTTP {exc.status}") from None
        import json

        return json.loads(job.data)

    def wait(self, name: str, started: threading.Event | None = None) -> JobOutcome:
        """Block until the Job completes or fails, following a watch (no polling loop).

        A watch that ends or breaks is re-established from the last state read, so a
        dropped connection costs one GET, never a missed transition.
        """
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        failures = 0
        while True:
            job = self.read(name)
            if job is None:
                return JobOutcome(1, "the Job disappeared before it finished", vanished=True)
            outcome = _finished(job)
            active = job.get("status", {}).get("active") or outcome is not None
            if active and started is not None:
                started.set()
            if outcome is not None:
                return outcome
            version = job["metadata"].get("resourceVersion")
            watcher = watch.Watch()
            try:
                for event in watcher.stream(
                    self.batch.list_namespaced_job,
                    self.namespace,
                    field_selector=f"metadata.name={name}",
                    resource_version=version,
                    timeout_seconds=WATCH_SECONDS,
                ):
                    failures = 0
                    raw = event["raw_object"]
                    if event["type"] == "DELETED":
                        break
                    if raw.get("status", {}).get("active") and started is not None:
                        started.set()
                    outcome = _finished(raw)
                    if outcome is not None:
                        watcher.stop()
                        if started is not None:
                            started.set()
                        return outcome
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: version too old, re-read and re-watch
                    failures += 1
                    self._backoff(f"watch Job {name}", f"HTTP {exc.status}", failures)
            except (HTTPError, OSError) as exc:
                failures += 1
                self._backoff(f"watch Job {name}", f"{type(exc).__name__}", failures)

    def _backoff(self, what: str, problem: str, failures: int) -> None:
        if failures > self.retries:
            raise RunError(f"Kubernetes API: {what} failed {failures} times: {problem}")
        delay = min(0.2 * 2 ** (failures - 1), 10.0)
        self.say(f"[k8s-job] {what} dropped ({problem}); re-watching in {delay:.1f}s")
        time.sleep(delay)

    # -- logs --------------------------------------------------------------------------
    def stream_logs(self, job: str, prefix: str, done: threading.Event) -> None:
        """Copy the logs of the Job's pods to the driver's output as they are written."""
        from kubernetes.client.exceptions import ApiException

        seen: set[str] = set()
        while True:
            finished = done.is_set()
            try:
                pods = self.call(
                    f"list pods of {job}",
                    self.core.list_namespaced_pod,
                    self.namespace,
                    label_selector=f"job-name={job}",
                )
            except (ApiException, RunError) as exc:
                self.say(f"{prefix} (cannot list pods: {exc})")
                return
            fresh = sorted(
                (p for p in pods.items if p.metadata.name not in seen),
                key=lambda p: (p.metadata.creation_timestamp or 0, p.metadata.name),
            )
            for pod in fresh:
                seen.add(pod.metadata.name)
                self._follow(pod.metadata.name, prefix, done)
            if finished:
                return
            if not fresh:
                done.wait(0.5)

    def _follow(self, pod: str, prefix: str, done: threading.Event) -> None:
        """Copy one pod's log line by line. A stream that breaks is re-opened and the part
        already copied skipped (a container's log only grows), so no line is lost or doubled."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        printed = 0  # bytes of the log already written out (whole lines)
        failures, delay = 0, 0.2
        while True:
            try:
                response = self.core.read_namespaced_pod_log(
                    pod, self.namespace, follow=True, _preload_content=False
                )
                position, pending = 0, b""
                for chunk in response.stream():
                    if position + len(chunk) <= printed:
                        position += len(chunk)
                        continue
                    if position < printed:
                        chunk, position = chunk[printed - position :], printed
                    position += len(chunk)
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self.say(f"{prefix} {line.decode('utf-8', 'replace')}")
                        printed += len(line) + 1
                if pending:
                    self.say(f"{prefix} {pending.decode('utf-8', 'replace')}")
                return
            except ApiException as exc:
                if exc.status == 400 and not done.is_set():
                    pass  # the container is not running yet (image pull, scheduling): wait
                elif exc.status in RETRIABLE and failures < self.retries:
                    failures += 1
                else:
                    self.say(f"{prefix} (no log: HTTP {exc.status})")
                    return
            except (HTTPError, OSError) as exc:
                if failures >= self.retries:
                    self.say(f"{prefix} (log stream lost: {type(exc).__name__})")
                    return
                failures += 1
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _finished(job: dict[str, Any]) -> JobOutcome | None:
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobOutcome(0)
        if condition.get("type") == "Failed":
            return JobOutcome(1, condition.get("reason") or condition.get("message") or "")
    return None


def _message(exc: Any) -> str:
    import json

    try:
        return str(json.loads(exc.body).get("message", ""))[:2000]
    except (TypeError, ValueError, AttributeError):
        return str(exc.body)[:2000]
