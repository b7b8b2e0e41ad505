"""Step Functions render time for a Parallel with 1,000 to 10,000 branches.

The splitter packs a Parallel that is too big for one machine into group machines; its
work must be linear in the branch count. Prints, per size, the whole-process wall and CPU
time of `magnus-render --target stepfunctions` (targets: 1,000 branches under 2 s, 10,000
under 15 s), the machines it produced, the bytes the splitter measured per branch (flat
when linear), and the ratio to 1,000 linear steps rendered in the same run.

Run: python3 bench/render_sfn_branches.py [SIZES...]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDER = "from magnus_render.cli import render_main; render_main()"


#: stores every pod or task can reach: the cluster targets refuse file-system stores that
#: are not on a declared shared volume
S3_STORES = {
    "run_log_store": {"type": "s3", "config": {"bucket": "bench"}},
    "catalog": {"type": "s3", "config": {"bucket": "bench"}},
}


def branches_yaml(count: int) -> str:
    lines = ["dag:", "  start_at: par", "  steps:", "    par:", "      type: parallel"]
    lines += ["      next: success", "      branches:"]
    for i in range(count):
        lines += [f"        b{i}:", "          start_at: t", "          steps:"]
        lines += ["            t: {type: task, command: samples.functions.double, next: u}"]
        lines += ["            u: {type: task, command: samples.functions.double, next: success}"]
        lines += ["            success: {type: success}", "            fail: {type: fail}"]
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    return "\n".join(lines) + "\n"


def chain_yaml(count: int) -> str:
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(count):
        nxt = f"s{i + 1}" if i + 1 < count else "success"
        lines += [f"    s{i}: {{type: task, command: samples.functions.double, next: {nxt}}}"]
    lines += ["    success: {type: success}", "    fail: {type: fail}"]
    return "\n".join(lines) + "\n"


def whole_process(path: Path) -> tuple[float, float, str]:
    config = path.with_name("s3.yaml")  # stores every task can reach
    config.write_text(json.dumps(S3_STORES), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RENDER, "--target", "stepfunctions", str(path), "-c", str(config)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, proc.stdout


def splitter_work(count: int) -> int:
    sys.path.insert(0, str(ROOT))
    from magnus_render.config import MagnusConfig
    from magnus_render.pipeline.build import load_pipeline
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.renderers.stepfunctions import StepFunctionsRenderer, split

    measured = []
    original = split.Splitter.fit

    def counting_fit(self, graph, in_map, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(self, graph, in_map, *args, **kwargs)
        measured.append(self.measured)
        return result

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(branches_yaml(count), encoding="utf-8")
        split.Splitter.fit = counting_fit  # type: ignore[method-assign]
        try:
            StepFunctionsRenderer(
                load_pipeline(path),
                MagnusConfig.model_validate(S3_STORES),
                RenderOptions(str(path)),
            ).render()
        finally:
            split.Splitter.fit = original  # type: ignore[method-assign]
    return max(measured, default=0)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 3000, 10000]
    with tempfile.TemporaryDirectory() as tmp:
        floor_path = Path(tmp) / "chain.yaml"
        floor_path.write_text(chain_yaml(1000), encoding="utf-8")
        floor = whole_process(floor_path)
        print(f"floor: 1,000 linear steps: wall {floor[0]:.2f} s, cpu {floor[1]:.2f} s")
        print(f"{'branches':>9} {'wall s':>7} {'cpu s':>6} {'machines':>9} {'work B/branch':>14}")
        for count in sizes:
            path = Path(tmp) / f"b{count}.yaml"
            path.write_text(branches_yaml(count), encoding="utf-8")
            wall, cpu, text = whole_process(path)
            machines = len(json.loads(text).get("StateMachines", {"main": 0}))
            work = splitter_work(count) / count
            print(f"{count:>9} {wall:>7.2f} {cpu:>6.2f} {machines:>9} {work:>14,.0f}")


if __name__ == "__main__":
    main()
