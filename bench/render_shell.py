"""Render time of the shell target for 1,000- and 10,000-step pipelines.

Prints, per size: the whole-process wall and CPU time of ``magnus-render --target shell``
(best of 3, interpreter start-up and YAML loading included; target: 10,000 steps under
1 s; CPU time is the figure to trust on a busy machine), the
in-process split between loading and rendering, and the script's size. Rendering time per
step should stay flat as the pipeline grows (linear).

Run: python3 bench/render_shell.py [SIZES...]
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDER = "from magnus_render.cli import render_main; render_main()"


def pipeline_yaml(steps: int) -> str:
    """A chain of python and shell tasks with a map and a parallel step near the start."""
    lines = ["dag:", "  description: bench", "  start_at: s0", "  steps:"]
    chain = steps - 10  # the map and parallel add 10 nodes (their branches' steps included)
    for i in range(chain):
        nxt = f"s{i + 1}" if i + 1 < chain else "each"
        lines.append(f"    s{i}:")
        lines.append("      type: task")
        if i % 2:
            lines.append("      command_type: shell")
            lines.append(f"      command: echo step {i}")
        else:
            lines.append("      command: samples.functions.initialize")
        lines.append(f"      next: {nxt}")
    lines += [
        "    each:",
        "      type: map",
        "      iterate_on: chunks",
        "      iterate_as: chunk",
        "      next: both",
        "      branch:",
        "        start_at: work",
        "        steps:",
        "          work: {type: stub, next: success}",
        "          success: {type: success}",
        "          fail: {type: fail}",
        "    both:",
        "      type: parallel",
        "      next: success",
        "      branches:",
        "        left:",
        "          start_at: a",
        "          steps:",
        "            a: {type: stub, next: success}",
        "            success: {type: success}",
        "            fail: {type: fail}",
        "    success:",
        "      type: success",
        "    fail:",
        "      type: fail",
    ]
    return "\n".join(lines) + "\n"


def whole_process(path: Path, repeats: int = 3) -> tuple[float, float, int]:
    """Best wall time and best CPU time (user + system, less sensitive to a busy machine)
    of one ``magnus-render`` process, and the script's size."""
    best, best_cpu, size = float("inf"), float("inf"), 0
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", RENDER, "--target", "shell", str(path)],
            capture_output=True,
            check=True,
            cwd=ROOT,
        )
        best = min(best, time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_cpu = min(best_cpu, cpu)
        size = len(result.stdout)
    return best, best_cpu, size


def in_process(path: Path) -> tuple[float, float]:
    from magnus_render.config import MagnusConfig
    from magnus_render.pipeline import load_pipeline
    from magnus_render.renderers.base import RenderOptions
    from magnus_render.renderers.shell import ShellRenderer

    start = time.perf_counter()
    pipeline = load_pipeline(path)
    loaded = time.perf_counter()
    ShellRenderer(pipeline, MagnusConfig(), RenderOptions(str(path))).render()
    return loaded - start, time.perf_counter() - loaded


def main(sizes: list[int]) -> None:
    sys.path.insert(0, str(ROOT))
    in_process(ROOT / "samples" / "hello.yaml")  # warm imports and the template cache
    print(
        f"{'steps':>7} {'yaml KiB':>9} {'process wall s':>15} {'process cpu s':>14} {'load s':>8} "
        f"{'render s':>9} {'render us/step':>15} {'script KiB':>11}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for steps in sizes:
            path = Path(tmp) / f"p{steps}.yaml"
            path.write_text(pipeline_yaml(steps), encoding="utf-8")
            wall, cpu, size = whole_process(path)
            load, render = min(in_process(path) for _ in range(3))
            print(
                f"{steps:>7} {path.stat().st_size / 1024:>9.0f} {wall:>15.3f} {cpu:>14.3f} "
                f"{load:>8.3f} "
                f"{render:>9.3f} {render / steps * 1e6:>15.1f} {size / 1024:>11.0f}"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1_000, 10_000])
