"""Benchmark: Argo render time and compact JSON size for large and deeply nested pipelines.

Prints one line per case: steps, best-of-3 render time (YAML text, as the CLI produces it),
and the compact JSON size of the largest object (the Workflow unless it had to be split);
then the whole ``magnus-render`` process (start-up, load, render, write) for 10,000 linear
steps. Targets (issues 5, 18): 1,000 steps under 0.4 s and 200 KiB; 10,000 steps under 2 s
whole process, every object under 1 MiB. Over Kubernetes' 1 MiB object limit the renderer
moves branches into WorkflowTemplates, and cuts a graph still too big into segments.

Run: python3 bench/render_argo.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


#: stores every pod or task can reach: the cluster targets refuse file-system stores that
#: are not on a declared shared volume
S3_STORES = {
    "run_log_store": {"type": "s3", "config": {"bucket": "bench"}},
    "catalog": {"type": "s3", "config": {"bucket": "bench"}},
}


def chain_pipeline(steps: int) -> str:
    """A linear pipeline of ``steps`` python tasks, as YAML text."""
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


def nested_maps(levels: int = 3, width: int = 3) -> str:
    """``levels`` maps inside each other, each branch with ``width`` tasks before the map."""

    def branch(level: int, pad: str) -> list[str]:
        out = [f"{pad}start_at: t0", f"{pad}steps:"]
        for i in range(width):
            nxt = f"t{i + 1}" if i + 1 < width else ("inner" if level < levels else "success")
            out += [
                f"{pad}  t{i}:",
                f"{pad}    type: task",
                f"{pad}    command: samples.functions.initialize",
                f"{pad}    next: {nxt}",
            ]
        if level < levels:
            out += [
                f"{pad}  inner:",
                f"{pad}    type: map",
                f"{pad}    iterate_on: items{level}",
                f"{pad}    iterate_as: item{level}",
                f"{pad}    next: success",
                f"{pad}    branch:",
                *branch(level + 1, pad + "      "),
            ]
        out += [
            f"{pad}  success:",
            f"{pad}    type: success",
            f"{pad}  fail:",
            f"{pad}    type: fail",
        ]
        return out

    return "\n".join(["dag:", *branch(1, "  ")]) + "\n"


def wide_parallel(branches: int, steps: int) -> str:
    """One parallel step with ``branches`` chains of ``steps`` tasks (splits into templates)."""
    lines = ["dag:", "  start_at: fan", "  steps:", "    fan:", "      type: parallel",
             "      next: success", "      branches:"]  # fmt: skip
    for b in range(branches):
        lines += [f"        b{b}:", "          start_at: s0", "          steps:"]
        for i in range(steps):
            nxt = f"s{i + 1}" if i + 1 < steps else "success"
            lines += [f"            s{i}:", "              type: task",
                      "              command: samples.functions.initialize",
                      f"              next: {nxt}"]  # fmt: skip
        lines += ["            success:", "              type: success",
                  "            fail:", "              type: fail"]  # fmt: skip
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    return "\n".join(lines) + "\n"


def measure(label: str, text: str) -> None:
    from magnus_render.config import MagnusConfig
    from magnus_render.errors import UnsupportedError
    from magnus_render.pipeline import load_pipeline_text
    from magnus_render.renderers.argo import ArgoRenderer, dump_yaml
    from magnus_render.renderers.base import RenderOptions

    pipeline = load_pipeline_text(text, f"{label}.yaml")
    steps = sum(1 for _ in pipeline.graph.walk())
    options = RenderOptions(f"{label}.yaml", image="magnus:bench")
    refused = ""
    # stores every pod can reach (file-system ones off a shared volume are refused)
    config = MagnusConfig.model_validate(S3_STORES)
    try:
        ArgoRenderer(pipeline, config, options).documents()
    except UnsupportedError:
        refused = "  (one graph over 1 MiB: refused with a clear error; timed: build + YAML)"
    best = float("inf")
    note = refused
    for _ in range(3):
        renderer = ArgoRenderer(pipeline, config, options)
        start = time.perf_counter()
        docs = [renderer.build()] if refused else renderer.documents()
        dump_yaml(docs)
        best = min(best, time.perf_counter() - start)
        if len(docs) > 1:
            note = f"  (split: {len(docs) - 1} WorkflowTemplates + the Workflow)"
    size = max(len(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()) for d in docs)
    figures = f"render {best:6.3f} s  largest object {size / 1024:7.1f} KiB"
    print(f"{label:>16}: {steps:6d} nodes  {figures}{note}")


def whole_process(steps: int) -> None:
    """Best of 3 wall times of ``magnus-render --target argo`` in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, f"chain-{steps}.yaml")
        source.write_text(chain_pipeline(steps), encoding="utf-8")
        out = Path(tmp, "wf.yaml")
        config = Path(tmp, "s3.yaml")
        config.write_text(json.dumps(S3_STORES), encoding="utf-8")
        code = "from magnus_render.cli import render_main; render_main()"
        argv = [sys.executable, "-c", code, "--target", "argo", str(source),
                "--image", "magnus:bench", "-c", str(config), "-o", str(out)]  # fmt: skip
        best, cpu = float("inf"), float("inf")
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            best = min(best, time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu = min(cpu, used)
        objects = out.read_text(encoding="utf-8").count("\nkind: ")
    figures = f"whole magnus-render {best:6.3f} s (CPU {cpu:.3f} s), {objects} objects"
    print(f"{'process':>16}: {steps:6d} steps  {figures}")


def main() -> None:
    for n in (100, 1000, 10000):
        measure(f"chain-{n}", chain_pipeline(n))
    measure("nested-map-3", nested_maps(3))
    measure("parallel-16x500", wide_parallel(16, 500))
    whole_process(10000)


if __name__ == "__main__":
    main()
