"""Benchmark: the k8s-jobs target and the k8s-job executor's per-Job overhead.

Prints:
- render time (best of 3, YAML text as the CLI produces it) and output size for linear
  pipelines of 100, 1,000 and 10,000 steps (the ConfigMap embeds the pipeline: 1 MiB cap);
- the time to build one node Job body (settings with a per-step override applied);
- the executor's API overhead per node Job against tests/k8s_fake_api.py on 127.0.0.1
  (create, watch until Complete, stream the log), with a container that does nothing,
  one at a time and four at once.

Run: python3 bench/render_k8s.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chain_pipeline(steps: int) -> str:
    lines = ["dag:", "  start_at: step_0", "  steps:"]
    for i in range(steps):
        after = f"step_{i + 1}" if i + 1 < steps else "success"
        lines += [
            f"    step_{i}:",
            "      type: task",
            "      command: samples.functions.initialize",
            f"      next: {after}",
        ]
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    return "\n".join(lines) + "\n"


def bench_render(folder: Path) -> None:
    from magnus_render.render import render_text

    for steps in (100, 1_000, 10_000):
        path = folder / f"chain{steps}.yaml"
        path.write_text(chain_pipeline(steps))
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            text, _ = render_text(path, "k8s-jobs", image="example/magnus:1")
            best = min(best, time.perf_counter() - start)
        print(
            f"render k8s-jobs {steps:>6} steps: {best:7.3f} s  "
            f"output {len(text.encode()) / 1024:8.1f} KiB  "
            f"(pipeline {path.stat().st_size / 1024:.1f} KiB)"
        )


def bench_bodies() -> None:
    from magnus_render.contract import k8s_spec

    settings = k8s_spec.K8sJobSettings(
        image="example/magnus:1",
        resources={"limits": {"memory": "1Gi"}},
        overrides={"big": {"resources": {"limits": {"memory": "8Gi"}}}},
    )
    count = 2_000
    start = time.perf_counter()
    for i in range(count):
        step = settings.for_step({"k8s-job": "big"} if i % 2 else {})
        k8s_spec.node_job_body(
            step,
            name=f"run-step-{i}",
            command=["magnus", "execute_single_node", "run", f"step_{i}", "--file", "p.yaml"],
            labels={"a": "b"},
            annotations={"c": "d"},
        )
    per = (time.perf_counter() - start) / count
    print(f"node Job body (half with an override): {per * 1e6:7.1f} us each")


def bench_api(folder: Path) -> None:
    from magnus_render.runtime.executors.k8s_api import KubeJobs
    from tests.k8s_fake_api import FakeKubernetes

    body_cmd = ["/bin/true"]

    def body(name: str) -> dict:
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "annotations": {"o": name}},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "node", "image": "x", "command": body_cmd}],
                    }
                },
            },
        }

    class Quiet:
        def write(self, text: str) -> None:
            pass

        def flush(self) -> None:
            pass

    with FakeKubernetes(folder) as api:
        api.validate_bodies = False  # measure the executor's side, not the validator
        import os

        os.environ["KUBECONFIG"] = str(api.kubeconfig(folder / "kubeconfig"))
        jobs = KubeJobs("default", retries=3, pool_size=16, out=Quiet())

        def one(name: str) -> None:
            jobs.create(body(name), {"o": name})
            done = threading.Event()
            logs = threading.Thread(target=jobs.stream_logs, args=(name, "", done))
            logs.start()
            jobs.wait(name)
            done.set()
            logs.join()

        one("warm-up")
        count = 20
        start = time.perf_counter()
        for i in range(count):
            one(f"seq-{i}")
        seq = (time.perf_counter() - start) / count
        start = time.perf_counter()
        threads = [threading.Thread(target=one, args=(f"par-{i}",)) for i in range(count)]
        for group in range(0, count, 4):
            batch = threads[group : group + 4]
            for t in batch:
                t.start()
            for t in batch:
                t.join()
        par = (time.perf_counter() - start) / count
        label = "executor overhead per node Job (fake API, /bin/true):"
        print(f"{label} {seq * 1000:6.1f} ms one at a time")
        print(f"{label} {par * 1000:6.1f} ms four at once")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_render(folder)
        bench_bodies()
        bench_api(folder)


if __name__ == "__main__":
    main()
