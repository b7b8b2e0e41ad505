"""The k8s-job executor end to end against tests/k8s_fake_api.py on 127.0.0.1.

The driver runs as a real subprocess with the official kubernetes client (KUBECONFIG
points at the fake server); each Job's command runs as a local process. Every sample's
run log must equal the local executor's, and API trouble must not change the outcome.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLES
from tests.helpers.deps import require
from tests.helpers.runlog import load_run_log, magnus_env, normalize, prepare_workdir, run_magnus
from tests.k8s_fake_api import VALIDATE_VERSIONS, FakeKubernetes, Fault

require("kubernetes")
kubernetes_validate = require("kubernetes_validate")

SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.yaml"))
DRIVER = [sys.executable, "-m", "magnus_render.runtime.executors.k8s_job"]


def _config(workdir: Path, **settings: object) -> Path:
    executor = {"image": "local/magnus:test", "parallelism": 2, "api_retries": 3, **settings}
    path = workdir / "k8s-config.yaml"
    path.write_text(yaml.safe_dump({"executor": {"type": "k8s-job", "config": executor}}))
    return path


@pytest.fixture
def kube(tmp_path: Path):
    workdir = prepare_workdir(tmp_path / "work")
    with FakeKubernetes(workdir, env=magnus_env()) as api:
        api.kubeconfig(tmp_path / "kubeconfig")
        yield api


def _drive(
    api: FakeKubernetes, pipeline: str, run_id: str, config: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    env = magnus_env({"KUBECONFIG": str(api.workdir.parent / "kubeconfig")})
    argv = [*DRIVER, "--file", pipeline, "--config-file", str(config), "--run-id", run_id]
    return subprocess.run(
        argv, cwd=api.workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


def _local(workdir: Path, sample: str) -> tuple[int, dict]:
    proc = run_magnus(["execute", f"samples/{sample}.yaml", "--run-id", "local-run"], workdir)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, normalize(load_run_log(workdir, "local-run"))


def _through_k8s(api: FakeKubernetes, sample: str, config: Path, run_id: str = "k8s-run"):
    proc = _drive(api, f"samples/{sample}.yaml", run_id, config)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc, normalize(load_run_log(api.workdir, run_id, config))


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_run_log_equals_local(kube: FakeKubernetes, sample: str) -> None:
    code, local = _local(kube.workdir, sample)
    proc, remote = _through_k8s(kube, sample, _config(kube.workdir))
    assert proc.returncode == code, proc.stderr
    assert remote == local
    # one Job per executed task, each run exactly once, each body strictly valid
    names = [body["metadata"]["name"] for body in kube.created_jobs]
    assert len(names) == len(set(names)) == kube.pod_count() > 0
    for body in kube.created_jobs:
        for version in VALIDATE_VERSIONS:
            kubernetes_validate.validate(body, version, strict=True)
        assert body["spec"]["ttlSecondsAfterFinished"] == 3600
        assert body["spec"]["template"]["spec"]["containers"][0]["command"][:2] == [
            "magnus",
            "execute_single_node",
        ]
    if sample == "hello":  # node logs are streamed to the driver's output
        assert "[initialize] hello from magnus-render" in proc.stdout
    assert kube.max_running <= 2  # the parallelism bound holds
    if sample == "failing":
        assert code == 1
        assert any(j["status"].get("failed") for j in kube.jobs()), "no Job failed"


TINY_PIPELINE = """
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
      next: three
    three:
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
"""


def _tiny(api: FakeKubernetes) -> tuple[int, dict]:
    """A two-Job pipeline for the fault tests, and its local run log. Its second task runs
    until the file ``go`` exists (present unless a test removes it to hold the Job)."""
    (api.workdir / "samples-tiny.yaml").write_text(TINY_PIPELINE)
    (api.workdir / "go").touch()
    proc = run_magnus(["execute", "samples-tiny.yaml", "--run-id", "local-run"], api.workdir)
    assert proc.returncode == 0, proc.stderr
    return 0, normalize(load_run_log(api.workdir, "local-run"))


def _tiny_k8s(api: FakeKubernetes, config: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = _drive(api, "samples-tiny.yaml", "k8s-run", config)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc, normalize(load_run_log(api.workdir, "k8s-run", config))


def test_job_that_fails_before_the_node_runs_is_recorded(kube: FakeKubernetes) -> None:
    kube.secrets[("present", "token")] = "t0ken-value"
    refs = [
        {"name": "TOKEN", "secret_name": "present", "key": "token"},
        {"name": "OTHER", "secret_name": "absent", "key": "token"},
    ]
    config = _config(kube.workdir, secret_env=refs)
    proc, remote = _through_k8s(kube, "hello", config)
    assert proc.returncode == 1
    assert remote["status"] == "FAIL"
    assert remote["steps"]["initialize"]["status"] == "FAIL"
    log = load_run_log(kube.workdir, "k8s-run", config)
    assert "Job k8s-run-initialize" in log.steps["initialize"].message
    assert "t0ken-value" not in yaml.safe_dump(kube.created_jobs)  # only references are sent


def test_lost_create_response_then_409_adopts_the_job(kube: FakeKubernetes) -> None:
    code, local = _tiny(kube)
    kube.faults.append(Fault("POST", "jobs", status=500, after_effect=True))
    proc, remote = _tiny_k8s(kube, _config(kube.workdir))
    assert (proc.returncode, remote) == (code, local)
    posts = [p for m, p in kube.requests if m == "POST"]
    assert len(posts) == len(kube.created_jobs) == kube.pod_count() + 1  # one create retried
    assert "exists already; following it" in proc.stdout


def test_transient_errors_are_retried_with_backoff(kube: FakeKubernetes) -> None:
    code, local = _tiny(kube)
    kube.faults += [Fault("POST", "jobs", status=503, count=2), Fault("GET", "jobs", 500)]
    proc, remote = _tiny_k8s(kube, _config(kube.workdir))
    assert (proc.returncode, remote) == (code, local)
    assert proc.stdout.count("retrying in") >= 3


def _start(api: FakeKubernetes, pipeline: str, run_id: str, config: Path) -> subprocess.Popen:
    env = magnus_env({"KUBECONFIG": str(api.workdir.parent / "kubeconfig")})
    argv = [*DRIVER, "--file", pipeline, "--config-file", str(config), "--run-id", run_id]
    return subprocess.Popen(
        argv, cwd=api.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _until(condition, process: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"driver ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["clean", "cut"])
def test_dropped_watches_are_re_established(kube: FakeKubernetes, mode: str) -> None:
    code, local = _tiny(kube)
    (kube.workdir / "go").unlink()  # hold the second Job until every drop has happened
    kube.drop_watches, kube.drop_mode = 3, mode
    config = _config(kube.workdir)
    driver = _start(kube, "samples-tiny.yaml", "k8s-run", config)
    _until(lambda: kube.drop_watches == 0, driver, "the watches to drop")
    (kube.workdir / "go").touch()
    out, err = driver.communicate(timeout=240)
    assert driver.returncode == code, out + err
    assert normalize(load_run_log(kube.workdir, "k8s-run", config)) == local


def test_unreachable_api_is_a_clear_error(tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "work")
    api = FakeKubernetes(workdir)  # never started: its port refuses connections
    api.kubeconfig(tmp_path / "kubeconfig")
    api._server.server_close()
    proc = _drive(api, "samples/hello.yaml", "r1", _config(workdir, api_retries=1))
    assert proc.returncode == 2
    assert "Kubernetes API: create Job r1-initialize failed after 2 tries" in proc.stderr
    assert "Traceback" not in proc.stderr


SLOW_PIPELINE = """
dag:
  start_at: first
  steps:
    first:
      type: task
      command: samples.functions.initialize
      next: slow
    slow:
      type: task
      command_type: shell
      command: "while [ ! -f go ]; do sleep 0.1; done; echo slept"
      next: last
    last:
      type: stub
      next: success
    success:
      type: success
    fail:
      type: fail
"""


def test_restarted_driver_resumes_without_rerunning(kube: FakeKubernetes) -> None:
    (kube.workdir / "slow.yaml").write_text(SLOW_PIPELINE)
    config = _config(kube.workdir)
    env = magnus_env({"KUBECONFIG": str(kube.workdir.parent / "kubeconfig")})
    argv = [*DRIVER, "--file", "slow.yaml", "--config-file", str(config), "--run-id", "r1"]
    first = subprocess.Popen(
        argv, cwd=kube.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not any(j["metadata"]["name"] == "r1-slow" for j in kube.jobs()):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    first.kill()  # the driver pod dies while the slow node's Job runs (it waits for `go`)
    first.wait()
    second = subprocess.Popen(
        argv, cwd=kube.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while [b["metadata"]["name"] for b in kube.created_jobs].count("r1-slow") < 2:
        assert time.monotonic() < deadline and second.poll() is None, "no second create"
        time.sleep(0.05)
    (kube.workdir / "go").touch()  # the slow node may finish now that it was adopted
    out, err = second.communicate(timeout=240)
    proc = subprocess.CompletedProcess(argv, second.returncode, out, err)
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    assert "Job r1-slow exists already; following it" in proc.stdout
    names = sorted(j["metadata"]["name"] for j in kube.jobs())
    assert names == ["r1-first", "r1-slow"]  # tasks only: the driver records stubs, ends
    assert kube.pod_count() == 2  # every task ran exactly once
    log = load_run_log(kube.workdir, "r1", config)
    assert log.status.value == "SUCCESS"
    assert [a.attempt_number for a in log.steps["slow"].attempts] == [1]


def test_job_names_are_legal_and_unique_per_run_and_step() -> None:
    from magnus_render.runtime.executors.k8s_job import job_name

    resolved = [
        "train",
        "each.a.process",
        "each.A.process",
        "each.a_.process",
        "each." + "x" * 80 + ".process",
        "each." + "x" * 80 + ".processed",
    ]
    names = [job_name("run-1", r) for r in resolved] + [job_name("run-2", "train")]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= 63
        assert name == name.lower() and name[0].isalnum() and name[-1].isalnum()
    assert job_name("run-1", "train") == "run-1-train"  # readable when already legal


def test_step_override_changes_only_that_steps_job() -> None:
    from magnus_render.contract import k8s_spec

    settings = k8s_spec.K8sJobSettings(
        image="img:1",
        resources={"limits": {"memory": "1Gi"}},
        node_selector={"pool": "small"},
        overrides={"big": {"resources": {"limits": {"memory": "8Gi"}}, "image": "img:gpu"}},
    )
    plain = settings.for_step({})
    big = settings.for_step({"k8s-job": "big"})
    assert plain.resources.limits == {"memory": "1Gi"}
    assert big.resources.limits == {"memory": "8Gi"} and big.image == "img:gpu"
    assert big.node_selector == {"pool": "small"}  # the rest is inherited
    with pytest.raises(KeyError, match="huge"):
        settings.for_step({"k8s-job": "huge"})
    body = k8s_spec.node_job_body(
        big, name="r-train", command=["magnus", "x"], labels={}, annotations={"a": "b"}
    )
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "img:gpu"
    assert body["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    for version in VALIDATE_VERSIONS:
        kubernetes_validate.validate(body, version, strict=True)


def test_jobs_cleaned_up_by_ttl_do_not_change_the_outcome(kube: FakeKubernetes) -> None:
    code, local = _tiny(kube)
    proc, remote = _tiny_k8s(kube, _config(kube.workdir, ttl_seconds_after_finished=0))
    assert (proc.returncode, remote) == (code, local)
    time.sleep(0.5)
    assert kube.jobs() == []  # the server removed every finished Job
    assert all(b["spec"]["ttlSecondsAfterFinished"] == 0 for b in kube.created_jobs)


PARALLEL_WAITS = """
dag:
  start_at: fan
  steps:
    fan:
      type: parallel
      next: success
      branches:
        b0:
          start_at: nap
          steps:
            nap:
              type: task
              command_type: shell
              command: "while [ ! -f go ]; do sleep 0.1; done"
              next: success
            success:
              type: success
            fail:
              type: fail
        b1:
          start_at: nap
          steps:
            nap:
              type: task
              command_type: shell
              command: "while [ ! -f go ]; do sleep 0.1; done"
              next: success
            success:
              type: success
            fail:
              type: fail
        b2:
          start_at: nap
          steps:
            nap:
              type: task
              command_type: shell
              command: "while [ ! -f go ]; do sleep 0.1; done"
              next: success
            success:
              type: success
            fail:
              type: fail
    success:
      type: success
    fail:
      type: fail
"""


def test_branches_run_as_concurrent_jobs_within_the_bound(kube: FakeKubernetes) -> None:
    (kube.workdir / "naps.yaml").write_text(PARALLEL_WAITS)
    driver = _start(kube, "naps.yaml", "naps", _config(kube.workdir, parallelism=2))
    _until(lambda: kube.running == 2, driver, "two branch Jobs to run")
    time.sleep(1.0)
    assert kube.running == 2 and len(kube.created_jobs) == 2  # the third branch waits
    (kube.workdir / "go").touch()
    out, err = driver.communicate(timeout=240)
    assert driver.returncode == 0, out + err
    assert len(kube.created_jobs) == 3 and kube.max_running == 2


def test_resume_refuses_a_run_of_another_pipeline(kube: FakeKubernetes) -> None:
    (kube.workdir / "samples-tiny.yaml").write_text(TINY_PIPELINE)
    (kube.workdir / "go").touch()
    config = _config(kube.workdir)
    assert _drive(kube, "samples-tiny.yaml", "r1", config).returncode == 0
    jobs = len(kube.created_jobs)
    again = _drive(kube, "samples-tiny.yaml", "r1", config)  # finished run: nothing re-runs
    assert again.returncode == 0 and len(kube.created_jobs) == jobs
    other = _drive(kube, "samples/hello.yaml", "r1", config)
    assert other.returncode == 2
    assert "different pipeline definition" in other.stderr and "Traceback" not in other.stderr
    assert len(kube.created_jobs) == jobs


def test_branch_threads_share_the_store_one_call_at_a_time() -> None:
    import threading
    from types import SimpleNamespace

    from magnus_render.runtime.executors.remote import make_thread_safe

    class Store:
        name = "journal"
        inside = 0
        overlaps = 0

        def get_step_log(self, run_id: str, name: str) -> str:
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
            time.sleep(0.001)
            self.inside -= 1
            return name

    raw = Store()
    ctx = SimpleNamespace(store=raw)
    make_thread_safe(ctx)
    make_thread_safe(ctx)  # wrapping twice is harmless
    assert ctx.store.name == "journal"
    threads = [
        threading.Thread(target=lambda: [ctx.store.get_step_log("r", "s") for _ in range(20)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert raw.overlaps == 0


CHATTY_PIPELINE = """
dag:
  start_at: talk
  steps:
    talk:
      type: task
      command_type: shell
      command: "echo line-a; sleep 0.5; echo line-b; sleep 0.5; echo line-c"
      next: success
    success:
      type: success
    fail:
      type: fail
"""


def test_broken_log_stream_neither_loses_nor_doubles_lines(kube: FakeKubernetes) -> None:
    (kube.workdir / "chatty.yaml").write_text(CHATTY_PIPELINE)
    kube.drop_logs = 2
    proc = _drive(kube, "chatty.yaml", "chatty", _config(kube.workdir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert kube.drop_logs == 0, "the log streams were not cut"
    for line in ("line-a", "line-b", "line-c"):
        assert proc.stdout.count(f"[talk] {line}") == 1, proc.stdout
