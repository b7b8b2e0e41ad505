"""Scale bench (issue 18): big local maps, `magnus show` of them, and the k8s-jobs and
shell targets at 1,000 and 10,000 steps and over a map of 10,000 items.

Prints whole-process figures: wall time and CPU time (user + system of the process and
its children; the figure to trust on a busy machine), and per item or per step, so the
ratio between the two sizes shows whether the cost is linear (ratio ~1).

1. `magnus execute` of a map over N items with `enable_parallel: true` and the chunked-fs
   run log store (target: 10,000 items under 20 s, about 2 ms of framework per item),
   then `magnus show` of the 10,000-item run (target: under 1 s).
2. `magnus-render --target k8s-jobs|shell` of 1,000- and 10,000-step pipelines.
3. The shell target's own cost per map item: the rendered script run over N items with
   `magnus_command` a tiny bash script (no Python per node), so only the script's fan-out,
   item passing and branch loop are measured. The k8s-jobs target has no per-item render
   cost (items are read at run time); its per-Job executor overhead is measured by
   bench/render_k8s.py, and a map of N items costs 2 N node Jobs of it.

Run: python3 bench/scale.py [--sizes 1000 10000] [--skip-local]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the map pipeline and task module of bench/runtime.py (a sibling script: bench/ is on
# sys.path when this runs as `python bench/scale.py`)
from runtime import MAP, TASKS

ROOT = Path(__file__).resolve().parent.parent


#: the working directory as the data folder: magnus 0.5's default (each parallel branch
#: then runs in a private mirror holding copies of the top-level files)
PARALLEL_CHUNKED = """
executor:
  type: local
  config: {enable_parallel: true}
run_log_store:
  type: chunked-fs
catalog:
  type: file-system
  config: {compute_data_folder: .}
"""

#: stands in for `magnus` in the shell script: writes N map variables at fan-out, and
#: does nothing for a node (a tiny bash script: the script execs its magnus command)
FAKE_MAGNUS = r"""#!/usr/bin/env bash
while (($#)); do
  if [[ $1 == --items-file ]]; then
    exec "$PYTHON_BENCH" -c "$WRITE_ITEMS" "$2" "$BENCH_ITEMS"
  fi
  shift
done
exit 0
"""


#: what the fake writes at fan-out: N map variables (JSON strings) in a JSON array
WRITE_ITEMS = """
import json, sys
items = [json.dumps({"item": i}) for i in range(int(sys.argv[2]))]
json.dump(items, open(sys.argv[1], "w"))
"""


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall s, CPU s of the child and its children) of one command that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def magnus(*args: str) -> list[str]:
    return [sys.executable, "-m", "magnus_render.cli", *args]


def row(label: str, n: int, wall: float, cpu: float, unit: str, base: float | None) -> float:
    per = 1000 * wall / n
    ratio = f"{per / base:6.2f}" if base else "     -"
    print(
        f"{label:<34} {wall:9.2f} {cpu:9.2f} {per:10.3f} {1000 * cpu / n:10.3f} {ratio}  ms/{unit}",
        flush=True,
    )
    return per


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"{'case':<34} {'wall s':>9} {'cpu s':>9} {'wall/unit':>10} {'cpu/unit':>10} ratio")


def bench_local(work: Path, sizes: list[int]) -> None:
    header("local map, enable_parallel, chunked-fs, data folder . (ratio: per-item wall vs first)")
    (work / "bench_tasks.py").write_text(TASKS)
    (work / "p.yaml").write_text(MAP)
    (work / "c.yaml").write_text(PARALLEL_CHUNKED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = None
    runs = []
    for n in sizes:
        (work / f"n{n}.yaml").write_text(f"n: {n}\n")
        run_id = f"map-{n}"
        args = magnus("execute", "p.yaml", "-c", "c.yaml", "-p", f"n{n}.yaml", "--run-id", run_id)
        wall, cpu = timed(args, work, env)
        per = row(f"map over {n:,} items", n, wall, cpu, "item", base)
        base = base or per
        runs.append(run_id)
    for run_id in runs:
        wall, cpu = timed(magnus("show", run_id, "-c", "c.yaml"), work, env)
        print(f"{'magnus show ' + run_id:<34} {wall:9.2f} {cpu:9.2f}")
    # the full run log holds every iteration's parameters, the items list included: it
    # grows with the square of the items (10,000 items: ~500 MB of JSON), so --json is
    # timed on the smallest run only
    wall, cpu = timed(magnus("show", runs[0], "-c", "c.yaml", "--json"), work, env)
    print(f"{'magnus show --json ' + runs[0]:<34} {wall:9.2f} {cpu:9.2f}")


def chain(steps: int) -> str:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(steps):
        nxt = f"s{i + 1}" if i + 1 < steps else "success"
        lines.append(f"    s{i}: {{type: task, command: bench_tasks.work, next: {nxt}}}")
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    return "\n".join(lines) + "\n"


def render_cmd(target: str, path: Path, *extra: str) -> list[str]:
    code = "from magnus_render.cli import render_main; render_main()"
    return [sys.executable, "-c", code, "--target", target, str(path), *extra]


def bench_render(work: Path, sizes: list[int]) -> None:
    header("render, whole process, start-up included (ratio: per-step wall vs the first size)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    s3 = work / "s3-stores.yaml"  # stores every pod can reach (k8s-jobs refuses others)
    s3.write_text(
        "run_log_store: {type: s3, config: {bucket: bench}}\n"
        "catalog: {type: s3, config: {bucket: bench}}\n"
    )
    k8s = ("--image", "example/magnus:1", "-c", str(s3))
    for target in ("k8s-jobs", "shell"):
        base = None
        for n in sizes:
            path = work / f"chain{n}.yaml"
            path.write_text(chain(n))
            out = work / f"out-{target}-{n}"
            extra = k8s if target == "k8s-jobs" else ()
            best = min(
                timed(render_cmd(target, path, *extra, "-o", str(out)), work, env) for _ in range(3)
            )
            per = row(f"{target} {n:,} steps", n, *best, "step", base)
            base = base or per
        path = work / "map.yaml"
        path.write_text(MAP)
        extra = k8s if target == "k8s-jobs" else ()
        best = min(timed(render_cmd(target, path, *extra), work, env) for _ in range(3))
        print(f"{target + ' map (any number of items)':<34} {best[0]:9.2f} {best[1]:9.2f}")


def bench_shell_map(work: Path, sizes: list[int]) -> None:
    header("shell script over a map, magnus replaced by a tiny script (ratio as above)")
    path = work / "map.yaml"
    path.write_text(MAP)
    fake = work / "fake_magnus"
    fake.write_text(FAKE_MAGNUS)
    fake.chmod(0o755)
    for parallel in (1, 4):
        config = work / f"shell{parallel}.yaml"
        config.write_text(
            "executor:\n  type: shell\n  config:\n"
            f"    max_parallel: {parallel}\n    magnus_command: [{json.dumps(str(fake))}]\n"
            f"    python_command: [{json.dumps(sys.executable)}]\n"
        )
        script = work / f"map{parallel}.sh"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        timed(render_cmd("shell", path, "-c", str(config), "-o", str(script)), work, env)
        base = None
        for n in sizes:
            env = {
                **os.environ,
                "BENCH_ITEMS": str(n),
                "PYTHON_BENCH": sys.executable,
                "WRITE_ITEMS": WRITE_ITEMS,
            }
            wall, cpu = timed(["bash", str(script), f"shell-{parallel}-{n}"], work, env)
            per = row(f"map over {n:,} items, max_parallel {parallel}", n, wall, cpu, "item", base)
            base = base or per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--skip-local", action="store_true", help="renders and shell only")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="magnus-scale-") as tmp:
        work = Path(tmp)
        if not args.skip_local:
            bench_local(work, args.sizes)
        bench_render(work, args.sizes)
        bench_shell_map(work, args.sizes)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
