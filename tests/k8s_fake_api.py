"""A test-only Kubernetes API server on 127.0.0.1: the subset the k8s-job executor uses.

No real API server (kube-apiserver, kind, k3s, envtest) can be installed on these
machines, so this speaks the wire protocol the official ``kubernetes`` client uses for
Jobs, Pods, pod logs and watches, and plays the kubelet: each Job's container command runs
as a local process in a working directory of the test's choosing (``magnus`` commands are
forked from a process that imported magnus once; any other command is spawned).

What it checks like a real server: every created Job passes ``kubernetes-validate
--strict`` for 1.30 and 1.34 (else 422), names are DNS-1123 labels, a second create of the
same name is 409 AlreadyExists. Faults a test can inject: a 5xx response (optionally after
the object was created, as when a response is lost), and watches that drop before the Job
finishes (closed cleanly, or cut mid-stream).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers.kubernetes import container_env, expand_command

VALIDATE_VERSIONS = ("1.30.0", "1.34.0")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?(/log)?$")
_FIELD_REF = re.compile(r"^metadata\.labels\['([^']+)'\]$")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


# A "zygote": one process that imports magnus once, then forks a child per container whose
# command is `magnus ...`. Each container is still its own process with its own working
# directory, environment and output, only without paying interpreter start-up and imports
# every time (which dominated the tests' run time). Single-threaded, so forking is safe.
_ZYGOTE_CODE = r"""
import json, os, select, sys
import magnus_render.cli
import magnus_render.runtime.entrypoints
out = os.fdopen(os.dup(1), "w", buffering=1)
children, pending = {}, b""
while True:
    ready, _, _ = select.select([0], [], [], 0.02)
    if ready:
        data = os.read(0, 65536)
        if not data:
            break
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            req = json.loads(line)
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    out.close()
                    fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                    null = os.open(os.devnull, os.O_RDONLY)
                    os.dup2(null, 0)
                    os.chdir(req["cwd"])
                    os.environ.clear()
                    os.environ.update(req["env"])
                    sys.stdout = open(1, "w", buffering=1, closefd=False)
                    sys.stderr = open(2, "w", buffering=1, closefd=False)
                    sys.argv = req["argv"]
                    try:
                        magnus_render.cli.magnus_main()
                        code = 0
                    except SystemExit as exc:
                        c = exc.code
                        code = c if isinstance(c, int) else int(c is not None)
                except BaseException:
                    import traceback
                    traceback.print_exc()
                finally:
                    try:
                        sys.stdout.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            children[pid] = req["id"]
            out.write(json.dumps({"id": req["id"], "pid": pid}) + "\n")
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        code = os.waitstatus_to_exitcode(status)
        out.write(json.dumps({"id": children.pop(pid), "code": code}) + "\n")
"""


class _Forked:
    """A container process forked by the zygote: poll/wait/kill like a Popen."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.returncode: int | None = None
        self._done = threading.Event()
        self._killed = False

    def poll(self) -> int | None:
        return self.returncode

    def wait(self) -> int:
        self._done.wait()
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        self._killed = True
        if self.pid is not None and self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, 9)

    def _started(self, pid: int) -> None:
        self.pid = pid
        if self._killed:
            self.kill()

    def _exited(self, code: int) -> None:
        self.returncode = code
        self._done.set()


class _Zygote:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, _Forked] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> _Forked:
        child = _Forked()
        with self._lock:
            self._next += 1
            self._waiting[self._next] = child
            request = {"id": self._next, "argv": argv, "cwd": str(cwd), "env": env}
            request["log"] = str(log)
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
        return child

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._lock:
                child = self._waiting.get(message["id"])
            if child is None:
                continue
            if "pid" in message:
                child._started(message["pid"])
            else:
                with self._lock:
                    self._waiting.pop(message["id"], None)
                child._exited(message["code"])

    def close(self) -> None:
        with self._lock:
            children = list(self._waiting.values())
        for child in children:
            child.kill()
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()


@dataclass
class Fault:
    """One injected failure: the next ``count`` requests matching method and kind."""

    method: str
    kind: str  # "jobs", "pods", "log", "watch"
    status: int = 500
    count: int = 1
    after_effect: bool = False  # do the request's work, then answer with the error


@dataclass
class _Pod:
    obj: dict[str, Any]
    log: Path
    process: subprocess.Popen[bytes] | _Forked | None = None
    done: threading.Event = field(default_factory=threading.Event)


class FakeKubernetes:
    """State, kubelet and fault injection; :attr:`url` is where the client connects."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str] | None = None,
        fork_server: bool = True,
    ) -> None:
        self.workdir = Path(workdir)
        self.logdir = self.workdir / ".fake-kube-logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or {})
        self.secrets: dict[tuple[str, str], str] = {}
        self.created_jobs: list[dict[str, Any]] = []  # bodies exactly as the client sent them
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.drop_watches = 0
        self.drop_logs = 0  # log streams cut after their first chunk
        self.drop_mode = "clean"  # or "cut": close mid-chunk, the client sees a broken stream
        self.validate_bodies = True
        self.running = 0
        self.max_running = 0  # most containers running at once (checks the parallelism bound)
        self._jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._events: list[tuple[int, str, str, str, dict[str, Any]]] = []
        self._rv = 1
        self._lock = threading.Condition()
        self._closing = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.fork_server = fork_server
        self._zygote: _Zygote | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeKubernetes:
        if self.fork_server:
            self._zygote = _Zygote(self.workdir, {**os.environ, **self.env})
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
            pods = list(self._pods.values())
        for pod in pods:
            if pod.process and pod.process.poll() is None:
                pod.process.kill()
        self._server.shutdown()
        self._server.server_close()
        if self._zygote is not None:
            self._zygote.close()

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig pointing at this server (what a real driver would read)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))
        return path

    # -- state -------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(j) for j in self._jobs.values()]

    def pod_count(self) -> int:
        with self._lock:
            return len(self._pods)

    def _bump(self, kind: str, ns: str, type_: str, obj: dict[str, Any]) -> None:
        """Record a change (caller holds the lock) and wake the watchers."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._events.append((self._rv, kind, ns, type_, copy.deepcopy(obj)))
        self._lock.notify_all()

    def take_fault(self, method: str, kind: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.kind == kind and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def create_job(self, ns: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        meta = body.get("metadata") or {}
        name = meta.get("name", "")
        if not _DNS_LABEL.match(name) or len(name) > 63:
            return 422, _status(422, "Invalid", f"metadata.name {name!r}: not a DNS-1123 label")
        if self.validate_bodies:
            problem = _validate(body)
            if problem:
                return 422, _status(422, "Invalid", problem)
        with self._lock:
            if (ns, name) in self._jobs:
                return 409, _status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            job = copy.deepcopy(body)
            job["metadata"].update(
                namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1
            )
            job["status"] = {}
            self._jobs[(ns, name)] = job
            self._bump("jobs", ns, "ADDED", job)
            self._start_pod(ns, job)
            return 201, copy.deepcopy(job)

    def delete_job(self, ns: str, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self._jobs.pop((ns, name), None)
            if job is None:
                return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
            self._bump("jobs", ns, "DELETED", job)
            for key, pod in list(self._pods.items()):
                if pod.obj["metadata"]["labels"].get("job-name") == name and key[0] == ns:
                    if pod.process and pod.process.poll() is None:
                        pod.process.kill()
                    del self._pods[key]
                    self._bump("pods", ns, "DELETED", pod.obj)
        return 200, _status(200, "Success", "deleted") | {"status": "Success"}

    # -- the kubelet -------------------------------------------------------------------
    def _start_pod(self, ns: str, job: dict[str, Any]) -> None:
        """Create a pod for ``job`` and run its container (caller holds the lock)."""
        name = job["metadata"]["name"]
        pod_name = f"{name[:57]}-{uuid.uuid4().hex[:5]}"
        template = job["spec"]["template"]
        labels = {
            **(template.get("metadata", {}).get("labels") or {}),
            "job-name": name,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": job["metadata"]["uid"],
        }
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": ns,
                "labels": labels,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": _now(),
            },
            "spec": copy.deepcopy(template["spec"]),
            "status": {"phase": "Pending"},
        }
        pod = _Pod(obj, self.logdir / f"{pod_name}.log")
        self._pods[(ns, pod_name)] = pod
        self._bump("pods", ns, "ADDED", obj)
        container = template["spec"]["containers"][0]
        env = dict(os.environ)
        env.update(self.env)
        problem = None
        resolved: dict[str, str] = {}
        for item in container.get("env") or []:
            if "value" in item:
                continue
            ref = item.get("valueFrom", {})
            field_ref = _FIELD_REF.match(ref.get("fieldRef", {}).get("fieldPath", ""))
            secret = ref.get("secretKeyRef")
            if field_ref:
                resolved[item["name"]] = labels.get(field_ref.group(1), "")
            elif secret:
                value = self.secrets.get((secret["name"], secret["key"]))
                if value is None and not secret.get("optional"):
                    problem = f"secret {secret['name']!r} key {secret['key']!r} not found"
                elif value is not None:
                    resolved[item["name"]] = value
        # the kubelet expands $(VAR) and $$ in env values, command and args
        variables = container_env(container.get("env") or [], resolved)
        env.update(variables)
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        argv = expand_command(argv, variables)
        forked = bool(argv) and argv[0] == "magnus" and self._zygote is not None
        if argv and argv[0] == "magnus" and not forked:
            argv = [sys.executable, "-m", "magnus_render.cli", *argv[1:]]
        if problem:
            pod.log.write_text(problem + "\n")
            pod.done.set()
            self._finish_pod(ns, pod, 128, problem)
            return
        if forked:
            assert self._zygote is not None
            pod.process = self._zygote.spawn(argv, self.workdir, env, pod.log)
            self._running(ns, job, obj, pod)
            return
        log = pod.log.open("wb")
        try:
            pod.process = subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            log.write(f"{exc}\n".encode())
            log.close()
            pod.done.set()
            self._finish_pod(ns, pod, 127, str(exc))
            return
        log.close()
        self._running(ns, job, obj, pod)

    def _running(self, ns: str, job: dict[str, Any], obj: dict[str, Any], pod: _Pod) -> None:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        obj["status"] = {"phase": "Running", "startTime": _now()}
        self._bump("pods", ns, "MODIFIED", obj)
        job["status"] = {"active": 1, "startTime": job["status"].get("startTime", _now())}
        self._bump("jobs", ns, "MODIFIED", job)
        threading.Thread(target=self._wait_pod, args=(ns, pod), daemon=True).start()

    def _wait_pod(self, ns: str, pod: _Pod) -> None:
        assert pod.process is not None
        code = pod.process.wait()
        pod.done.set()
        with self._lock:
            self.running -= 1
            self._finish_pod(ns, pod, code, "")

    def _finish_pod(self, ns: str, pod: _Pod, code: int, message: str) -> None:
        """Record a container exit and advance its Job (caller holds the lock)."""
        obj = pod.obj
        phase = "Succeeded" if code == 0 else "Failed"
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
        if message:
            terminated["message"] = message
        obj["status"] = {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": obj["spec"]["containers"][0]["name"],
                    "image": obj["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
            ],
        }
        if self._pods.get((ns, obj["metadata"]["name"])) is not pod:
            return  # deleted meanwhile
        self._bump("pods", ns, "MODIFIED", obj)
        job = self._jobs.get((ns, obj["metadata"]["labels"]["job-name"]))
        if job is None:
            return
        status = job["status"]
        status.pop("active", None)
        now = _now()
        if code == 0:
            status["succeeded"] = 1
            status["completionTime"] = now
            status["conditions"] = [
                _condition("SuccessCriteriaMet", now),
                _condition("Complete", now),
            ]
        else:
            status["failed"] = status.get("failed", 0) + 1
            if status["failed"] <= job["spec"].get("backoffLimit", 6):
                self._bump("jobs", ns, "MODIFIED", job)
                self._start_pod(ns, job)
                return
            status["conditions"] = [
                _condition("FailureTarget", now, "BackoffLimitExceeded"),
                _condition("Failed", now, "BackoffLimitExceeded"),
            ]
        self._bump("jobs", ns, "MODIFIED", job)
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is not None:
            name = job["metadata"]["name"]
            timer = threading.Timer(ttl, self.delete_job, args=(ns, name))
            timer.daemon = True
            timer.start()

    # -- reads -------------------------------------------------------------------------
    def list_objects(
        self, kind: str, ns: str, query: dict[str, str]
    ) -> tuple[int, list[dict[str, Any]]]:
        with self._lock:
            store = self._jobs if kind == "jobs" else {k: p.obj for k, p in self._pods.items()}
            items = [
                copy.deepcopy(o)
                for (n, _), o in sorted(store.items())
                if n == ns and _matches(o, query)
            ]
            return self._rv, items

    def watch(self, kind: str, ns: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Events after ``resourceVersion`` (or the current objects, then new events)."""
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 1800)
        since = query.get("resourceVersion")
        if since in (None, "", "0"):
            rv, items = self.list_objects(kind, ns, query)
            for item in items:
                yield {"type": "ADDED", "object": item}
        else:
            rv = int(since)
        while True:
            with self._lock:
                fresh = [
                    e
                    for e in self._events
                    if e[0] > rv and e[1] == kind and e[2] == ns and _matches(e[4], query)
                ]
                if not fresh:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closing:
                        return
                    self._lock.wait(min(remaining, 0.5))
                    continue
            for event in fresh:
                rv = event[0]
                yield {"type": event[3], "object": event[4]}

    def pod_log(self, ns: str, name: str) -> _Pod | None:
        with self._lock:
            return self._pods.get((ns, name))

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            if kind == "jobs":
                obj = self._jobs.get((ns, name))
            else:
                pod = self._pods.get((ns, name))
                obj = pod.obj if pod else None
            return copy.deepcopy(obj) if obj is not None else None


def _condition(type_: str, now: str, reason: str | None = None) -> dict[str, Any]:
    cond = {"type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
    if reason:
        cond["reason"] = reason
    return cond


def _matches(obj: dict[str, Any], query: dict[str, str]) -> bool:
    meta = obj.get("metadata", {})
    for term in filter(None, (query.get("fieldSelector") or "").split(",")):
        key, _, value = term.partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
        if key == "metadata.namespace" and meta.get("namespace") != value:
            return False
    labels = meta.get("labels") or {}
    for term in filter(None, (query.get("labelSelector") or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _validate(body: dict[str, Any]) -> str | None:
    import kubernetes_validate

    for version in VALIDATE_VERSIONS:
        try:
            kubernetes_validate.validate(body, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return f"Kubernetes {version}: {exc}"
    return None


def _handler(api: FakeKubernetes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def handle(self) -> None:
            # the client may hang up (a watch it stopped, a log it stopped reading)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        # -- plumbing --------------------------------------------------------------
        def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_chunks(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _end_chunks(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _route(self) -> tuple[str, str, str | None, bool, dict[str, str]]:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            jobs = _JOBS.match(parts.path)
            if jobs:
                return "jobs", jobs.group(1), jobs.group(2), False, query
            pods = _PODS.match(parts.path)
            if pods:
                return "pods", pods.group(1), pods.group(2), bool(pods.group(3)), query
            return "", "", None, False, query

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        # -- verbs -----------------------------------------------------------------
        def do_POST(self) -> None:
            kind, ns, name, _, _ = self._route()
            api.requests.append(("POST", self.path))
            body = self._body()
            if kind != "jobs" or name:
                return self._send(404, _status(404, "NotFound", self.path))
            fault = api.take_fault("POST", "jobs")
            if fault and not fault.after_effect:
                return self._send(fault.status, _status(fault.status, "InternalError", "fault"))
            api.created_jobs.append(copy.deepcopy(body))
            code, obj = api.create_job(ns, body)
            if fault:
                return self._send(fault.status, _status(fault.status, "InternalError", "fault"))
            self._send(code, obj)

        def do_DELETE(self) -> None:
            kind, ns, name, _, _ = self._route()
            api.requests.append(("DELETE", self.path))
            self._body()
            if kind != "jobs" or not name:
                return self._send(404, _status(404, "NotFound", self.path))
            self._send(*api.delete_job(ns, name))

        def do_GET(self) -> None:
            kind, ns, name, is_log, query = self._route()
            api.requests.append(("GET", self.path))
            if not kind:
                return self._send(404, _status(404, "NotFound", self.path))
            watching = query.get("watch", "").lower() in ("true", "1")
            fault = api.take_fault("GET", "log" if is_log else "watch" if watching else kind)
            if fault:
                return self._send(fault.status, _status(fault.status, "InternalError", "fault"))
            if is_log:
                return self._log(ns, name or "", query)
            if watching:
                return self._watch(kind, ns, query)
            if name:
                obj = api.get(kind, ns, name)
                if obj is None:
                    return self._send(404, _status(404, "NotFound", f"{kind} {name!r} not found"))
                return self._send(200, obj)
            rv, items = api.list_objects(kind, ns, query)
            list_kind, version = ("JobList", "batch/v1") if kind == "jobs" else ("PodList", "v1")
            self._send(
                200,
                {
                    "kind": list_kind,
                    "apiVersion": version,
                    "metadata": {"resourceVersion": str(rv)},
                    "items": items,
                },
            )

        def _watch(self, kind: str, ns: str, query: dict[str, str]) -> None:
            with api._lock:
                drop = api.drop_watches > 0
                if drop:
                    api.drop_watches -= 1
            self._start_chunks("application/json")
            if not drop:  # a dropped watch goes away before its first event
                for event in api.watch(kind, ns, query):
                    self._chunk(json.dumps(event).encode() + b"\n")
            if drop and api.drop_mode == "cut":
                self.wfile.write(b'40\r\n{"type":')  # a chunk cut off mid-way
                self.wfile.flush()
                self.close_connection = True
                return
            self._end_chunks()

        def _log(self, ns: str, name: str, query: dict[str, str]) -> None:
            pod = api.pod_log(ns, name)
            if pod is None:
                return self._send(404, _status(404, "NotFound", f"pod {name!r} not found"))
            follow = query.get("follow", "").lower() in ("true", "1")
            if not follow:
                data = pod.log.read_bytes() if pod.log.exists() else b""
                return self._send(200, data, "text/plain")
            with api._lock:
                drop = api.drop_logs > 0
            self._start_chunks("text/plain")
            offset = 0
            while True:
                finished = pod.done.is_set()
                data = pod.log.read_bytes()[offset:] if pod.log.exists() else b""
                if data:
                    self._chunk(data)
                    offset += len(data)
                    with api._lock:
                        drop = drop and api.drop_logs > 0
                        if drop:
                            api.drop_logs -= 1
                    if drop:  # cut the stream mid-way, as a broken connection would
                        self.wfile.write(b"40\r\npartial")
                        self.wfile.flush()
                        self.close_connection = True
                        return
                if finished:
                    break
                time.sleep(0.02)
            self._end_chunks()

    return Handler
