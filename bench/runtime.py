"""Whole-process time of `magnus execute` for linear pipelines and a map.

Prints one line per case: steps, store, seconds, and milliseconds per step, so you can see
that time per step stays flat as the run grows. Targets (issue 3): 100 steps < 0.6 s,
1,000 steps < 4 s, map over 100 < 1.5 s. Run: python3 bench/runtime.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TASKS = """
def step(i: int = 0):
    return {"i": i + 1}

def items(n: int = 100):
    return {"items": list(range(n))}

def work(item: int):
    return {"out": item * 2}
"""


def linear(n: int) -> str:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(n):
        nxt = f"s{i + 1}" if i + 1 < n else "success"
        lines.append(f"    s{i}: {{type: task, command: bench_tasks.step, next: {nxt}}}")
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    return "\n".join(lines) + "\n"


MAP = """
dag:
  start_at: make
  steps:
    make: {type: task, command: bench_tasks.items, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      next: success
      branch:
        start_at: work
        steps:
          work: {type: task, command: bench_tasks.work, next: success}
          success: {type: success}
          fail: {type: fail}
    success: {type: success}
    fail: {type: fail}
"""

STORES = {
    "file-system": "",
    "chunked-fs": "run_log_store:\n  type: chunked-fs\n",
}


def run_case(work: Path, pipeline: str, store: str, run_id: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one `magnus execute`."""
    (work / "p.yaml").write_text(pipeline)
    (work / "c.yaml").write_text(STORES[store] or "executor:\n  type: local\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "magnus_render.cli",
            "execute",
            "p.yaml",
            "-c",
            "c.yaml",
            "--run-id",
            run_id,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per case")
    args = parser.parse_args()
    cases = [
        ("1 step", linear(1), 1),
        ("100 steps", linear(100), 100),
        ("1000 steps", linear(1000), 1000),
        ("map over 100", MAP, 100),
    ]
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<14} {'store':<12} {'wall s':>8} {'cpu s':>8} {'ms/step':>8}")
    with tempfile.TemporaryDirectory(prefix="magnus-bench-") as tmp:
        work = Path(tmp)
        (work / "bench_tasks.py").write_text(TASKS)
        counter = 0
        for label, pipeline, steps in cases:
            for store in STORES:
                best = (float("inf"), float("inf"))
                for _ in range(args.repeat):
                    counter += 1
                    best = min(best, run_case(work, pipeline, store, f"bench-{counter}"))
                wall, cpu = best
                print(
                    f"{label:<14} {store:<12} {wall:8.3f} {cpu:8.3f} {1000 * wall / steps:8.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
