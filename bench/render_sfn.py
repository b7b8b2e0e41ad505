"""Step Functions render time and definition size at 100, 1,000 and 10,000 steps.

Prints one line per size: best-of wall time of a full render (load included separately),
the rendered bytes and how many state machines the definition was split into.
Target: 1,000 steps under 0.5 s. Run: python3 bench/render_sfn.py [--sizes 100,1000]

``--process 100000``: the whole ``magnus-render --target stepfunctions`` process on a
100,000-step chain instead (as ``/usr/bin/time -v`` sees it): wall and CPU seconds, peak
RSS, the largest state machine. Targets (issue 18): under 8 s and 400 MB, every machine
under the 1 MiB definition limit. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


#: stores every pod or task can reach: the cluster targets refuse file-system stores that
#: are not on a declared shared volume
S3_STORES = {
    "run_log_store": {"type": "s3", "config": {"bucket": "bench"}},
    "catalog": {"type": "s3", "config": {"bucket": "bench"}},
}


def write_pipeline(path: Path, steps: int) -> None:
    """A linear chain of python tasks with a map and a parallel every 100 steps."""
    lines = ["dag:", f"  description: {steps} steps", "  start_at: s0", "  steps:"]
    for i in range(steps):
        nxt = f"s{i + 1}" if i + 1 < steps else "success"
        lines += [f"    s{i}:", "      type: task", "      command: samples.functions.double"]
        lines += [f"      next: {nxt}"]
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def whole_process(steps: int) -> int:
    """One ``magnus-render`` process on a ``steps``-step chain, measured from outside."""
    import os
    import resource
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"chain{steps}.yaml"
        write_pipeline(path, steps)
        out = Path(tmp) / "out.json"
        config = Path(tmp) / "s3.yaml"  # stores every task can reach
        config.write_text(json.dumps(S3_STORES), encoding="utf-8")
        load = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        argv = [sys.executable, "-c", "from magnus_render.cli import render_main; render_main()"]
        argv += ["--target", "stepfunctions", str(path), "-c", str(config), "-o", str(out)]
        subprocess.run(argv, check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        peak = after.ru_maxrss / 1024  # KiB on Linux; the largest child so far
        document = json.loads(out.read_text(encoding="utf-8"))
        from magnus_render.renderers.stepfunctions.jsontext import dumps

        machines = document.get("StateMachines", {"main": document})
        largest = max(len(dumps(m)) for m in machines.values())
        size = out.stat().st_size
    print(
        f"{steps:,} steps: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {peak:.0f} MiB, "
        f"output {size / 2**20:.0f} MiB in {len(machines)} machines, largest "
        f"{largest / 2**10:.0f} KiB (load average {load:.1f} -> {os.getloadavg()[0]:.1f})"
    )
    ok = wall < 8 and peak < 400 and largest <= 2**20
    print(f"targets (< 8 s, < 400 MB, every machine < 1 MiB): {'met' if ok else 'missed'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--process", type=int, default=None, metavar="STEPS")
    args = parser.parse_args()
    if args.process:
        return whole_process(args.process)

    from magnus_render.config import MagnusConfig
    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.renderers.stepfunctions import StepFunctionsRenderer

    print(f"{'steps':>7} {'load s':>8} {'render s':>9} {'bytes':>11} {'machines':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"chain{size}.yaml"
            write_pipeline(path, size)
            t0 = time.perf_counter()
            pipeline = load_pipeline(path)
            load = time.perf_counter() - t0
            best = float("inf")
            text = ""
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                config = MagnusConfig.model_validate(S3_STORES)  # reachable from every task
                renderer = StepFunctionsRenderer(pipeline, config, RenderOptions(str(path)))
                text = renderer.render().text
                best = min(best, time.perf_counter() - t0)
            document = json.loads(text)
            machines = len(document.get("StateMachines", {"main": None}))
            print(f"{size:>7} {load:>8.3f} {best:>9.3f} {len(text.encode()):>11,} {machines:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
