"""Load time and memory of the pipeline front end on long linear pipelines.

Writes linear pipelines of 1,000, 10,000 and 100,000 task steps into a scratch folder
outside the repository, then measures for each:

- whole process: `python -m magnus_render.cli validate FILE` as a user runs it (start-up,
  imports, parse, validate, build the IR), median wall time and the child's peak RSS;
- in process: `load_pipeline(FILE)` alone, timed inside a fresh interpreter so that each
  size starts cold and its peak RSS is its own (RSS before the load is shown too).

Target (issue 2): 100,000 nodes in under 5 s whole-process on 2 cores.

    python3 bench/load.py                  # sizes 1000,10000,100000, 3 repeats
    python3 bench/load.py --sizes 100000 --repeats 5 --check   # exit 1 if over target
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_NODES = 100_000
TARGET_SECONDS = 5.0

IN_PROCESS = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from magnus_render.pipeline import load_pipeline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu_start = time.perf_counter(), time.process_time()
pipeline = load_pipeline(sys.argv[1])
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "rss_before_kib": before,
                  "rss_peak_kib": after, "nodes": len(pipeline.graph)}))
"""


def write_linear(folder: Path, size: int) -> Path:
    """A pipeline of ``size`` python tasks in a chain, then success and fail."""
    lines = ["dag:", f"  description: linear pipeline of {size} tasks", "  start_at: step0"]
    lines.append("  steps:")
    for i in range(size):
        following = f"step{i + 1}" if i + 1 < size else "success"
        lines += [
            f"    step{i}:",
            "      type: task",
            "      command: samples.functions.hello",
            f"      next: {following}",
        ]
    lines += ["    success:", "      type: success", "    fail:", "      type: fail", ""]
    path = folder / f"linear_{size}.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def whole_process(path: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (KiB) of one `magnus validate` process.

    CPU time (user + system) is shown beside wall time because a busy machine stretches
    wall time while CPU time barely moves.
    """
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "magnus_render.cli", "validate", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"magnus validate {path} failed ({child.returncode}): {stderr}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def in_process(path: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.repeats} repeats, median")
    print()
    print("| steps | file | whole process (wall / CPU) | peak RSS | in process (wall / CPU) |")
    print("|---:|---:|---:|---:|---:|")
    missed = False
    with tempfile.TemporaryDirectory(prefix="magnus-bench-load-") as scratch:
        for size in sizes:
            path = write_linear(Path(scratch), size)
            whole = [whole_process(path) for _ in range(args.repeats)]
            inner = [in_process(path) for _ in range(args.repeats)]
            wall = statistics.median(w for w, _, _ in whole)
            cpu = statistics.median(c for _, c, _ in whole)
            rss = max(r for _, _, r in whole)
            load = statistics.median(i["seconds"] for i in inner)
            load_cpu = statistics.median(i["cpu_seconds"] for i in inner)
            before = min(i["rss_before_kib"] for i in inner)
            peak = max(i["rss_peak_kib"] for i in inner)
            print(
                f"| {size:,} | {path.stat().st_size / 2**20:.1f} MiB | {wall:.2f} s / {cpu:.2f} s "
                f"| {rss / 1024:.0f} MiB (in-process load: {before / 1024:.0f} -> "
                f"{peak / 1024:.0f} MiB) | {load:.2f} s / {load_cpu:.2f} s |",
                flush=True,
            )
            if size >= TARGET_NODES and wall >= TARGET_SECONDS:
                missed = True
    if TARGET_NODES in sizes:
        verdict = "MISSED" if missed else "met"
        goal = f"{TARGET_NODES:,} steps under {TARGET_SECONDS:.0f} s whole process (wall)"
        print(f"\ntarget: {goal}: {verdict}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
